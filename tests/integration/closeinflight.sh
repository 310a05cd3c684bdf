# See closeinflight.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact cow_pages closeinflight
expect_corrupt closeinflight
finish
