# See forkchild.c: fork and exec with data in flight.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults forkchild
expect_corrupt forkchild
finish
