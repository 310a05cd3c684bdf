# The sender of the demo: overwrite, read into, free, unmap after each send.
# Every one of its 32 large sends must go out with zerocopy (heap, mmap and
# static-like memory alike), and each kind of abuse must show in the stats.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
# Overwrite, read into, free: each in flight.
expect_intact guard_faults,$KWRITE_PROOF,quarantined torture 32 200003
wrapped || want zc_sends 32 "every large send of torture"
# expect_intact leaves its proof out under a wrapper; these hold there.
if wrapped; then
	need $KWRITE_PROOF "read() into a buffer in flight"
	need guard_faults "overwrite of a buffer in flight"
fi
expect_corrupt torture 32 200003
# The same with jemalloc as the program's allocator (zcshim --jemalloc):
# its free() runs behind the shim's, so the quarantine holds its chunks too.
if [ -n "$JEMALLOC" ]; then
	expect_jemalloc
	PRELOAD_AFTER=$JEMALLOC expect_intact guard_faults,$KWRITE_PROOF,quarantined torture 32 200003
	wrapped || want zc_sends 32 "every large send of torture (jemalloc)"
	PRELOAD_AFTER=$JEMALLOC expect_corrupt torture 32 200003
else
	fail "libjemalloc.so.2 not found (Debian package libjemalloc2): the jemalloc run cannot run"
fi
finish
