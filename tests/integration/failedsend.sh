# A zerocopy send that fails after the kernel numbered it (a UDP datagram
# dropped by the firewall: EPERM, with a completion all the same) must not
# shift the shim's count of ids: the next datagram's pages stay guarded
# until its own completion. In a private namespace: nftables drops UDP to
# port 9, and a slow token bucket on loopback holds the datagram sent after
# a filler long enough for the program to rewrite its buffer (failedsend.c).
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root for a private network namespace"
for c in ip tc nft unshare; do
	command -v $c >/dev/null || skip "needs $c (iproute2, nftables, util-linux)"
done

# netns [VAR=VALUE...] -- MODE: failedsend MODE in the namespace, under the
# shim. Sets rc.
netns() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: > "$STATS"
	env "${envs[@]}" timeout 60 unshare -n sh -c '
		ip link set lo up &&
		tc qdisc add dev lo root tbf rate 128kbit burst 70000 latency 10s &&
		nft -f - <<-NFT || exit 2
			table inet failedsend {
				chain out { type filter hook output priority 0; udp dport 9 drop; }
			}
		NFT
		lib=$1 stats=$2 prog=$3; shift 3
		exec env LD_PRELOAD="$lib" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_ADAPT=0 \
			ZCSHIM_STATS_FILE="$stats" ${ITEST_WRAP:-} "$prog" "$@"
	' sh "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/failedsend" "$@"
	rc=$?
}

# Zerocopy without the guard: the rewrite reaches the wire, so the qdisc
# really holds the datagram in the program's pages.
if ! wrapped; then
	netns ZCSHIM_TEST_NO_GUARD=1 -- nofail
	[ $rc -eq 1 ] || fail "without the guard the rewritten datagram arrived intact (exit $rc): the qdisc does not hold it, the test proves nothing"
fi

for mode in nofail sendto sendmmsg gso unknown toolarge; do
	netns -- $mode
	case $rc in
	0) ;;
	77) log "SKIP $mode: $(tail -n 1 "$STATS")"; continue ;;
	*) fail "$mode: exit $rc (1: the datagram after a failed send was changed on the wire)"; continue ;;
	esac
	need zc_sends "$mode"
	if [ $mode = unknown ]; then
		want sockets_id_unknown 1 "unknown: a failed call that may have taken an id"
		want failed_ids_taken 0 "unknown: ENETUNREACH leaves no completion"
		need copy_sends "unknown: B goes out copied on a socket whose ids are unknown"
		need cow_pages "unknown: the failed call's pages stay guarded (the write gets a private copy)"
		log "ok: unknown: zerocopy stopped on the socket ($(num copy_sends) copied), $(num cow_pages) pages copied on write"
		continue
	fi
	if [ $mode = toolarge ]; then
		# EMSGSIZE takes no id: sent again as a copy, which says
		# EMSGSIZE too; the socket keeps zerocopy, B is guarded.
		want sockets_id_unknown 0 "toolarge: EMSGSIZE is known to take no id"
		want copy_frags 1 "toolarge: the refused call sent again as a copy"
		need guard_faults "toolarge: the rewrite of B in flight"
		log "ok: toolarge: EMSGSIZE as without the shim, zerocopy kept ($(num zc_sends) sends)"
		continue
	fi
	need guard_faults "$mode: the rewrite of the datagram in flight"
	if [ $mode != nofail ]; then
		need failed_ids_taken "$mode: the failed call's id seen in its completion"
	fi
	log "ok: $mode: $(num zc_sends) zerocopy sends, $(num failed_ids_taken) failed calls that took an id, $(num guard_faults) guard faults"
done
finish
