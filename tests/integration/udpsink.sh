# UDP to a dropping sink in a private network namespace: the kernel's real
# zerocopy path (no deferred copy), so completions arrive without COPIED
# and the guard releases pages for real, round after round.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root for a private network namespace"
command -v ip >/dev/null && command -v tc >/dev/null && command -v unshare >/dev/null ||
	skip "needs ip and tc (iproute2) and unshare"

# sink [VAR=VALUE...] -- ARGS...: udpsink ARGS under the shim, in a private
# namespace whose loopback drops every packet at the qdisc; its stats line
# goes to $STATS (emptied first). Sets rc.
sink() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: > "$STATS"
	env "${envs[@]}" timeout 120 unshare -n sh -c '
		ip link set lo up && tc qdisc add dev lo root pfifo limit 0 || exit 2
		lib=$1 stats=$2 prog=$3; shift 3
		exec env LD_PRELOAD="$lib" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
			ZCSHIM_STATS_FILE="$stats" ${ITEST_WRAP:-} "$prog" "$@"
	' sh "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/udpsink" "$@"
	rc=$?
}

sink ZCSHIM_ADAPT=0 -- 4000
[ $rc -eq 0 ] || fail "udpsink exited $rc (want 0)"
z=$(num zc_sends); c=$(num completions)
[ "$z" -ge 3900 ] || fail "only $z of 4000 datagrams went out with zerocopy"
[ "$c" -ge $((z - 64)) ] || fail "only $c of $z zerocopy calls completed"
want completions_copied 0 "a sink in a private namespace (true zerocopy)"
want sockets_zc_off 0 "a socket whose data is not copied"
log "ok: $z zerocopy datagrams, $c completions, none copied, $(num guard_faults) guard faults, $(num cow_pages) pages copied"

# By default (ZCSHIM_ADAPT=1) buffers rewritten between sends, as udpsink
# does, are copied after their first rewrite: guarding them would cost more.
sink -- 4000
[ $rc -eq 0 ] || fail "udpsink (adaptive) exited $rc"
h=$(num hot_copies); z=$(num zc_sends)
[ "$h" -ge 3500 ] || fail "rewritten buffers: only $h of 4000 sends copied (hot_copies)"
[ "$(num copy_rewritten)" = "$h" ] || fail "rewritten buffers: copy_rewritten=$(num copy_rewritten), hot_copies=$h"
reasons_add_up "rewritten buffers"
[ "$z" -ge 16 ] || fail "rewritten buffers: $z zerocopy sends, want one early send of each buffer, and probes"
log "ok: adaptive: $h rewritten-buffer sends copied, $z zerocopy (an early send of each buffer, and probes)"

# A content cache of 2000 buffers, sent three times round robin: the third
# round reuses the protection kept from the second completion on (the idle
# set), so 3 x 2000 protections, not 4 x 2000. The second round protects
# each buffer's last page (where its 60000 bytes end, not page-aligned) in
# the same call as its whole pages, to be sent in place from then on
# (edge_sends) instead of copied. Each buffer's first write then faults
# once and finds it writable, its last page with it.
# Edges are guarded only where kernel writes into them wait (the
# userfaultfd guard with kernel faults): elsewhere each buffer's last page
# is copied as before.
if [ "$ITEST_GUARD" != uffd ]; then
	emin=0 imin=1900
else
	emin=3990 imin=3900
fi
pmax=6100 pa=1950 pb=2050
sink ZCSHIM_ADAPT=0 -- cache 2000
[ $rc -eq 0 ] || fail "udpsink cache exited $rc"
z=$(num zc_sends) p=$(num guard_protects) f=$(num guard_faults)
i=$(head -n 1 "$STATS" | sed -n 's/.*"idle_ranges":\([0-9]*\).*/\1/p')
e=$(head -n 1 "$STATS" | sed -n 's/.*"edge_sends":\([0-9]*\).*/\1/p')
[ "$z" -ge 8000 ] || fail "cache: $z of 8001 sends went out with zerocopy"
[ "$p" -le $pmax ] || fail "cache: $p protections for 4 rounds of 2000 buffers (want at most $pmax: the third round reuses them)"
[ "${e:-0}" -ge $emin ] || fail "cache: edge_sends=${e:-missing} after three rounds (want at least $emin: rounds two and three with each buffer's last page in place)"
[ "$f" -ge 2000 ] && [ "$f" -le 2100 ] || fail "cache: $f guard faults for 2000 first writes to read-only buffers (want 2000: the last page is made writable with the rest)"
# After the third round every buffer is idle (the stats show it): its
# whole pages and its last page.
[ "${i:-0}" -ge $imin ] || fail "cache: idle_ranges=${i:-missing} after three rounds of 2000 buffers (want at least $imin)"
log "ok: cache: $z zerocopy sends, $p protections, $e with the last page in place, $f faults on first writes, $i idle ranges"

