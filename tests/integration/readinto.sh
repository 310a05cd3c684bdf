# See readinto.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact $KWRITE_PROOF readinto   # read() into a guarded buffer
# expect_intact leaves its proof out under a wrapper; this one holds there.
wrapped && need $KWRITE_PROOF "read() into a guarded buffer"
expect_corrupt readinto
finish
