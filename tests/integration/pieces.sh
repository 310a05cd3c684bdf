# Eligibility per piece: pieces of a send the guard cannot protect (file
# mappings, read-only data) are copied into bounce memory, the rest of the
# call still goes out with zerocopy. UDP loopback in a private network
# namespace (the kernel copies loopback datagrams, so each one is read back
# and checked), see pieces.c for the layouts.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root for a private network namespace"
command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs ip (iproute2) and unshare"

# run MODE ARGS...: pieces under the shim in a private namespace; sets rc.
run() {
	: > "$STATS"
	timeout 120 unshare -n sh -c '
		ip link set lo up || exit 2
		lib=$1 stats=$2 prog=$3; shift 3
		exec env LD_PRELOAD="$lib" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=16384 ZCSHIM_ADAPT=0 \
			ZCSHIM_LOG=debug ZCSHIM_STATS_FILE="$stats" ${ITEST_WRAP:-} "$prog" "$@"
	' sh "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/pieces" "$@" 2> "$STATS.err"
	rc=$?
}
trap 'rm -f "$STATS" "$STATS.err"' EXIT

# The kernel selftest msg_zerocopy's payload: its head lies in the data
# segment's last page (file-backed), the rest in .bss's anonymous pages.
run bss 300
before=$failures
if [ $rc = 77 ]; then
	log "SKIP bss: $(cat "$STATS.err")"
else
	[ $rc = 0 ] || fail "bss: pieces exited $rc: $(tail -n 3 "$STATS.err")"
	z=$(num zc_sends)
	[ "$z" -ge 290 ] || fail "bss: $z of 300 sends zerocopy (a head in a file-backed page is bounced, not a reason to copy the call)"
	reasons_add_up bss
	[ $failures = $before ] && log "ok: bss: $z zerocopy sends, every datagram intact"
fi

# memcached's reply: header in a file mapping, value in anonymous memory,
# "END\r\n" in read-only data.
run mixed 300
before=$failures
if [ $rc = 77 ]; then
	log "SKIP mixed: $(cat "$STATS.err")"
else
	[ $rc = 0 ] || fail "mixed: pieces exited $rc: $(tail -n 3 "$STATS.err")"
	z=$(num zc_sends)
	[ "$z" -ge 290 ] || fail "mixed: $z of 300 sends zerocopy (small pieces outside anonymous memory are bounced)"
	reasons_add_up mixed
	[ $failures = $before ] && log "ok: mixed: $z zerocopy sends, every datagram intact"
fi

# The same reply from a cached item (its value unchanged): its edge pages
# may go out in place, but not when that makes more page pieces than a
# zerocopy datagram takes (17): then they are bounced, and the program
# never sees EMSGSIZE.
run mcstable 300
before=$failures
[ $rc = 0 ] || fail "mcstable: pieces exited $rc: $(tail -n 3 "$STATS.err")"
z=$(num zc_sends)
[ "$z" -ge 290 ] || fail "mcstable: $z of 300 sends zerocopy"
want copy_frags 0 "mcstable: no send should meet the kernel's limit of page pieces"
reasons_add_up mcstable
[ $failures = $before ] && log "ok: mcstable: $z zerocopy sends, edges $(num edge_sends), every datagram intact"

# 12 iovecs each a whole page with 50 bytes either side: 25 page pieces,
# which the kernel refuses to send with zerocopy in one datagram (EMSGSIZE).
# The shim copies the call instead: the program sees every datagram sent.
run many 50
before=$failures
[ $rc = 0 ] || fail "many: pieces exited $rc: $(tail -n 3 "$STATS.err")"
c=$(num copy_frags)
[ "$c" = 50 ] || fail "many: copy_frags=$c (want the 50 sends copied for the kernel's limit of page pieces)"
want sockets_zc_off 0 "many: the refusal took no id, the socket keeps zerocopy"
reasons_add_up many
[ $failures = $before ] && log "ok: many: $c sends of 25 page pieces copied (copy_frags), every datagram intact"

# iperf3's buffer: a MAP_PRIVATE mapping of a deleted file, written. Its
# written pages are anonymous copies, but the guard's private copy would
# turn them into an anonymous mapping (docs/DESIGN.md): copied, and said so.
run mapfile 200
before=$failures
[ $rc = 0 ] || fail "mapfile: pieces exited $rc: $(tail -n 3 "$STATS.err")"
c=$(num copy_ineligible_mem)
[ "$c" = "$(num copy_sends)" ] && [ "$c" -ge 200 ] ||
	fail "mapfile: copy_ineligible_mem=$c, copy_sends=$(num copy_sends) (want every send copied for that reason)"
reasons_add_up mapfile
grep -q "copy_ineligible_mem.*bytes at 0x[0-9a-f]*-0x[0-9a-f]*, mapping rw-p file" "$STATS.err" ||
	fail "mapfile: ZCSHIM_LOG=debug does not name the range and mapping: $(grep copy_ "$STATS.err")"
[ "$(grep -c "copy_ineligible_mem" "$STATS.err")" = 1 ] || fail "mapfile: the reason is logged more than once"
[ $failures = $before ] && log "ok: mapfile: $c sends copied as copy_ineligible_mem, named once in the log"

finish
