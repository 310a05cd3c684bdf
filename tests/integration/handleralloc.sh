# See handleralloc.c: the process's first large send comes from a signal
# handler that interrupted the program's own malloc(). The shim must not
# call the allocator there (the userfaultfd guard's threads start later,
# outside the handler), and the sends after it are guarded as usual. Then
# the same after a handler left by a jump (the modes in handleralloc.c).
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99

expect_intact guard_faults handleralloc
if [ "$(num guard_uffd)" = 1 ]; then
	# The handler's send is copied, counted under its reason; the
	# threads then start at the next send, whose rewrites they serve.
	want copy_guard_threads 1 "the handler's send, before the guard's threads run"
else
	want copy_guard_threads 0 "the mprotect guard has no threads to start"
fi
reasons_add_up handleralloc

# A thread that left a handler by a jump is outside it: its sends start
# the guard's threads and are guarded.
for mode in longjmp altstack chk; do
	expect_intact guard_faults handleralloc $mode
	want copy_guard_threads 0 "handleralloc $mode: the thread left the handler by the jump"
	want copy_sends 0 "handleralloc $mode: every send guarded"
done
finish
