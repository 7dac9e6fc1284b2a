# Sourced by the build-*.sh scripts, with $pkg (a Debian source package), $name and $binary set:
# when $binary is cached for apt's newest version of $pkg, print its path and exit; otherwise
# unpack the source (Debian's patches applied) and cd into it, in a scratch directory removed
# on exit. `publish FILE` then moves the built FILE into the cache and prints its path.
# Needs deb-src (see .ci/run).
cache="${TTDBG_TEST_CACHE:-$HOME/.cache/ttdbg-tests}"
version="$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)"
if [ -z "$version" ]; then
    echo "no source package for $pkg: enable deb-src (see .ci/run)" >&2
    exit 1
fi
out="$cache/$name-$version"
if [ -x "$out/$binary" ]; then
    echo "$out/$binary"
    exit 0
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/.$name-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -qq --download-only "$pkg=$version" >/dev/null 2>&1
dpkg-source -x --no-check ./"${pkg}"_*.dsc src >/dev/null
cd src

publish() {
    mkdir -p "$out"
    mv "$1" "$out/$binary.tmp"
    mv "$out/$binary.tmp" "$out/$binary"
    echo "$out/$binary"
}
