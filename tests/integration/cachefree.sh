# A cache's objects: each buffer filled once, sent 100 times, freed, and
# the next one put by malloc at the same address (varnish's malloc storage
# after a purge or an eviction). Every byte arrives intact, and the later
# lives go out with zerocopy: a free is no rewrite of the buffer, so an
# address whose probe found its buffer sent again unchanged stays on
# probation, without backing off (zc_policy_hot_freed). Before, each free
# after a probe doubled the sends copied before the next probe (64, 128,
# ..., 1024), and lives shorter than that were copied whole.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
trap 'rm -f "$STATS" "$STATS.err"' EXIT

if wrapped; then
	# valgrind's malloc places the blocks where it likes (77), and its
	# pace changes what is in flight: only memory errors count here, on a
	# run small enough for valgrind's pace.
	EXTRA_ENV="ZCSHIM_ADAPT=1" shim "$ITEST_BIN/cachefree" 4 10 2>"$STATS.err"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "cachefree under $ITEST_WRAP exited $rc: $(cat "$STATS.err")"
	finish
fi
EXTRA_ENV="ZCSHIM_ADAPT=1" shim "$ITEST_BIN/cachefree" 16 100 2>"$STATS.err"
rc=$?
[ $rc -eq 77 ] && skip "malloc put most objects at new addresses: $(cat "$STATS.err")"
[ $rc -eq 0 ] || { fail "cachefree exited $rc (want 0: every byte intact)"; finish; }
need zc_sends "objects sent many times"
zb=$(num zc_bytes) cb=$(num copy_bytes)
share=$(( zb * 100 / (zb + cb + 1) ))
# The objects alternate between two or three addresses (a block freed
# with sends out waits in the quarantine). At each address: the first
# life's first send copied (the cost model), then guarded and kept; its
# free marks the address (nothing known of it yet). The second life: 62
# copies, a sample and a probe, then zerocopy. Every later life: zerocopy
# from its first send. About 90% in all; before, under 30%: the third life
# at an address waited 128 sends for its probe, and the fourth and later
# ones were copied whole.
[ "$share" -ge 80 ] || fail "$share% of the bytes went zerocopy (want at least 80%): $(tail -n 1 "$STATS")"
[ $failures -eq 0 ] && log "ok: 16 lives of 100 sends, $(sed -n 's/.*lives at \([0-9]*\) addresses/\1/p' "$STATS.err") addresses, intact, $share% of the bytes zerocopy ($(num zc_sends) zerocopy sends, $(num copy_rewritten) copied as rewritten)"
finish
