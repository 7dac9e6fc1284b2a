#!/bin/sh
# Records the firmware samples from their prebuilt fw.elf, each with a little serial input
# (needs ttdbg on PATH): sh sample_traces/firmware/record.sh [riscv-virt|aarch64-virt|cortex-m]...
# (all three by default; `make firmware-samples` runs it, each build.sh after building).
set -eu
cd "$(dirname "$0")"
for board in "${@:-riscv-virt aarch64-virt cortex-m}"; do
    for b in $board; do
        case "$b" in
        riscv-virt) machine=virt input='hello\nquit\n' ;;
        aarch64-virt) machine=virt input='hello\nsum\nquit\n' ;;
        cortex-m) machine=lm3s6965evb input='hello\nq' ;;
        *) echo "record.sh: no firmware sample $b" >&2; exit 2 ;;
        esac
        # shellcheck disable=SC2059  # the input is a printf format on purpose
        printf "$input" | ttdbg record --machine "$machine" -o "$b/fw.ttrec" "$b/fw.elf" >/dev/null
    done
done
