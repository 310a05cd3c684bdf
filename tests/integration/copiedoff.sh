# A socket whose zerocopy completions keep coming back COPIED (here: UDP
# over a veth pair into another network namespace, where the kernel copies
# at delivery) stops asking for zerocopy after ZCSHIM_COPIED_LIMIT of them,
# as the kernel's documentation advises. Both namespaces are created here.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "needs ip (iproute2)"
A=zcshimA$$ B=zcshimB$$
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -f "$STATS"; }
trap cleanup EXIT
ip netns add "$A" && ip netns add "$B" &&
	ip -n "$A" link add va type veth peer name vb netns "$B" &&
	ip -n "$A" addr add 10.77.0.1/30 dev va && ip -n "$B" addr add 10.77.0.2/30 dev vb &&
	ip -n "$A" link set va up && ip -n "$B" link set vb up && ip -n "$A" link set lo up ||
	skip "cannot create the test namespaces"
: > "$STATS"
timeout 120 ip netns exec "$A" env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_THRESHOLD=4096 \
	ZCSHIM_COPIED_LIMIT=16 ZCSHIM_STATS_FILE="$STATS" ${ITEST_WRAP:-} "$ITEST_BIN/udpsink" 400 10.77.0.2
rc=$?
[ $rc -eq 0 ] || fail "udpsink to the other namespace exited $rc"
want sockets_zc_off 1 "COPIED completions past ZCSHIM_COPIED_LIMIT"
need completions_copied "a peer behind veth (deferred copy)"
need copy_sends "sends after zerocopy was turned off"
need copy_socket_off "sends after zerocopy was turned off, by reason"
reasons_add_up "COPIED completions"
z=$(num zc_sends)
[ "$z" -lt 100 ] || fail "$z zerocopy sends: the socket did not stop after 16 copied completions"
log "ok: zerocopy stopped after $(num completions_copied) copied completions ($z zerocopy, $(num copy_sends) copied sends)"
finish
