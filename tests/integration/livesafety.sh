# The live stats page is made only where nobody else can redirect it, and
# its failures never harm the program: a planted symbolic link, a FIFO or
# another user's file where the page would be is never opened (the page
# takes the name with the uid; both taken: none), a directory of another
# user's or writable by all without the sticky bit is refused, a full
# file system (a 64 KiB tmpfs) and a read-only one fail at the start, not
# with a SIGBUS later. In every case the program exits 0 and standard
# error says once what could not be done; the default place falls back to
# /tmp/zcshim-UID when /run is read-only. zcstat reads across users like
# ps: root every page, a user their own.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (files of the user nobody, mounts)"
NB=$(id -u nobody 2>/dev/null) && NG=$(id -g nobody) || skip "needs the user nobody"
command -v unshare >/dev/null || skip "needs unshare"
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
D=$(mktemp -d /tmp/zcshim-livesafe.XXXXXX)
chmod 1777 "$D"   # shared, like /run/zcshim
W=$(mktemp -d /tmp/zcshim-livesafe.XXXXXX)
trap 'rm -rf "$D" "$W" "$STATS"' EXIT
ME=$(id -u)
LIMIT=20
wrapped && LIMIT=120

# run WHAT DIR SETUP: livesend under the shim with ZCSHIM_STATS_DIR=DIR
# (none: the default places), after SETUP ran in the same process with
# $P its pid-to-be. Sets rc, out, err.
run() {
	what=$1 dir=$2 setup=$3
	timeout $LIMIT sh -c "P=\$\$; $setup
		exec env LD_PRELOAD='$ZCSHIM_LIB' ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
			ZCSHIM_STATS_FILE='$STATS' ${dir:+ZCSHIM_STATS_DIR='$dir'} \
			${ITEST_WRAP:-} '$ITEST_BIN/livesend' 2 0" > "$W/out" 2> "$W/err"
	rc=$?
	P=$(sed -n 's/^pid //p' "$W/out")
	[ $rc -eq 0 ] || fail "$what: the program exited $rc (want 0): $(cat "$W/err")"
}
# said WHAT PATTERN: standard error says it once (each of valgrind's
# stages says it again, under $ITEST_WRAP)
said() {
	n=$(grep -c "no live stats page.*$2" "$W/err")
	[ "$n" = 1 ] || { wrapped && [ "$n" -ge 1 ]; } ||
		fail "$1: want one message matching '$2' on standard error, got $n: $(cat "$W/err")"
}
quiet() {
	grep -q "no live stats page" "$W/err" && fail "$1: unexpected message: $(cat "$W/err")"
}

# A symbolic link in the page's place (to a file of root's): never
# followed; the page takes PID-UID.stats.
printf 'secret\n' > "$W/victim"
run "symlink" "$D" 'ln -s "'"$W/victim"'" "'"$D"'/$P.stats"'
quiet "symlink at PID.stats"
[ "$(cat "$W/victim")" = secret ] || fail "symlink: its target was written"
[ -f "$D/$P-$ME.stats" ] && [ ! -L "$D/$P-$ME.stats" ] || fail "symlink: no page $P-$ME.stats: $(ls -l "$D")"
"$TOOLS/zcstat" --dir "$D" "$P" | grep -q "^pid $P (.*) exited" || fail "zcstat does not find $P-$ME.stats"
# Both names links: no page, said once.
run "two symlinks" "$D" 'ln -s "'"$W/victim"'" "'"$D"'/$P.stats"; ln -s "'"$W/victim"'" "'"$D"'/$P-'"$ME"'.stats"'
said "two symlinks" "taken by a file that is not this user's"
[ "$(cat "$W/victim")" = secret ] || fail "two symlinks: the target was written"

# FIFOs: never opened (a reader would make the open wait).
run "fifo" "$D" 'mkfifo "'"$D"'/$P.stats" "'"$D"'/$P-'"$ME"'.stats"'
said "fifo" "taken by"
[ -p "$D/$P.stats" ] || fail "fifo: the FIFO was replaced"

# Another user's files: never opened, never removed.
run "foreign file" "$D" 'for f in "'"$D"'/$P.stats" "'"$D"'/$P-'"$ME"'.stats"; do echo theirs > "$f"; chown '"$NB:$NG"' "$f"; done'
said "foreign file" "taken by"
[ "$(cat "$D/$P.stats")" = theirs ] && [ "$(command stat -c %u "$D/$P.stats")" = "$NB" ] ||
	fail "foreign file: another user's file was changed"

# Directories another user can change.
mkdir "$W/theirs" && chown "$NB:$NG" "$W/theirs"
run "foreign directory" "$W/theirs" ''
said "foreign directory" "belongs to another user"
[ -z "$(ls "$W/theirs")" ] || fail "foreign directory: a page was made in it"
mkdir -m 0777 "$W/open" && chmod 0777 "$W/open"
run "world-writable directory" "$W/open" ''
said "world-writable directory" "writable by every user and has no sticky bit"
[ -z "$(ls "$W/open")" ] || fail "world-writable directory: a page was made in it"

