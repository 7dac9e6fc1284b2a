#!/bin/sh
# Builds fw.elf with Debian's gcc-riscv64-linux-gnu, freestanding (no C library), then the
# sample recording.
set -e
cd "$(dirname "$0")"
riscv64-linux-gnu-gcc -march=rv64imac_zicsr -mabi=lp64 -mcmodel=medany -O1 -g \
    -ffreestanding -fno-pic -fno-stack-protector -nostdlib -nostartfiles -static \
    -Wl,--build-id=none -T link.ld -o fw.elf start.S fw.c
if command -v ttdbg >/dev/null; then
    sh ../record.sh riscv-virt
fi
