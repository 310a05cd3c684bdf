# See threads.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact threads
expect_corrupt threads
finish
