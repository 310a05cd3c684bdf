# The sender of the demo: overwrite, read into, free, unmap after each send.
. "$ITEST_SRC/lib.sh"
expect_intact torture 32 200003
expect_corrupt torture 32 200003
finish
