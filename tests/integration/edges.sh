# A buffer sent again and again unchanged from an unaligned address: its
# first and last pages (shared with memory outside the payload) go out in
# place, guarded, instead of through bounce memory. Writes into them right
# after a send must not reach the wire; writes next to the payload must
# not make every later send fault. Only under the userfaultfd guard with
# kernel faults covered: under mprotect (or user faults only) a kernel
# write beside the payload would fail with EFAULT, so no edge is guarded
# there and the same program must see the same bytes with none in place.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99

case $ITEST_GUARD in
uffd) proof=edge_sends,guard_faults ;;
*) proof=zc_sends ;;
esac

# The payload's own bytes in its edge pages, rewritten while in flight.
expect_intact $proof edges overwrite
if [ "$ITEST_GUARD" != uffd ] && ! wrapped; then
	want edge_sends 0 "edges overwrite under the $ITEST_GUARD guard (a kernel write beside the payload would fail)"
fi
expect_corrupt edges overwrite

# Memory beside the payload, in its first page, written after each send:
# the page faults once, is remembered as written, and is copied from then
# on (each of the 16 writes faulting would be the cost of a guard cycle
# for 4 KiB that a copy would have sent).
shim "$ITEST_BIN/edges" neighbour
rc=$?
if [ $rc -ne 0 ]; then
	fail "edges neighbour exited $rc under the shim (want 0: every byte intact)"
elif ! wrapped; then
	f=$(num guard_faults)
	if [ "$ITEST_GUARD" = uffd ]; then
		need edge_sends "edges neighbour"
		[ "$f" -le 4 ] || fail "edges neighbour: $f guard faults for 16 writes beside the payload (want at most 4: the page is remembered as written)"
	else
		want guard_faults 0 "edges neighbour under the $ITEST_GUARD guard: nothing beside the payload is guarded"
	fi
	log "ok: edges neighbour intact, $(num edge_sends) sends with edges in place, $f guard faults"
fi
finish
