# See readinto.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact readinto
need kernel_write_resolves "read() into a guarded buffer"
expect_corrupt readinto
finish
