# scripts/lib/common.sh - shared by scripts/check and scripts/demo.
#
# ensure_packages PKG...: install the Debian packages that are missing
# (apt-get update first, once). Needs root when something is missing.
# build: autoreconf, configure and make into _build/ (out of tree).

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

build() {
	say "building into $BUILD"
	(cd "$TOP" && autoreconf -fi >/dev/null 2>&1) || { echo "autoreconf failed" >&2; exit 1; }
	mkdir -p "$BUILD"
	cd "$BUILD"
	if [ ! -f Makefile ] || [ "$TOP/configure" -nt Makefile ]; then
		../configure -q || { echo "configure failed: see $BUILD/config.log" >&2; exit 1; }
	fi
	make -s -j"$(nproc)" >/dev/null || make -j1
	make -s -j"$(nproc)" check TESTS= >/dev/null   # build the test programs too
}
