# A set-user-ID program (secure execution: AT_SECURE) takes no setting
# from the environment of the user who runs it. With the shim installed
# system-wide (/etc/ld.so.preload, here in a mount namespace of the test's
# own), nobody runs a set-user-ID root copy of a test program with
# ZCSHIM_STATS_FILE naming a root-owned 0600 file, and the program takes
# its stats signal: root's file is untouched, the line goes to root's
# default place, and standard error says once what was ignored. Its live
# stats page ignores ZCSHIM_STATS_DIR too: root's, 0600, in /run/zcshim. With
# ZCSHIM_STATS_SIGNAL=none the stats signal is still the shim's (the
# default), not the user's choice.
ITEST_RELEASE=1   # the library as installed system-wide
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (a set-user-ID root program, a mount namespace)"
wrapped && skip "valgrind does not run set-user-ID programs"
NB=$(id -u nobody 2>/dev/null) && NG=$(id -g nobody) || skip "needs the user nobody"
command -v setpriv >/dev/null && command -v unshare >/dev/null || skip "needs setpriv and unshare"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || skip "needs overlayfs (for a private /etc/ld.so.preload)"
D=$(mktemp -d /tmp/zcshim-secure.XXXXXX)
pid=
trap 'rm -rf "$D" "$STATS"; [ -n "$pid" ] && rm -f "/run/zcshim/$pid.json" "/run/zcshim/$pid.stats"' EXIT
chmod 755 "$D"
mkdir "$D/up" "$D/work"
cp "$ITEST_BIN/statsjson" "$D/suid"
chown root:root "$D/suid"
chmod 4755 "$D/suid"
printf 'secret\n' > "$D/root.json"
chmod 600 "$D/root.json"

# suid ENV...: the set-user-ID program, run by nobody, the shim preloaded by
# /etc/ld.so.preload.
suid() {
	timeout 60 unshare -m sh -c '
		d=$1 lib=$2 u=$3 g=$4; shift 4
		mount -t overlay overlay -o lowerdir=/etc,upperdir="$d/up",workdir="$d/work" /etc || exit 2
		echo "$lib" > /etc/ld.so.preload
		exec setpriv --reuid="$u" --regid="$g" --clear-groups env "$@" "$d/suid"' \
		sh "$D" "$ZCSHIM_LIB" "$NB" "$NG" "$@" > "$D/out" 2> "$D/err"
}

mkdir -m 1777 "$D/pages"
t0=$(date +%s)
suid ZCSHIM_STATS_FILE="$D/root.json" XDG_RUNTIME_DIR="$D" ZCSHIM_STATS_DIR="$D/pages" \
	ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096
rc=$?
[ $rc -eq 0 ] || fail "the set-user-ID program exited $rc: $(cat "$D/err")"
pid=$(cat "$D/out")
[ "$(cat "$D/root.json")" = secret ] ||
	fail "ZCSHIM_STATS_FILE from a user's environment: root's 0600 file was written: $(tail -n 1 "$D/root.json" | head -c 100)"
# (Lines from this run only: an earlier process with the same pid, pids
# wrapping around in a long run, may have left some in the same file.)
lines=$(grep -o '^{"pid":[0-9]*,"ts":[0-9]*' "/run/zcshim/$pid.json" 2>/dev/null |
	awk -F: -v t0="$t0" '$3 >= t0' | wc -l)
[ "$lines" = 2 ] ||
	fail "want 2 stats lines of this run in root's default place /run/zcshim/$pid.json, found $lines"
[ "$(command stat -c %u:%a "/run/zcshim/$pid.json" 2>/dev/null)" = 0:600 ] ||
	fail "/run/zcshim/$pid.json is not root's, mode 0600"
grep -q '^{"pid":' "$D/err" && fail "the stats line went to the user's standard error"
[ -z "$(ls "$D/pages")" ] || fail "ZCSHIM_STATS_DIR from a user's environment was obeyed: $(ls "$D/pages")"
[ "$(command stat -c %u:%a "/run/zcshim/$pid.stats" 2>/dev/null)" = 0:600 ] ||
	fail "the live page /run/zcshim/$pid.stats is not root's, mode 0600"
rm -f "/run/zcshim/$pid.stats"
n=$(grep -c 'secure-execution.*ignor.*ZCSHIM_STATS_FILE.*XDG_RUNTIME_DIR' "$D/err")
[ "$n" = 1 ] || fail "the ignored variables were reported $n times (want once): $(cat "$D/err")"
rm -f "/run/zcshim/$pid.json"

suid ZCSHIM_STATS_SIGNAL=none ZCSHIM_LOCAL=force
rc=$?
[ $rc -eq 0 ] || fail "ZCSHIM_STATS_SIGNAL=none from a user's environment was obeyed (exit $rc, want 0)"
rm -f "/run/zcshim/$(cat "$D/out").json"

# zcstat reads a secure-execution process the way the shim does: not
# where ZCSHIM_STATS_FILE in its environment says, but at the default place.
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
cp /bin/sleep "$D/zcsleep"
chmod 4755 "$D/zcsleep"
unshare -m sh -c '
	d=$1 lib=$2 u=$3 g=$4; shift 4
	mount -t overlay overlay -o lowerdir=/etc,upperdir="$d/up",workdir="$d/work" /etc || exit 2
	echo "$lib" > /etc/ld.so.preload
	exec setpriv --reuid="$u" --regid="$g" --clear-groups env "$@" "$d/zcsleep" 30' \
	sh "$D" "$ZCSHIM_LIB" "$NB" "$NG" ZCSHIM_STATS_FILE="$D/root.json" 2> "$D/err" &
pid=$!
sleep 0.5
timeout 20 "$TOOLS/zcstat" --json "$pid" > "$D/out" 2>&1 ||
	fail "zcstat on a set-user-ID program: $(cat "$D/out")"
grep -q "^{\"pid\":$pid," "$D/out" || fail "zcstat did not print the set-user-ID program's line: $(cat "$D/out")"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

[ $failures -eq 0 ] && log "ok: a set-user-ID program ignores ZCSHIM_STATS_FILE, XDG_RUNTIME_DIR and ZCSHIM_STATS_SIGNAL, writes root's default place, says so once; zcstat finds it there"
finish
