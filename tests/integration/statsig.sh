# A program that installs its own handler for the stats signal is warned
# about once, at the install, with the handler's address and (dladdr) its
# name, and ZCSHIM_STATS_SIGNAL named; from inside a signal handler the
# warning has the address only (no dladdr there). A program that only
# ignores it, or runs with another stats signal, is not warned.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
OUT=$(mktemp /tmp/zcshim-statsig.XXXXXX)
trap 'rm -f "$OUT" "$OUT".e "$STATS"' EXIT

shim "$ITEST_BIN/statsig" > "$OUT" 2> "$OUT.e" || fail "statsig exited $?"
addr=$(cat "$OUT")
n=$(grep -c "own handler for signal 10, the stats signal (ZCSHIM_STATS_SIGNAL)" "$OUT.e")
[ "$n" = 1 ] || { wrapped && [ "$n" -ge 1 ]; } || fail "want the warning once, got $n: $(cat "$OUT.e")"
grep -q "ZCSHIM_STATS_SIGNAL).*$addr (statsig_on_usr1)" "$OUT.e" ||
	fail "the warning does not name the handler $addr (statsig_on_usr1): $(cat "$OUT.e")"
grep -q "zcstat reads the live stats page without a signal" "$OUT.e" || fail "the warning does not say zcstat needs no signal"

shim "$ITEST_BIN/statsig" inhandler > "$OUT" 2> "$OUT.e" || fail "statsig inhandler exited $?"
grep -q "own handler for signal 10.*: $(cat "$OUT");" "$OUT.e" ||
	fail "from a handler: want the address-only warning: $(cat "$OUT.e")"

EXTRA_ENV="ZCSHIM_STATS_SIGNAL=USR2" shim "$ITEST_BIN/statsig" > "$OUT" 2> "$OUT.e" || fail "statsig (USR2) exited $?"
grep -q "own handler" "$OUT.e" && fail "warned with another stats signal: $(cat "$OUT.e")"
EXTRA_ENV="ZCSHIM_STATS_SIGNAL=none" shim "$ITEST_BIN/statsig" > "$OUT" 2> "$OUT.e" || fail "statsig (none) exited $?"
grep -q "own handler" "$OUT.e" && fail "warned with no stats signal: $(cat "$OUT.e")"

[ $failures -eq 0 ] && log "ok: the program's own stats-signal handler is warned about once, by address and name"
finish
