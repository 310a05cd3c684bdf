# See readonly.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact readonly
expect_corrupt readonly
finish
