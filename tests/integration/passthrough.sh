# Pipes, files, unix sockets and (by default) local TCP peers pass through.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
shim "$ITEST_BIN/passthrough" fds || fail "passthrough fds: data changed"
z=$(stat zc_sends); [ "${z:-x}" = 0 ] || fail "pipe/file/unix socket went out with zerocopy (zc_sends=$z)"
log "ok: pipes, files and unix sockets untouched"

# Local peer, ZCSHIM_LOCAL left at its default (skip).
: > "$STATS"
timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_THRESHOLD=4096 ZCSHIM_STATS_FILE="$STATS" \
	${ITEST_WRAP:-} "$ITEST_BIN/passthrough" local || fail "passthrough local: data changed"
z=$(stat zc_sends); c=$(stat copy_sends)
[ "${z:-x}" = 0 ] || fail "a loopback peer got zerocopy without ZCSHIM_LOCAL=force (zc_sends=$z)"
[ "${c:-0}" -gt 0 ] || fail "large loopback sends not counted as copied (copy_sends=${c:-missing})"
[ "$(num copy_local_peer)" = "${c:-0}" ] || fail "loopback sends copied: copy_local_peer=$(num copy_local_peer), copy_sends=${c:-missing} (want them all under that reason)"
log "ok: loopback peers pass through by default ($c large sends copied)"

# Disabled: nothing interposed does anything, not even the stats handler.
timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_DISABLE=1 ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
	"$ITEST_BIN/passthrough" fds 2>/dev/null
rc=$?
# With the shim disabled, the program's SIGUSR1 (its stats request) takes
# the default action: the process dies of SIGUSR1 (exit 138).
[ $rc -eq 138 ] || fail "ZCSHIM_DISABLE=1: want death by SIGUSR1 (138), got $rc"
log "ok: ZCSHIM_DISABLE=1 passes everything through"
finish
