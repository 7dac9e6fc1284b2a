#!/bin/sh
# Build the Lua 5.4 interpreter statically from Debian's source package (its patches applied),
# cached by version under ~/.cache/ttdbg-tests/lua-VERSION/lua. Prints the binary's path.
# Needs deb-src (see .ci/run).
set -eu
cache="${TTDBG_TEST_CACHE:-$HOME/.cache/ttdbg-tests}"
version="$(apt-cache showsrc lua5.4 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)"
if [ -z "$version" ]; then
    echo "no source package for lua5.4: enable deb-src (see .ci/run)" >&2
    exit 1
fi
out="$cache/lua-$version"
if [ -x "$out/lua" ]; then
    echo "$out/lua"
    exit 0
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/.lua-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -qq --download-only "lua5.4=$version" >/dev/null 2>&1
dpkg-source -x --no-check ./lua5.4_*.dsc src >/dev/null
cd src/src
# debian/rules writes this header (module paths per multiarch triplet) before building.
printf '#define DEB_HOST_MULTIARCH "%s"\n' "$(gcc -dumpmachine)" > lua5.4-deb-multiarch.h
nice gcc -O2 -static -std=gnu99 -DLUA_USE_POSIX -w -o lua $(ls *.c | grep -v '^luac\.c$') -lm
mkdir -p "$out"
mv lua "$out/lua.tmp"
mv "$out/lua.tmp" "$out/lua"
echo "$out/lua"