# The same cache with the defaults: a send whose protection would be paid
# for that send alone (each buffer's first) is copied when the cost model
# measured at start finds a guard cycle of its 14 pages dearer than the
# copy (every machine of this project: guard_once_min_pages=0, never); the
# second round protects each buffer once (its last page with it) and keeps
# it, the third costs nothing. Where the model finds one cycle cheaper, the first round is
# guarded as before.
sink -- cache 2000
before=$failures
[ $rc -eq 0 ] || fail "udpsink cache (adaptive) exited $rc"
first() { head -n 1 "$STATS" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
m=$(first guard_once_min_pages) u=$(first unkept_copies) z=$(first zc_sends) p=$(first guard_protects)
i=$(first idle_ranges)
[ -n "$m" ] && [ "$(first cost_pair_ns)" -gt 0 ] ||
	fail "cache (adaptive): no cost model in the stats: $(head -n 1 "$STATS")"
if [ "${m:-0}" = 0 ] || [ "$m" -gt 14 ]; then
	[ "${u:-0}" -ge 1990 ] && [ "${u:-0}" -le 2000 ] ||
		fail "cache (adaptive): unkept_copies=${u:-missing} (want the 2000 first sends copied)"
	[ "${z:-0}" -ge 4000 ] || fail "cache (adaptive): $z zerocopy sends (want rounds 2 and 3: 4001)"
	[ "${p:-99999}" -le $pb ] && [ "${p:-0}" -ge $pa ] ||
		fail "cache (adaptive): $p protections (want $pa to $pb: once per buffer, its last page in the same call, none for copied sends)"
	# The kept pages are really read-only: each buffer's first write faults.
	[ "$(num guard_faults)" -ge 2000 ] ||
		fail "cache (adaptive): $(num guard_faults) guard faults for 2000 first writes to kept buffers"
	[ "${i:-0}" -ge $imin ] || fail "cache (adaptive): idle_ranges=${i:-missing} (want at least $imin: each buffer's pages and its last page)"
	[ $failures -eq $before ] &&
		log "ok: cache (adaptive): $u first sends copied (a guard cycle costs more, min pages ${m}), $z zerocopy, $p protections"
else
	[ "${u:-1}" = 0 ] && [ "${z:-0}" -ge 6000 ] ||
		fail "cache (adaptive): guard_once_min_pages=$m <= 14 but unkept_copies=$u, zc_sends=$z"
	[ $failures -eq $before ] &&
		log "ok: cache (adaptive): one guard cycle pays from $m pages here: every send zerocopy"
fi

# Buffers a power of two of pages apart (1 MiB here: how an allocator's
# size classes place large blocks) are told apart by the shim's tables as
# well as any others. The cache: 1000 buffers, three rounds; each is
# copied once at most (its first send), then kept. Tables indexed by the
# low bits of the page number would see 256 slots here and forget most
# buffers between two of their sends: every round copied again.
sink -- cache 1000 256
before=$failures
[ $rc -eq 0 ] || fail "udpsink cache 1000 256 exited $rc"
u=$(first unkept_copies) z=$(first zc_sends) i=$(first idle_ranges)
reasons_add_up "cache of buffers 1 MiB apart"
[ "$(num copy_cost_model)" = "$(num unkept_copies)" ] ||
	fail "cache of buffers 1 MiB apart: copy_cost_model=$(num copy_cost_model), unkept_copies=$(num unkept_copies)"
[ "${u:-9999}" -le 1010 ] ||
	fail "cache of buffers 1 MiB apart: unkept_copies=${u:-missing} in 3 rounds of 1000 (want at most their 1000 first sends): buffers forgotten between sends"
[ "${z:-0}" -ge 2000 ] || fail "cache of buffers 1 MiB apart: $z zerocopy sends (want rounds 2 and 3: 2001)"
[ "${i:-0}" -ge 950 ] || fail "cache of buffers 1 MiB apart: idle_ranges=${i:-missing} after three rounds (want about 1000)"
[ $failures -eq $before ] &&
	log "ok: cache of buffers 1 MiB apart: $u first sends copied, $z zerocopy, $i kept"
# Rewritten buffers 1 MiB apart: 16 of them, round robin, each rewritten
# before its send. All are known as rewritten and copied (a buffer the
# table forgot would be guarded again, and its rewrite fault).
sink -- rewrite 16 256 4000
before=$failures
[ $rc -eq 0 ] || fail "udpsink rewrite 16 256 exited $rc"
h=$(num hot_copies)
[ "$h" -ge 3500 ] ||
	fail "rewritten buffers 1 MiB apart: only $h of 4000 sends copied (hot_copies; want all but each buffer's first sends and probes): buffers forgotten as rewritten"
[ $failures -eq $before ] &&
	log "ok: rewritten buffers 1 MiB apart: $h of 4000 sends copied, $(num guard_faults) rewrites faulted"

# ZCSHIM_ADAPT: a buffer rewritten before each of 5000 sends is copied, with
# zerocopy probes ever rarer (64, 128, ... up to 1024 sends apart: 7 probes,
# not 78); sent 5000 more times unchanged, it goes back to zerocopy at the
# next probe, within 1024 sends. adapt_case ARGS... runs it and checks that;
# sets P (probes made) and K (probes skipped) from the first stats line.
adapt_case() {
	local what="adapt${*:+ $*}" z1 z2 skip=UDPSINK_NO_UNMAPPED=0
	# Not under valgrind: it reports the shim's deliberate reads of the
	# unmapped buffer (under its fault probe) as errors.
	wrapped && skip=UDPSINK_NO_UNMAPPED=1
	sink ZCSHIM_STALL_US=2000000 "$skip" -- adapt 5000 "$@"
	[ $rc -eq 0 ] || fail "$what: udpsink exited $rc"
	F=$(first guard_faults) W=$(first guard_stall_ns) P=$(first hot_probes) K=$(first hot_probes_skipped)
	z1=$(first zc_sends) z2=$(num zc_sends)
	[ $(( ${P:-0} + ${K:-0} )) -ge 5 ] && [ $(( ${P:-0} + ${K:-0} )) -le 9 ] ||
		fail "$what: hot_probes=${P:-missing} hot_probes_skipped=${K:-missing} in 5000 sends of a rewritten buffer (want 7 in all: 64, 128, 256, 512, then every 1024)"
	[ "${z1:-99}" -le 12 ] || fail "$what: ${z1:-no} zerocopy sends of a buffer rewritten before each of 5000 (want the first and about 7 probes)"
	[ $(( z2 - ${z1:-0} )) -ge 3900 ] ||
		fail "$what: $(( z2 - ${z1:-0} )) of 5000 sends zerocopy once the buffer was no longer rewritten"
	AFTER=$(( z2 - ${z1:-0} )) Z1=$z1
}
# Rewritten with the same bytes each time: only the guard can tell, so
# every probe is made and its rewrite faults. The probe's completion is
# queued by then (the sink frees the datagram within the send): the fault
# must read it and let the write go on at once, not wait out
# ZCSHIM_STALL_US for a completion it has already read (each such write
# took the whole budget, 2 s here).
before=$failures
adapt_case same
[ "${K:-1}" = 0 ] || fail "adapt same: $K probes skipped although the content never changed"
[ "${F:-0}" -ge 5 ] || fail "adapt same: guard_faults=${F:-missing}: the probes' rewrites did not fault"
[ "${W:-2000000000}" -lt 1000000000 ] ||
	fail "adapt same: the probes' rewrites waited ${W:-?} ns in all (guard_stall_ns) for completions already queued"
[ $failures -eq $before ] &&
	log "ok: adapt same: $Z1 zerocopy sends while rewritten ($P probes, $F rewrites faulted, $W ns waited), $AFTER of 5000 after"
# Rewritten with new bytes: the content sample taken before each probe
# differs, so the probes are skipped (no guard cycle, no fault).
before=$failures
adapt_case
[ "${P:-9}" -le 1 ] || fail "adapt: $P probes made of a buffer whose content changed before each send (want them skipped)"
[ $failures -eq $before ] &&
	log "ok: adapt: $Z1 zerocopy sends while rewritten ($K probes skipped, $P made), $AFTER of 5000 after"
finish
