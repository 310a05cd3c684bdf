# Sends from a file mapping truncated under the program fail with EFAULT,
# as without the shim, instead of dying of SIGBUS in the shim's bounce copy.
# See badmem.c.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
# The control: without the shim every case gives EFAULT (the kernel's
# answer, which the shim must keep). It passes there too, so under the
# shim the program also checks, case by case in the stats line, that the
# call went the shim's way (BADMEM_SHIM=1): copied after a look at the
# mapping, or handed back by a fault probe (probe_faults).
if ! wrapped; then
	timeout 60 "$ITEST_BIN/badmem" ||
		fail "badmem without the shim exited $? (want 0: the kernel's EFAULT in every case)"
fi
# The defaults (adaptive) and ZCSHIM_ADAPT=0 (every large send zerocopy).
# Under valgrind (scripts/memcheck) without the raw and args cases:
# valgrind reports each deliberate bad pointer, the program's and the
# shim's reads of it under its fault probe alike.
skip=BADMEM_NO_BADPTR=0
wrapped && skip=BADMEM_NO_BADPTR=1
for adapt in 1 0; do
	before=$failures
	# (Sent twice, the raw case's buffer has its first page sent in
	# place, an edge, under either guard: the kernel's read then meets
	# the hole before any bounce copy could.)
	raw_any=BADMEM_RAW_ANY=1
	EXTRA_ENV="ZCSHIM_ADAPT=$adapt BADMEM_SHIM=1 $skip $raw_any" shim "$ITEST_BIN/badmem"
	rc=$?
	[ $rc -eq 0 ] || fail "badmem (ZCSHIM_ADAPT=$adapt) exited $rc (135: killed by SIGBUS, 139: by SIGSEGV, 138: by SIGUSR1, no shim to dump its stats)"
	need zc_sends "badmem (ZCSHIM_ADAPT=$adapt): the sockets used zerocopy"
	need copy_sends "badmem (ZCSHIM_ADAPT=$adapt): the file mapping sends were copied"
	if wrapped; then
		# header, tail, kept and exe (the ring's read and the locked
		# path's): the kernel's read of the bounced piece fails.
		p=$(num probe_faults)
		[ "$p" -ge 1 ] && [ "$p" -le 6 ] ||
			fail "badmem (ZCSHIM_ADAPT=$adapt): probe_faults=$p under $ITEST_WRAP (want the bounced pieces past the file's end: 1 to 6)"
	else
		# header and tail (the kernel's read of the bounced piece; the
		# cost model may copy the header's call first), raw (its first
		# page may go out in place, or under the userfaultfd guard it
		# may be copied before its bounce copy), kept and exe (the
		# ring's read of the header or trailer, then the locked path's;
		# the cost model may copy the call first), and eleven calls
		# with a bad argument: one probe each.
		p=$(num probe_faults)
		lo=13
		[ "$p" -ge $lo ] && [ "$p" -le 18 ] ||
			fail "badmem (ZCSHIM_ADAPT=$adapt): the bad pointers were met by the fault probes: probe_faults=$p, want $lo to 18"
	fi
	# (The kept case's body went by its socket's ring.)
	[ "$adapt" = 0 ] && need kept_sends "badmem (ZCSHIM_ADAPT=0): the kept case's sends"
	reasons_add_up "badmem (ZCSHIM_ADAPT=$adapt)"
	[ $failures -eq $before ] && log "ok: ZCSHIM_ADAPT=$adapt: EFAULT from a truncated file mapping and bad pointers ($(num probe_faults) probe faults), good memory after it intact"
done
finish
