# See memreport.c: memory unmapped, moved or discarded behind the shim's
# back with sends from it in flight, a fork child writing them, the
# program closing the shim's descriptors, and how many buffers can be kept
# read-only without splitting mappings.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for mode in unmap remap dontneed fork closefd idlecopy kwrite; do
	before=$failures
	if [ $mode = remap ] && [ "$ITEST_GUARD" = mprotect ]; then
		# A raw mremap carries the read-only protection to an address
		# no record names: the write there is a SIGSEGV the mprotect
		# guard cannot place (a documented limit of that guard).
		log "SKIP: remap: not for the mprotect guard (raw mremap of a guarded buffer is its documented limit)"
		continue
	fi
	out=$(shim "$ITEST_BIN/memreport" $mode)
	rc=$?
	[ $rc -eq 0 ] || fail "memreport $mode exited $rc under the shim (want 0: every byte intact)"
	need zc_sends "memreport $mode"
	if ! wrapped; then
		need guard_faults "memreport $mode (the write after the second send waited for the guard)"
		[ $mode = idlecopy ] && need cow_pages "memreport idlecopy (A and B were copied)"
		case "$ITEST_GUARD,$mode" in
		uffd*,unmap|uffd*,remap|uffd*,dontneed)
			need guard_uffd_reports "memreport $mode (the kernel's report was applied)" ;;
		uffd,kwrite)
			[ "$out" = "getrandom 4096 0" ] || fail "memreport kwrite: '$out', want 'getrandom 4096 0' (the kernel's write waited)" ;;
		*,kwrite)
			case "$out" in "getrandom 4096 0"|"getrandom -1 14") ;; *) fail "memreport kwrite: '$out'" ;; esac ;;
		uffd*,closefd)
			[ "$out" = "closed 1" ] || fail "memreport closefd: '$out', want 'closed 1' (the shim's userfaultfd, kept open)" ;;
		esac
	fi
	[ $failures -eq $before ] && log "ok: $mode ($ITEST_GUARD: $(num guard_faults) guard faults, $(num guard_uffd_reports) reports)"
	case $mode in fork|kwrite) ;; *) expect_corrupt memreport $mode ;; esac
done

# Reports read late: the kernel lets the thread that discarded, unmapped
# or moved memory go on as soon as the guard's reader has read the report,
# before the reader has queued it. ZCSHIM_TEST_READER_DELAY_US holds the
# reader there 50 ms, so the program's next send and overwrite fall inside
# that window every time: the send must wait for the report, not trust the
# records of memory that is gone.
case "$ITEST_GUARD" in
uffd*)
	for mode in dontneed unmap remap; do
		out=$(EXTRA_ENV=ZCSHIM_TEST_READER_DELAY_US=50000 shim "$ITEST_BIN/memreport" $mode)
		rc=$?
		if [ $rc -ne 0 ]; then
			fail "memreport $mode, reports read late, exited $rc (want 0: every byte intact)"
		else
			need guard_uffd_reports "memreport $mode, reports read late"
			log "ok: $mode with reports read late ($(num guard_uffd_reports) reports)"
		fi
	done ;;
*)
	log "SKIP: reports read late: only the userfaultfd guard has a reader" ;;
esac

# Buffers kept read-only: under the userfaultfd guard, as many as the
# program sends, with no more than a few dozen more lines in
# /proc/PID/maps; under mprotect, at most its cap (each range splits a
# mapping), so the maps grow by at most two lines a range.
if ! wrapped; then
	n=100000
	out=$(shim "$ITEST_BIN/memreport" kept $n)
	rc=$?
	[ $rc -eq 0 ] || fail "memreport kept $n exited $rc"
	set -- $out
	grow=$(( ${3:-0} - ${2:-0} ))
	kept=$(num idle_ranges)
	if [ "$ITEST_GUARD" = mprotect ]; then
		[ "$kept" -le 4095 ] || fail "kept: $kept idle ranges under mprotect, want at most 4095"
		[ "$grow" -le $((2 * 4095 + 48)) ] || fail "kept: /proc/self/maps grew by $grow lines under mprotect"
	else
		# (All but the few the seen table's sets cannot hold: 99%.)
		[ "$kept" -ge $((n * 99 / 100)) ] || fail "kept: $kept of $n buffers kept read-only, want 99% at least"
		[ "$grow" -le 48 ] || fail "kept: /proc/self/maps grew by $grow lines for $n kept buffers, want at most 48"
	fi
	log "kept: $ITEST_GUARD: $kept of $n buffers kept read-only; /proc/self/maps: $out (+$grow)"

	# A cache's churn: 20,000 buffers kept in a random order, then
	# three times a random half rewritten and all sent again in a
	# random order (the idle set's blocks split and merge all along).
	# Each write costs at most one fault, every buffer holds what was
	# last written to it, and under userfaultfd they end up kept again.
	n=20000
	out=$(shim "$ITEST_BIN/memreport" churn $n)
	rc=$?
	[ $rc -eq 0 ] || fail "churn $n exited $rc (a buffer lost a write, or the program died)"
	set -- $out
	rewrites=${2:-0}
	faults=$(num guard_faults)
	kept=$(num idle_ranges)
	[ "$rewrites" -gt $((n)) ] || fail "churn: $rewrites rewrites, want more than $n"
	[ "$faults" -le "$rewrites" ] || fail "churn: $faults guard faults for $rewrites rewrites, want at most one each"
	if [ "$ITEST_GUARD" = mprotect ]; then
		[ "$kept" -le 4095 ] || fail "churn: $kept idle ranges under mprotect, want at most 4095"
	else
		[ "$faults" -ge $((rewrites * 9 / 10)) ] || fail "churn: $faults guard faults for $rewrites rewrites of kept buffers, want nearly one each"
		[ "$kept" -ge $((n * 99 / 100)) ] || fail "churn: $kept of $n buffers kept at the end, want 99% at least"
	fi
	log "churn: $ITEST_GUARD: $rewrites rewrites, $faults guard faults, $kept of $n kept at the end"
fi
finish
