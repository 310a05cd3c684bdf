# Settings as an operator types them: a malformed value is reported once on
# standard error (variable, value, what is used instead) and the program
# runs on. The stats line goes to the default runtime directory, to a %p
# file when asked, to standard error with "stderr", nowhere (SIGUSR1 keeps
# its default action) with none; the stats file is never a symbolic link's
# target nor another user's file.
ITEST_RELEASE=1   # what an operator sees: the release library
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
ERR=$(mktemp /tmp/zcshim-settings.XXXXXX)
DIR=$(mktemp -d /tmp/zcshim-settings.XXXXXX)
trap 'rm -rf "$ERR" "$DIR" "$STATS"' EXIT

t0=$(date +%s)
pid=$(timeout 60 env -u ZCSHIM_STATS_FILE LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force \
	ZCSHIM_THRESHOLD=lots ZCSHIM_STALL_US=-3 "$ITEST_BIN/statsjson" 2>"$ERR")
rc=$?
[ $rc -eq 0 ] || fail "malformed settings: the program exited $rc (want 0)"
n=$(grep -c 'ZCSHIM_THRESHOLD="lots".*using 65536 instead' "$ERR")
[ "$n" = 1 ] || fail "ZCSHIM_THRESHOLD=lots reported $n times (want once): $(cat "$ERR")"
n=$(grep -c 'ZCSHIM_STALL_US="-3".*using 50 instead' "$ERR")
[ "$n" = 1 ] || fail "ZCSHIM_STALL_US=-3 reported $n times (want once)"
# With no ZCSHIM_STATS_FILE, the two lines went to the first usable runtime
# directory (libzcshim(7)): /run/zcshim for root.
if [ "$(id -u)" = 0 ]; then
	def=/run/zcshim/$pid.json
	# (This run's lines: pids wrap, and an earlier process with this pid
	# may have left lines in the same file.)
	lines=$(grep -o '^{"pid":[0-9]*,"ts":[0-9]*' "$def" 2>/dev/null | awk -F: -v t0="$t0" '$3 >= t0' | wc -l)
	[ "$lines" = 2 ] || fail "want 2 stats lines of this run in $def by default, found $lines"
	[ "$(command stat -c %a /run/zcshim 2>/dev/null)" = 1777 ] || fail "/run/zcshim is not mode 1777"
	rm -f "$def"
fi

timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_STATS_FILE=stderr \
	"$ITEST_BIN/statsjson" >/dev/null 2>"$ERR"
n=$(grep -c '^{"pid":' "$ERR")
[ "$n" = 2 ] || fail "ZCSHIM_STATS_FILE=stderr: want 2 lines on standard error, got $n"

# A symbolic link where the stats file would be: not followed, reported once.
ln -s "$DIR/victim" "$DIR/link.json"
timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_STATS_FILE="$DIR/link.json" \
	"$ITEST_BIN/statsjson" >/dev/null 2>"$ERR"
[ -e "$DIR/victim" ] && fail "the stats line followed a symbolic link"
n=$(grep -c 'cannot write the stats line' "$ERR")
[ "$n" = 1 ] || fail "a stats file that cannot be written: reported $n times (want once)"

pid=$(timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
	ZCSHIM_STATS_FILE="$DIR/zc.%p.json" "$ITEST_BIN/statsjson")
[ -f "$DIR/zc.$pid.json" ] || fail "ZCSHIM_STATS_FILE with %p: no $DIR/zc.$pid.json"
[ "$(command stat -c %a "$DIR/zc.$pid.json" 2>/dev/null)" = 600 ] || fail "the stats file is not mode 0600"

timeout 60 env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
	ZCSHIM_STATS_SIGNAL=none "$ITEST_BIN/statsjson" >/dev/null 2>&1
rc=$?
[ $rc -eq 138 ] || fail "ZCSHIM_STATS_SIGNAL=none: SIGUSR1 should kill as usual (138), got $rc"
[ $failures -eq 0 ] && log "ok: bad values reported once; default place, %p file (0600), stderr, none; no link followed"
finish
