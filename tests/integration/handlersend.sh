# The first large send from inside a signal handler, before the
# userfaultfd guard's threads exist: copied (no thread is started in a
# handler), the next ones outside go out with zerocopy. UDP loopback in a
# private network namespace, see handlersend.c.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root for a private network namespace"
command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs ip (iproute2) and unshare"

: > "$STATS"
timeout 60 unshare -n sh -c '
	ip link set lo up || exit 2
	exec env LD_PRELOAD="$1" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=16384 ZCSHIM_ADAPT=0 \
		ZCSHIM_STATS_FILE="$2" ${ITEST_WRAP:-} "$3"
' sh "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/handlersend"
rc=$?
[ $rc = 0 ] || fail "handlersend exited $rc (want 0: every datagram intact)"
if [ $rc = 0 ] && ! wrapped; then
	need zc_sends "handlersend: the sends after the handler"
	if [ "$ITEST_GUARD" = mprotect ]; then
		log "ok: the mprotect guard starts no thread: $(num zc_sends) zerocopy sends"
	else
		before=$failures
		want copy_guard_refused 1 "handlersend: the send in the handler, before the guard's threads exist"
		[ "$(num zc_sends)" -ge 3 ] || fail "handlersend: $(num zc_sends) zerocopy sends after the handler, want 3"
		reasons_add_up handlersend
		[ $failures = $before ] && log "ok: the send in the handler copied, $(num zc_sends) zerocopy sends after it"
	fi
fi
finish
