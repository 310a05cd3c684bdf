# Settings as an operator types them: a malformed value is reported once on
# standard error (variable, value, what is used instead) and the program
# runs on; the stats line goes to standard error by default, to a %p file
# when asked, nowhere (and SIGUSR1 keeps its default action) with none.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
ERR=$(mktemp /tmp/zcshim-settings.XXXXXX)
DIR=$(mktemp -d /tmp/zcshim-settings.XXXXXX)
trap 'rm -rf "$ERR" "$DIR" "$STATS"' EXIT

timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=lots \
	ZCSHIM_STALL_US=-3 "$ITEST_BIN/statsjson" >/dev/null 2>"$ERR"
rc=$?
[ $rc -eq 0 ] || fail "malformed settings: the program exited $rc (want 0)"
n=$(grep -c 'ZCSHIM_THRESHOLD="lots".*using 65536 instead' "$ERR")
[ "$n" = 1 ] || fail "ZCSHIM_THRESHOLD=lots reported $n times (want once): $(cat "$ERR")"
n=$(grep -c 'ZCSHIM_STALL_US="-3".*using 50 instead' "$ERR")
[ "$n" = 1 ] || fail "ZCSHIM_STALL_US=-3 reported $n times (want once)"
# With no ZCSHIM_STATS_FILE, the two stats lines went to standard error.
n=$(grep -c '^{"pid":' "$ERR")
[ "$n" = 2 ] || fail "want 2 stats lines on standard error by default, got $n"

pid=$(timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
	ZCSHIM_STATS_FILE="$DIR/zc.%p.json" "$ITEST_BIN/statsjson")
[ -f "$DIR/zc.$pid.json" ] || fail "ZCSHIM_STATS_FILE with %p: no $DIR/zc.$pid.json"
[ "$(command stat -c %a "$DIR/zc.$pid.json" 2>/dev/null)" = 600 ] || fail "the stats file is not mode 0600"

timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
	ZCSHIM_STATS_SIGNAL=none "$ITEST_BIN/statsjson" >/dev/null 2>&1
rc=$?
[ $rc -eq 138 ] || fail "ZCSHIM_STATS_SIGNAL=none: SIGUSR1 should kill as usual (138), got $rc"
[ $failures -eq 0 ] && log "ok: bad values reported once, stats to stderr, %p file (0600), none"
finish
