# See freeunmap.c for what it checks.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact quarantined freeunmap   # free() of a guarded buffer
expect_corrupt freeunmap
if [ -n "$JEMALLOC" ]; then
	expect_jemalloc
	PRELOAD_AFTER=$JEMALLOC expect_intact quarantined freeunmap
	PRELOAD_AFTER=$JEMALLOC expect_corrupt freeunmap
else
	fail "libjemalloc.so.2 not found (Debian package libjemalloc2): the jemalloc run cannot run"
fi
finish
