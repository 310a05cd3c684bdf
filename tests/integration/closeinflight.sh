# See closeinflight.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact closeinflight
expect_corrupt closeinflight
finish
