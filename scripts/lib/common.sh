# scripts/lib/common.sh - shared by scripts/check and scripts/demo.
#
# ensure_packages PKG...: install the Debian packages that are missing
# (apt-get update first, once). Needs root when something is missing.
# build: autoreconf, configure and make into _build/ (out of tree).
# build_source: the source tree an out-of-tree build configures from.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$TOP/_build"

say() { printf '== %s\n' "$*"; }

ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	say "installing ${missing[*]}"
	if [ -z "${ZCSHIM_APT_UPDATED:-}" ]; then
		apt-get update -qq >/dev/null
		export ZCSHIM_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

BUILD_PACKAGES=(gcc make autoconf automake libtool pkg-config libc6-dev linux-libc-dev
	check libjemalloc-dev)

# autoconf refuses to configure a build directory from a source tree that
# is configured in place (the README's `./configure && make`): then the
# distribution's files, copied afresh by that tree's own `make distdir`,
# stand in for it, so every build path works after any other. Prints the
# directory to configure from.
build_source() {
	if [ ! -f "$TOP/config.status" ]; then
		echo "$TOP"
		return 0
	fi
	rm -rf "$TOP/_build-src"
	make -s -C "$TOP" distdir distdir="$TOP/_build-src" >/dev/null 2>&1 ||
		{ echo "make distdir in the configured source tree $TOP failed" >&2; return 1; }
	echo "$TOP/_build-src"
}

build() {
	local src
	say "building into $BUILD"
	(cd "$TOP" && autoreconf -fi >/dev/null 2>&1) || { echo "autoreconf failed" >&2; exit 1; }
	src=$(build_source) || exit 1
	mkdir -p "$BUILD"
	cd "$BUILD"
	# Configured from another tree before (in place, or not): start over.
	if [ -f Makefile ] && [ "$(cat .zcshim-source 2>/dev/null)" != "$src" ]; then
		make -s distclean >/dev/null 2>&1 || rm -rf "$BUILD"/*
	fi
	if [ ! -f Makefile ] || [ "$src/configure" -nt Makefile ]; then
		"$src/configure" -q || { echo "configure failed: see $BUILD/config.log" >&2; exit 1; }
		echo "$src" > .zcshim-source
	fi
	make -s -j"$(nproc)" >/dev/null || make -j1
	make -s -j"$(nproc)" check TESTS= >/dev/null   # build the test programs too
}