# A full file system: refused at the start, the file removed; no SIGBUS.
mkdir -p "$W/full"
timeout $LIMIT unshare -m sh -c '
	mount -t tmpfs -o size=64k,mode=1777 tmpfs "$1" || exit 9
	dd if=/dev/zero of="$1/fill" bs=4k count=64 2>/dev/null
	env LD_PRELOAD="$2" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_STATS_FILE="$3" \
		ZCSHIM_STATS_DIR="$1" $5 "$4" 2 0 || exit
	ls "$1" >&2' \
	sh "$W/full" "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/livesend" "${ITEST_WRAP:-}" > "$W/out" 2> "$W/err"
rc=$?
[ $rc -eq 0 ] && grep -q '^pid ' "$W/out" || fail "full disk: exit $rc: $(cat "$W/err")"
said "full disk (64 KiB tmpfs)" "no space left"
grep -qx '[0-9-]*\.stats' "$W/err" && fail "full disk: the page's file was left behind: $(cat "$W/err")"

# A read-only /run: the default place falls back to /tmp/zcshim-UID
# (quietly); named with ZCSHIM_STATS_DIR, it is refused, said once.
for how in default named; do
	timeout $LIMIT unshare -m sh -c '
		mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 1777 /run/zcshim &&
			mount -o remount,ro /run || exit 9
		[ "$1" = named ] && export ZCSHIM_STATS_DIR=/run/zcshim
		exec env -u XDG_RUNTIME_DIR LD_PRELOAD="$2" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
			ZCSHIM_STATS_FILE="$3" $5 "$4" 2 0' \
		sh "$how" "$ZCSHIM_LIB" "$STATS" "$ITEST_BIN/livesend" "${ITEST_WRAP:-}" > "$W/out" 2> "$W/err"
	rc=$?
	P=$(sed -n 's/^pid //p' "$W/out")
	[ $rc -eq 0 ] && [ -n "$P" ] || fail "read-only /run ($how): exit $rc: $(cat "$W/err")"
	if [ $how = default ]; then
		quiet "read-only /run, default place"
		[ -f "/tmp/zcshim-$ME/$P.stats" ] || fail "read-only /run: no page in /tmp/zcshim-$ME"
		"$TOOLS/zcstat" "$P" | grep -q "^pid $P (.*) exited" || fail "zcstat does not find /tmp/zcshim-$ME/$P.stats"
		rm -f "/tmp/zcshim-$ME/$P.stats"
	else
		said "read-only /run, ZCSHIM_STATS_DIR=/run/zcshim" "read-only file system"
	fi
done

# Across users, like ps: nobody's page is nobody's, 0600; root and nobody
# read it, another user (daemon) is told it is another user's. The other
# users run copies of the programs and the library from a directory they
# can reach, wherever the build tree is (it may be private to root).
DM=$(id -u daemon 2>/dev/null) || DM=1
X=$(mktemp -d /tmp/zcshim-livesafe.XXXXXX)
trap 'rm -rf "$D" "$W" "$X" "$STATS"' EXIT
cp "$ITEST_BIN/livesend" "$TOOLS/zcstat" "$X/" && cp "$ZCSHIM_LIB" "$X/libzcshim.so" &&
	chmod 755 "$X" "$X"/* || fail "cannot prepare $X"
timeout $LIMIT setpriv --reuid="$NB" --regid="$NG" --clear-groups env LD_PRELOAD="$X/libzcshim.so" \
	ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_STATS_DIR="$D" ${ITEST_WRAP:-} \
	"$X/livesend" 2 0 > "$W/out" 2> "$W/err" || fail "livesend as nobody: $(cat "$W/err")"
P=$(sed -n 's/^pid //p' "$W/out")
[ "$(command stat -c %u:%a "$D/$P.stats" 2>/dev/null)" = "$NB:600" ] ||
	fail "nobody's page is not nobody's, 0600: $(ls -l "$D/$P.stats" 2>&1)"
"$TOOLS/zcstat" --dir "$D" "$P" | grep -q "^pid $P " || fail "root cannot read nobody's page"
setpriv --reuid="$NB" --regid="$NG" --clear-groups "$X/zcstat" --dir "$D" "$P" | grep -q "^pid $P " ||
	fail "nobody cannot read its own page"
setpriv --reuid="$DM" --regid="$DM" --clear-groups "$X/zcstat" --dir "$D" "$P" > "$W/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "another user's" "$W/out" || fail "another user read nobody's page: exit $rc, $(cat "$W/out")"

[ $failures -eq 0 ] && log "ok: symlink, FIFO, foreign file, foreign and open directories, full and read-only file systems: refused, said once, the program unharmed"
finish
