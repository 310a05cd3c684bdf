# ZCSHIM_ALIGN=1: large malloc() blocks on a page boundary, still ordinary
# blocks (realloc, free, calloc, posix_memalign, heavy reuse), and a 15-page
# block sent from one goes out with no byte through bounce memory. Without
# it (the default) malloc() is left alone. Also with jemalloc preloaded
# after the shim: the aligned blocks then come from jemalloc.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99

if wrapped; then
	# valgrind replaces malloc() in every object, the shim's too: the
	# blocks are valgrind's. The program's use of them is still checked.
	EXTRA_ENV=ZCSHIM_ALIGN=1 shim "$ITEST_BIN/align" default || fail "align under $ITEST_WRAP exited $?"
	finish
fi
EXTRA_ENV=ZCSHIM_ALIGN=1 shim "$ITEST_BIN/align" aligned || fail "align aligned exited $? (want 0)"
need aligned_allocs "ZCSHIM_ALIGN=1 and blocks of 64 KiB and more"
need zc_sends "sends from an aligned block"
want bounce_bytes 0 "sends of whole pages from a page-aligned block"
log "ok: ZCSHIM_ALIGN=1: $(num aligned_allocs) aligned blocks, $(num zc_sends) zerocopy sends, no bounce"

shim "$ITEST_BIN/align" default || fail "align default exited $? (want 0)"
want aligned_allocs 0 "malloc() by default"
log "ok: by default malloc() is left alone"

if ! wrapped && [ -n "$JEMALLOC" ]; then
	expect_jemalloc
	PRELOAD_AFTER=$JEMALLOC EXTRA_ENV=ZCSHIM_ALIGN=1 shim "$ITEST_BIN/align" aligned ||
		fail "align aligned with jemalloc exited $? (want 0)"
	need aligned_allocs "ZCSHIM_ALIGN=1 with jemalloc"
	log "ok: ZCSHIM_ALIGN=1 over jemalloc: $(num aligned_allocs) aligned blocks"
fi
finish
