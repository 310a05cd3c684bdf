# See freeunmap.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact freeunmap
wrapped || need quarantined "free() of a guarded buffer"
expect_corrupt freeunmap
finish
