# See childsend.c: children made without fork's handlers (_Fork, a raw
# clone, vfork, clone(CLONE_VM), posix_spawn) send on a socket their parent
# has zerocopy sends in flight on.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for mode in _fork clone vfork clonevm spawn _forklocked; do
	# _forklocked: the other thread holds the shim's lock for 2 ms in
	# every section, so the fork finds it held.
	case $mode in _forklocked) EXTRA_ENV=ZCSHIM_TEST_HOLD_US=2000 ;; *) EXTRA_ENV= ;; esac
	expect_intact guard_faults childsend "$mode"
	# The vfork and clone(CLONE_VM) children share the parent's counters:
	# their send on the socket they opened in place of the parent's was
	# copied. (The other children's lines are checked by the program.)
	# Not under valgrind, which runs such a child as a fork child, with
	# its own copy of memory.
	# Each such copy is a copied large send, under its reason.
	case $mode in vfork|clonevm) wrapped || {
		need vm_child_copies "childsend $mode"
		need copy_vm_child "childsend $mode: the child's send counted under its reason"
		reasons_add_up "childsend $mode"
	} ;; esac
	expect_corrupt childsend "$mode"
done
finish
