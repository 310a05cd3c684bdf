# ENOBUFS from zerocopy's own limits never reaches the program: the shim
# reaps, retries, then copies (counted in enobufs_fallbacks).
#  1. the user's locked-page budget: a non-root child with a 512 KiB
#     RLIMIT_MEMLOCK (ZCSHIM_MAX_INFLIGHT lifts the shim's own, lower cap
#     so that the kernel is the one that refuses);
#  2. the socket's option memory: net.core.optmem_max = 256 bytes inside a
#     private network namespace.
# The program (overwrite) exits 2 if any send fails.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (a child as another user, a private network namespace)"
command -v setpriv >/dev/null && command -v prlimit >/dev/null || skip "needs setpriv and prlimit (util-linux)"

# The unprivileged child must reach the program, the library and the stats
# file wherever the build tree is: give it copies in a directory of its own.
RUN=$(mktemp -d /tmp/zcshim-enobufs.XXXXXX)
trap 'rm -rf "$RUN" "$STATS"' EXIT
cp "$ITEST_BIN/overwrite" "$ZCSHIM_LIB" "$RUN/" && chmod 755 "$RUN"/* && chmod 1777 "$RUN" ||
	fail "cannot prepare $RUN"

# The mprotect guard under both runs of the suite: this is a test of
# ENOBUFS, and under the userfaultfd guard without kernel-fault rights (as
# nobody) a write to an in-flight page waits for its completion instead of
# taking a copy, so the kernel's locked-page budget is never reached.
as_nobody() { # as_nobody [ENV=VALUE...]: overwrite send, as nobody, 512K memlock
	rm -f "$RUN/stats"   # the child creates it: the shim writes only its own file
	timeout 120 prlimit --memlock=524288:524288 \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		env LD_PRELOAD="$RUN/${ZCSHIM_LIB##*/}" ZCSHIM_GUARD=mprotect ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_ADAPT=0 \
		ZCSHIM_MAX_INFLIGHT=64M ZCSHIM_STATS_FILE="$RUN/stats" "$@" ${ITEST_WRAP:-} "$RUN/overwrite" send
	rc=$?
	cp "$RUN/stats" "$STATS" 2>/dev/null || : > "$STATS"
	return $rc
}

before=$failures
as_nobody
rc=$?
[ $rc -eq 0 ] || fail "RLIMIT_MEMLOCK 512K: overwrite exited $rc (want 0)"
need enobufs_fallbacks "RLIMIT_MEMLOCK 512K"
need copy_enobufs "RLIMIT_MEMLOCK 512K: the copies after ENOBUFS, by reason"
reasons_add_up "RLIMIT_MEMLOCK 512K"
need zc_sends "RLIMIT_MEMLOCK 512K"
[ $failures -eq $before ] &&
	log "ok: locked-page budget: $(num enobufs_fallbacks) ENOBUFS copied instead, $(num zc_sends) zerocopy sends, bytes intact"

as_nobody ZCSHIM_TEST_NO_GUARD=1 2>/dev/null
rc=$?
[ $rc -eq 1 ] || fail "RLIMIT_MEMLOCK 512K, guard off: exited $rc (want 1: corruption seen)"

command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs ip (iproute2) and unshare"
: > "$STATS"
timeout 120 unshare -n sh -c '
	ip link set lo up && sysctl -qw net.core.optmem_max=256 &&
	exec env LD_PRELOAD="$1" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_ADAPT=0 ZCSHIM_STATS_FILE="$2" ${ITEST_WRAP:-} "$3" send
' sh "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/overwrite"
rc=$?
before=$failures
[ $rc -eq 0 ] || fail "optmem_max 256: overwrite exited $rc (want 0)"
need enobufs_fallbacks "optmem_max 256 in a private netns"
reasons_add_up "optmem_max 256"
[ $failures -eq $before ] && log "ok: option memory: $(num enobufs_fallbacks) ENOBUFS copied instead, bytes intact"
finish
