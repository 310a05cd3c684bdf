# Sends from a file mapping truncated under the program fail with EFAULT,
# as without the shim, instead of dying of SIGBUS in the shim's bounce copy.
# See badmem.c.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
# The defaults (adaptive) and ZCSHIM_ADAPT=0 (every large send zerocopy).
# Under valgrind (scripts/memcheck) without the raw and args cases:
# valgrind reports each deliberate bad pointer, the program's and the
# shim's reads of it under its fault probe alike.
skip=BADMEM_NO_BADPTR=0
wrapped && skip=BADMEM_NO_BADPTR=1
for adapt in 1 0; do
	before=$failures
	EXTRA_ENV="ZCSHIM_ADAPT=$adapt $skip" shim "$ITEST_BIN/badmem"
	rc=$?
	[ $rc -eq 0 ] || fail "badmem (ZCSHIM_ADAPT=$adapt) exited $rc (135: killed by SIGBUS, 139: by SIGSEGV)"
	[ $failures -eq $before ] && log "ok: ZCSHIM_ADAPT=$adapt: EFAULT from a truncated file mapping, good memory after it intact"
done
finish
