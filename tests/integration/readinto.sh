# See readinto.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact readinto
need kernel_write_resolves "read() into a guarded buffer"
expect_corrupt readinto
finish
