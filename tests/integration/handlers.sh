# See handlers.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact handlers
expect_corrupt handlers
finish
