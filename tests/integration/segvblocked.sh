# See segvblocked.c: writing a guarded buffer with SIGSEGV blocked (by a
# handler's sa_mask, by sigsuspend's mask, left blocked by a longjmp out of
# a handler) is not fatal; a real fault with SIGSEGV blocked still is.
#
# Under valgrind (scripts/memcheck) only samask runs: longjmp and realfault
# make deliberate faults at address 0x10, which memcheck reports as errors
# (as it does badmem's deliberate bad pointers), and valgrind emulates the
# signal mask itself, so the mask sigsuspend installs is not the one a
# handler reads back under it.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
modes="samask sigsuspend longjmp"
wrapped && modes=samask
for how in $modes; do
	expect_intact guard_faults segvblocked "$how"
	expect_corrupt segvblocked "$how"
done
if ! wrapped; then
	shim "$ITEST_BIN/segvblocked" realfault || fail "segvblocked realfault: see the lines above"
	[ $failures -eq 0 ] && log "ok: real faults with SIGSEGV blocked still kill with SIGSEGV"
fi
finish
