# lib.sh - sourced by the system tests: real servers under the shim.
#
# The servers run as this test's own processes on loopback ports picked
# here, with ZCSHIM_LOCAL=force and a low threshold so the guard works on
# loopback, and are stopped when the test ends.
set -u
: "${ZCSHIM_LIB:?set by make check}" "${ITEST_SRC:?set by make check}"
ITEST_RELEASE=1   # real servers run the release library
. "$ITEST_SRC/lib.sh" || exit 99
SYS_SRC=$(cd "$ITEST_SRC/../system" && pwd)
WORK=$(mktemp -d /tmp/zcshim-system.XXXXXX)
chmod 1777 "$WORK"   # server workers run as another user and write here
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK" "$STATS"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# shim_env: the environment every server gets. With SYSTEM_JEMALLOC=1,
# jemalloc is preloaded after the shim as the server's allocator, as
# `zcshim --jemalloc` does.
PRELOAD="$ZCSHIM_LIB"
if [ "${SYSTEM_JEMALLOC:-0}" = 1 ]; then
	[ -n "$JEMALLOC" ] || { fail "libjemalloc.so.2 not found (Debian package libjemalloc2)"; exit 1; }
	PRELOAD="$ZCSHIM_LIB $JEMALLOC"
	T="$T (jemalloc)"
fi
SHIM_ENV=(LD_PRELOAD="$PRELOAD" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=16K
	ZCSHIM_STATS_FILE="$WORK/zc.%p.json")

# uses_jemalloc PID: the process really has jemalloc mapped.
uses_jemalloc() { grep -q libjemalloc "/proc/$1/maps" 2>/dev/null; }

# stats_of PID KEY: KEY from the last stats line of process PID.
stats_of() {
	tail -n 1 "$WORK/zc.$1.json" 2>/dev/null | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}

stat0() { v=$(stats_of "$1" "$2"); echo "${v:-0}"; }

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
