# See execsig.c: SIG_IGN of the stats signal and of SIGSEGV, and a mask
# with SIGSEGV blocked, reach an exec'd program as without the shim.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
wrapped && skip "compares /proc/self/status of children valgrind starts itself"
OUT=$(mktemp /tmp/zcshim-execsig.XXXXXX)
trap 'rm -f "$STATS" "$OUT" "$OUT.ref"' EXIT
"$ITEST_BIN/execsig" > "$OUT.ref" || fail "execsig without the shim"
EXTRA_ENV=ZCSHIM_STATS_SIGNAL=HUP shim "$ITEST_BIN/execsig" > "$OUT" || fail "execsig under the shim"
if cmp -s "$OUT" "$OUT.ref"; then
	log "ok: exec and posix_spawn children see $(grep -m1 SigIgn "$OUT.ref"), $(grep -m1 SigBlk "$OUT.ref")"
else
	fail "children differ from a run without the shim: $(diff "$OUT.ref" "$OUT" | tr '\n' ' ')"
fi
# nohup ignores SIGHUP, then execs: under the shim with HUP as the stats
# signal, the program it runs still has it ignored.
ref=$(nohup env -u LD_PRELOAD grep SigIgn /proc/self/status 2>/dev/null)
got=$(EXTRA_ENV=ZCSHIM_STATS_SIGNAL=HUP shim nohup env -u LD_PRELOAD grep SigIgn /proc/self/status 2>/dev/null)
[ "$got" = "$ref" ] && log "ok: nohup: $got" || fail "nohup under the shim: '$got', without: '$ref'"
finish
