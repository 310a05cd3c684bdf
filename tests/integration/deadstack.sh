# See deadstack.c: a joined thread's stack, unmapped by the C library
# itself, leaves no record behind that grants access to what the program
# maps there later or lets a send from there go out unguarded.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
EXTRA_ENV="GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0"
# Not under valgrind: it reports each deliberate read of PROT_NONE memory.
wrapped && EXTRA_ENV="$EXTRA_ENV DEADSTACK_NO_NONE_READ=1"
# stack_exit_resolves: threads exiting with guarded pages on their stack;
# guard_faults: sends from the new read-write mappings are guarded.
expect_intact stack_exit_resolves,guard_faults deadstack
expect_corrupt deadstack
finish
