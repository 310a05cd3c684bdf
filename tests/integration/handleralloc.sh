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

# The first large send is a clone(CLONE_VM | CLONE_VFORK) child's: it must
# not start the guard's threads in the child (they would die with it, and
# the parent's rewrites wait for ever: the harness's timeout). Its send is
# copied; the parent's are guarded.
expect_intact guard_faults handleralloc vmchild
if [ "$(num guard_uffd)" = 1 ]; then
	want copy_guard_threads 1 "handleralloc vmchild: the child's send, in memory it shares"
fi
want copy_ineligible_mem 1 "handleralloc vmchild: the parent's first send, from shared memory"
reasons_add_up "handleralloc vmchild"
# The child meets the socket first: its send is a copied large send on a
# UDP or TCP socket, counted under its reason like any other. (Not under
# valgrind, which runs such a child as a fork child, with its own copy
# of the counters.)
expect_intact guard_faults handleralloc vmchildfirst
if ! wrapped; then
	want copy_vm_child 1 "handleralloc vmchildfirst: the child's send"
	want copy_sends 1 "handleralloc vmchildfirst: the child's send"
	reasons_add_up "handleralloc vmchildfirst"
fi
finish
