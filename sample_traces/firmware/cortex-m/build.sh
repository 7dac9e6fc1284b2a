#!/bin/sh
# Builds the Cortex-M3 sample firmware with Debian's gcc-arm-none-eabi (freestanding, no libc).
# Run from anywhere: sh sample_traces/firmware/cortex-m/build.sh [OUTPUT.elf]
set -eu
cd "$(dirname "$0")"
out="${1:-fw.elf}"
arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -g -O1 -ffreestanding -nostdlib \
    -fno-tree-loop-distribute-patterns -fdebug-prefix-map="$(pwd)=." \
    -Wall -Wextra -Werror -T lm3s.ld -o "$out" fw.c
# The sample recording (needs ttdbg on PATH).
if [ "$out" = fw.elf ] && command -v ttdbg >/dev/null; then
    sh ../record.sh cortex-m
fi
