# See threads16.c: 16 threads writing each other's in-flight buffers.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults threads16
expect_corrupt threads16
finish
