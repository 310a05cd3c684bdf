# See handlers.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact handlers
expect_corrupt handlers
finish
