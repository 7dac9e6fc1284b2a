#!/bin/sh
# Builds the sample programs (static, for x86-64) and records each with ttdbg.
# Run from the project root: sh sample_traces/build.sh   (needs gcc, musl-gcc,
# gcc-aarch64-linux-gnu, gcc-riscv64-linux-gnu and ttdbg on PATH)
set -eu
cd "$(dirname "$0")"
CFLAGS="-g -O1 -fno-omit-frame-pointer -fdebug-prefix-map=$(pwd)=."
for p in hello compute inputs overrun abort syscalls walk spin signals fpsignal restart; do
    gcc $CFLAGS -fno-toplevel-reorder -static -o bin/$p src/$p.c
done
gcc $CFLAGS -static-pie -fPIE -o bin/hello-pie src/hello.c
musl-gcc $CFLAGS -static -o bin/hello-musl src/hello.c
gcc -O1 -static -nostdlib -fno-stack-protector -o bin/tiny src/tiny.c
gcc -O1 -static -nostdlib -fno-stack-protector -o bin/trap src/trap.c

# Record with a small fixed environment: a recording carries the guest's environment.
TTDBG="$(command -v ttdbg)"
rec() { env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$TTDBG" record "$@"; }
rec -o hello.ttrec -- bin/hello one two
rec -o compute.ttrec -- bin/compute
echo "a line from stdin" | rec -o inputs.ttrec -- bin/inputs greeting.txt
rec -o overrun.ttrec -- bin/overrun || true
rec -o walk.ttrec --snapshot-every 2000 -- bin/walk

# The same samples for AArch64 and RISC-V 64 (Debian's cross compilers), with recordings.
for arch in aarch64 riscv64; do
    cc="$arch-linux-gnu-gcc"
    mkdir -p "bin/$arch" "$arch"
    for p in hello compute inputs overrun walk syscalls signals fpsignal restart; do
        $cc $CFLAGS -fno-toplevel-reorder -static -o "bin/$arch/$p" "src/$p.c"
    done
    rec -o "$arch/hello.ttrec" -- "bin/$arch/hello" one two
    rec -o "$arch/compute.ttrec" -- "bin/$arch/compute"
    echo "a line from stdin" | rec -o "$arch/inputs.ttrec" -- "bin/$arch/inputs" greeting.txt
    rec -o "$arch/overrun.ttrec" -- "bin/$arch/overrun" || true
    rec -o "$arch/walk.ttrec" --snapshot-every 2000 -- "bin/$arch/walk"
done
