# See segvblocked.c: writing a guarded buffer with SIGSEGV blocked (by a
# handler's sa_mask, by sigsuspend's mask, left blocked by a longjmp out of
# a handler) is not fatal; a real fault with SIGSEGV blocked still is.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for how in samask sigsuspend longjmp; do
	expect_intact guard_faults segvblocked "$how"
	expect_corrupt segvblocked "$how"
done
shim "$ITEST_BIN/segvblocked" realfault || fail "segvblocked realfault: see the lines above"
[ $failures -eq 0 ] && log "ok: real faults with SIGSEGV blocked still kill with SIGSEGV"
finish
