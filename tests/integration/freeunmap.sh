# See freeunmap.c for what it checks.
. "$ITEST_SRC/lib.sh"
expect_intact freeunmap
need discard_pages "free() of a guarded buffer"
expect_corrupt freeunmap
finish
