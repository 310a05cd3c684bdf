# The stats directory does not grow without bound (statspage.c): 10,000
# short processes (fork children that exit at once, each making its page)
# leave no more than the sweep's threshold (192 pages); the newest stay for
# zcstat. At a sweep, a page of a process gone for longer than
# ZC_LIVE_KEEP_S (10 minutes) goes, a page of a live process stays
# whatever its age, and pages of ended processes beyond 128 go, the oldest
# first.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
wrapped && skip "10,000 processes under valgrind take too long"
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
D=$(mktemp -d /tmp/zcshim-livebound.XXXXXX)
trap 'rm -rf "$D" "$STATS"' EXIT
EXTRA_ENV="ZCSHIM_STATS_DIR=$D"
ME=$(id -u)

# 200 recent pages of gone processes (pids beyond pid_max), the oldest
# 4200000; an old page of a gone pid and one of this shell (alive).
for i in $(seq 0 199); do touch -d "@$(( $(date +%s) - 300 + i ))" "$D/$((4200000 + i)).stats"; done
touch -d '20 minutes ago' "$D/4194305.stats" "$D/$$.stats"
shim "$ITEST_BIN/livesend" 1 0 > /dev/null || fail "livesend 1 0 failed"
[ -e "$D/4194305.stats" ] && fail "a page gone for 20 minutes was kept"
[ -e "$D/$$.stats" ] || fail "the page of a live process was removed"
[ -e "$D/4200000.stats" ] && fail "the oldest recent page was kept beyond 128"
[ -e "$D/4200199.stats" ] || fail "the newest recent page was removed"
n=$(ls "$D" | grep -cE '^4200[01][0-9]{2}\.stats$')
[ "$n" = 136 ] || fail "one sweep should leave 200 - 64 = 136 of the recent pages, left $n"
rm -f "$D/$$.stats"

t0=$(date +%s)
shim "$ITEST_BIN/livesend" 10000 0 forks > "$D/out" || fail "the fork loop failed"
t=$(( $(date +%s) - t0 ))
P=$(sed -n 's/^pid //p' "$D/out")
n=$(ls "$D" | grep -c '\.stats$')
log "10000 children in ${t}s; $n pages left"
[ "$n" -le 200 ] || fail "$n pages left after 10000 short processes (want <= 200)"
[ "$t" -le 120 ] || fail "10000 short processes took ${t}s (want <= 120)"
# The newest child's page is still there, and reads as exited.
last=$(ls -t "$D" | grep -v "^$P\.stats$" | grep '\.stats$' | head -n 1)
"$TOOLS/zcstat" --dir "$D" --json "${last%%[.-]*}" | grep -q '"state":"exited"' ||
	fail "the newest child's page ($last) does not read as exited"

[ $failures -eq 0 ] && log "ok: the stats directory stays bounded"
finish
