#!/bin/sh
# Builds fw.elf with Debian's gcc-aarch64-linux-gnu, freestanding (no C library, no FP/SIMD:
# the CPU starts with CPACR_EL1.FPEN clear, as on QEMU), then the sample recording.
set -eu
cd "$(dirname "$0")"
aarch64-linux-gnu-gcc -mcpu=cortex-a72 -mgeneral-regs-only -O1 -g \
    -ffreestanding -fno-pic -fno-stack-protector -nostdlib -nostartfiles -static \
    -fno-tree-loop-distribute-patterns -fdebug-prefix-map="$(pwd)=." \
    -Wall -Wextra -Werror -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T link.ld -o fw.elf start.S fw.c
if command -v ttdbg >/dev/null; then
    sh ../record.sh aarch64-virt
fi
