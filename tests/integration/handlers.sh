# See handlers.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults handlers
expect_corrupt handlers
finish
