# The operator's tools: the zcshim launcher passes its options through and
# keeps the command's exit status; zcstat reads a live process (table and
# JSON) from its live stats page without a signal, and with --signal the
# old way; it says clearly when a process has no shim; the man pages
# render without warnings.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
MAN=$(cd "$ITEST_BIN/../../man" && pwd)
OUT=$(mktemp /tmp/zcshim-tools.XXXXXX)
PROBE=$(mktemp -d /tmp/zcshim-tools.XXXXXX)
trap 'kill $P 2>/dev/null; rm -rf "$OUT" "$PROBE" "$STATS"' EXIT
P=

# The launcher: options become settings, LD_PRELOAD is prepended to.
LD_PRELOAD=/nonexistent/keep.so "$TOOLS/zcshim" --threshold=16K --local force \
	--stall-us=75 --stats-file="$PROBE/zc.%p.json" --stats-signal=USR2 --log=warn \
	sh -c 'echo "$ZCSHIM_THRESHOLD|$ZCSHIM_LOCAL|$ZCSHIM_STALL_US|$ZCSHIM_STATS_FILE|$ZCSHIM_STATS_SIGNAL|$ZCSHIM_LOG|$LD_PRELOAD"; exit 3' \
	> "$OUT" 2>/dev/null
rc=$?
[ $rc -eq 3 ] || fail "zcshim: the command's exit status 3 came back as $rc"
IFS='|' read -r th lo st sf sg lg pre < "$OUT"
[ "$th|$lo|$st|$sg|$lg" = "16K|force|75|USR2|warn" ] ||
	fail "zcshim: options did not reach the settings: $(cat "$OUT")"
[ "$sf" = "$PROBE/zc.%p.json" ] || fail "zcshim: --stats-file became '$sf'"
"$TOOLS/zcshim" --stats-dir "$PROBE" sh -c 'echo "$ZCSHIM_STATS_DIR"' > "$OUT" 2>/dev/null
[ "$(cat "$OUT")" = "$PROBE" ] || fail "zcshim: --stats-dir became '$(cat "$OUT")'"
case "$pre" in
*/src/.libs/libzcshim.so\ /nonexistent/keep.so) ;;
*) fail "zcshim: LD_PRELOAD should be the built library then the old value, is '$pre'" ;;
esac
# --jemalloc: the allocator right after the shim, before what was there.
LD_PRELOAD=/nonexistent/keep.so "$TOOLS/zcshim" --jemalloc sh -c 'echo "$LD_PRELOAD"' > "$OUT" 2>&1
case "$(cat "$OUT")" in
*/src/.libs/libzcshim.so\ /*/libjemalloc.so.2\ /nonexistent/keep.so) ;;
*) fail "zcshim --jemalloc: LD_PRELOAD should be the shim, jemalloc, the old value, is '$(cat "$OUT")'" ;;
esac
"$TOOLS/zcshim" >/dev/null 2>"$OUT"; rc=$?
[ $rc -eq 127 ] && grep -q "no COMMAND" "$OUT" || fail "zcshim without a command: exit $rc, $(cat "$OUT")"
"$TOOLS/zcshim" --bogus true >/dev/null 2>"$OUT"; rc=$?
[ $rc -eq 127 ] && grep -q "unknown option '--bogus'" "$OUT" || fail "zcshim --bogus: exit $rc"
"$TOOLS/zcshim" no-such-command-zc >/dev/null 2>"$OUT"; rc=$?
[ $rc -eq 127 ] && grep -q "command not found: no-such-command-zc" "$OUT" || fail "zcshim with a missing command: exit $rc"
"$TOOLS/zcshim" --help | grep -q -- "--threshold" || fail "zcshim --help"

# zcstat on a live process started by the launcher.
cp /bin/sleep "$PROBE/zcprobe"
"$TOOLS/zcshim" --stats-file="$PROBE/zc.%p.json" "$PROBE/zcprobe" 30 &
P=$!
sleep 0.5
"$TOOLS/zcstat" "$P" > "$OUT" 2>&1 || fail "zcstat $P failed: $(cat "$OUT")"
grep -q "^pid $P" "$OUT" && grep -q "zc_sends" "$OUT" && grep -q "zerocopy share" "$OUT" ||
	fail "zcstat table: $(head -3 "$OUT")"
"$TOOLS/zcstat" --json "$P" > "$OUT" 2>&1 || fail "zcstat --json failed"
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["pid"]==int(sys.argv[2])' \
	"$OUT" "$P" || fail "zcstat --json did not print the process's JSON line"
"$TOOLS/zcstat" --all zcprobe > "$OUT" 2>&1 && grep -q "^ *$P zcprobe *running" "$OUT" &&
	grep -q "^ *total  *1 " "$OUT" || fail "zcstat --all zcprobe: $(cat "$OUT")"
[ ! -e "$PROBE/zc.$P.json" ] || fail "zcstat sent the stats signal without --signal"
# --signal: the stats signal and the stats file, as before.
"$TOOLS/zcstat" --signal "$P" > "$OUT" 2>&1 && grep -q "^pid $P" "$OUT" ||
	fail "zcstat --signal $P: $(head -3 "$OUT")"
"$TOOLS/zcstat" --signal --json "$P" > "$OUT" 2>&1 || fail "zcstat --signal --json failed"
"$TOOLS/zcstat" --signal --all zcprobe > "$OUT" 2>&1 && grep -q "^pid $P" "$OUT" || fail "zcstat --signal --all zcprobe"
[ "$(grep -c '^{"pid"' "$PROBE/zc.$P.json")" = 3 ] || fail "zcstat --signal should have asked for 3 lines"
"$TOOLS/zcstat" --signal $$ > "$OUT" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "does not have libzcshim loaded" "$OUT" ||
	fail "zcstat --signal on a process without the shim: exit $rc, $(cat "$OUT")"
# (a page an earlier process with this pid left is not this process's)
"$TOOLS/zcstat" $$ > "$OUT" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "process $$ has no live stats page\|no live stats page of process $$" "$OUT" ||
	fail "zcstat on a process without the shim: exit $rc, $(cat "$OUT")"

# Man pages.
command -v groff >/dev/null || skip "needs groff to check the man pages"
for m in "$MAN"/libzcshim.7 "$MAN"/zcshim.1 "$MAN"/zcstat.1; do
	w=$(groff -ww -z -man "$m" 2>&1)
	[ -z "$w" ] || fail "$(basename "$m") renders with warnings: $w"
done
[ $failures -eq 0 ] && log "ok: zcshim passes options and exit status; zcstat reads a live process; man pages clean"
finish
