# A cache's objects: 24 transient ones sent once each (uncacheable
# replies), then 16 cached ones, each filled once, sent 100 times and
# freed; malloc puts them at the same few addresses (varnish's malloc
# storage, passes and purges). Every byte arrives intact, and the cached
# objects go out with zerocopy although the transient ones made their
# addresses hot (rewritten after a single send): a free is no rewrite, so
# an address whose probe found its buffer sent again unchanged until its
# free stays on probation, without backing off (zc_policy_hot_freed).
# Before, each free after a probe doubled the sends copied before the next
# probe (64, 128, ..., 1024), and objects living fewer were copied whole.
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
EXTRA_ENV="ZCSHIM_ADAPT=1" shim "$ITEST_BIN/cachefree" 16 100 24 2>"$STATS.err"
rc=$?
[ $rc -eq 77 ] && skip "malloc put most objects at new addresses: $(cat "$STATS.err")"
[ $rc -eq 0 ] || { fail "cachefree exited $rc (want 0: every byte intact)"; finish; }
need zc_sends "objects sent many times"
zb=$(num zc_bytes) cb=$(num copy_bytes)
share=$(( zb * 100 / (zb + cb + 1) ))
# At each hot address, the first cached object: 62 copies, a sample and
# a probe, then zerocopy; every later one there: zerocopy from its first
# send. About 90% of the bytes; 29% before.
[ "$share" -ge 80 ] || fail "$share% of the bytes went zerocopy (want at least 80%): $(tail -n 1 "$STATS")"
[ $failures -eq 0 ] && log "ok: 24 transient and 16 cached objects, $(sed -n 's/.*lives at \([0-9]*\) addresses/\1/p' "$STATS.err") addresses, intact, $share% of the bytes zerocopy ($(num zc_sends) zerocopy sends, $(num copy_rewritten) copied as rewritten)"
finish
