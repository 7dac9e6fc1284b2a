#!/bin/sh
# Build the Lua 5.4 interpreter statically from Debian's source package (its patches applied),
# cached by version under ~/.cache/ttdbg-tests/lua-VERSION/lua. Prints the binary's path.
set -eu
pkg=lua5.4 name=lua binary=lua
. "$(dirname "$0")/debian-source.sh"
cd src
# debian/rules writes this header (module paths per multiarch triplet) before building.
printf '#define DEB_HOST_MULTIARCH "%s"\n' "$(gcc -dumpmachine)" > lua5.4-deb-multiarch.h
nice gcc -O2 -static -std=gnu99 -DLUA_USE_POSIX -w -o lua $(ls *.c | grep -v '^luac\.c$') -lm
publish lua
