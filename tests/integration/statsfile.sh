# Nothing another local user puts in a shared directory stops the program
# or redirects its stats line. The stats signal never blocks (a FIFO where
# the stats file would be), and the line goes only to a regular file of the
# process's own user with one link, in a directory only that user or root
# can change (or a sticky one, like /tmp): not through a FIFO someone
# reads, a hard link to another file, a symbolic link or directory of
# another user's, or a world-writable directory without the sticky bit.
# %p in XDG_RUNTIME_DIR is part of the directory's name: the directory the
# shim checks is the one it writes to.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (plants files as the user nobody)"
NB=$(id -u nobody 2>/dev/null) && NG=$(id -g nobody) || skip "needs the user nobody"
command -v setpriv >/dev/null && command -v unshare >/dev/null || skip "needs setpriv and unshare"
D=$(mktemp -d /tmp/zcshim-statsfile.XXXXXX)   # a shared directory, like /tmp
R=$(mktemp -d /tmp/zcshim-statsfile.XXXXXX)   # root's own
chmod 1777 "$D"
P=
trap 'rm -rf "$D" "$R" "$STATS"; [ -n "$P" ] && rm -f "/run/zcshim/$P.json"; kill $READER 2>/dev/null' EXIT
READER=
LIMIT=10
wrapped && LIMIT=120
nobody() { setpriv --reuid="$NB" --regid="$NG" --clear-groups "$@"; }
printf 'secret\n' > "$R/secret"; chmod 600 "$R/secret"

# run WHAT ENV...: statsjson (two stats signals, then exit) under the shim.
run() {
	what=$1; shift
	t0=$(date +%s%N)
	timeout $LIMIT env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 \
		"$@" ${ITEST_WRAP:-} "$ITEST_BIN/statsjson" > "$D/out" 2> "$D/err"
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 0 ] || fail "$what: the program exited $rc after $ms ms (want 0 within ${LIMIT}s)"
}

# refused WHAT: standard error says once that the line is not written
# (under $ITEST_WRAP, each of valgrind's own dynamically linked stages
# loads the shim too and says it again at start).
refused() {
	n=$(grep -c 'cannot write the stats line' "$D/err")
	if wrapped; then
		[ "$n" -ge 1 ] || fail "$1: the refusal was not reported"
	else
		[ "$n" = 1 ] || fail "$1: the refusal was reported $n times (want once): $(cat "$D/err")"
	fi
}

# The default place, /run/zcshim/PID.json, with a FIFO planted by nobody
# before the program's first stats signal (no reader: a blocking open()
# would wait for one for ever).
[ -d /run/zcshim ] || mkdir -m 1777 /run/zcshim
mkfifo "$D/go"
timeout $LIMIT sh -c 'echo $$ > "$1"; read _ < "$2"; shift 2; exec "$@"' sh "$D/pid" "$D/go" \
	env -u ZCSHIM_STATS_FILE -u XDG_RUNTIME_DIR LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force \
	ZCSHIM_THRESHOLD=4096 ${ITEST_WRAP:-} "$ITEST_BIN/statsjson" > "$D/out" 2> "$D/err" &
J=$!
for _ in $(seq 100); do [ -s "$D/pid" ] && break; sleep 0.05; done
P=$(cat "$D/pid")
# A file left there by an earlier process with the same pid (pids wrap
# around in a long run) is stale: this pid's program has not started yet.
rm -f "/run/zcshim/$P.json"
nobody mkfifo -m 622 "/run/zcshim/$P.json" || fail "nobody cannot plant a FIFO in /run/zcshim"
t0=$(date +%s%N)
echo go > "$D/go"
wait $J
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -eq 0 ] || fail "FIFO at /run/zcshim/$P.json: the program exited $rc after $ms ms (want 0: the stats signal must never block)"
[ -p "/run/zcshim/$P.json" ] || fail "the planted FIFO was replaced"
refused "FIFO at the default place"
log "FIFO at the default place: exit $rc after $ms ms"

# A FIFO someone reads: the line would go to the reader.
nobody mkfifo -m 622 "$D/read.json"
nobody sh -c 'exec cat < "$1" > "$2"' sh "$D/read.json" "$D/stolen" &
READER=$!
sleep 0.2
run "FIFO with a reader" ZCSHIM_STATS_FILE="$D/read.json"
refused "FIFO with a reader"
kill $READER 2>/dev/null; wait $READER 2>/dev/null; READER=
[ -s "$D/stolen" ] && fail "the stats line went to the reader of a FIFO: $(head -c 80 "$D/stolen")"

# A hard link to another file of root's (what a user may make where
# fs.protected_hardlinks is 0).
ln "$R/secret" "$D/hard.json"
run "hard link" ZCSHIM_STATS_FILE="$D/hard.json"
refused "hard link"
[ "$(cat "$R/secret")" = secret ] || fail "the stats line went through a hard link into $R/secret"

# A symbolic link of nobody's, to the file and to a directory of root's.
nobody ln -s "$R/secret" "$D/link.json"
run "symbolic link" ZCSHIM_STATS_FILE="$D/link.json"
refused "symbolic link"
nobody ln -s "$R" "$D/linkdir"
run "symbolic link to a directory" ZCSHIM_STATS_FILE="$D/linkdir/zc.json"
refused "symbolic link to a directory"
[ -e "$R/zc.json" ] && fail "the stats line followed nobody's symbolic link $D/linkdir to $R"
[ "$(cat "$R/secret")" = secret ] || fail "the stats line reached $R/secret through a symbolic link"

# A file of nobody's.
nobody sh -c 'umask 0; : > "$1"' sh "$D/theirs.json"
run "file of another user" ZCSHIM_STATS_FILE="$D/theirs.json"
refused "file of another user"
[ -s "$D/theirs.json" ] && fail "the stats line went to a file of nobody's"

# A directory of nobody's, and a world-writable one without the sticky bit:
# whoever can write it can swap the file the line goes to.
nobody mkdir -m 755 "$D/theirs"
run "directory of another user" ZCSHIM_STATS_FILE="$D/theirs/zc.json"
refused "directory of another user"
[ -e "$D/theirs/zc.json" ] && fail "the stats line went to a directory of nobody's"
mkdir "$D/open"; chmod 777 "$D/open"
run "world-writable directory" ZCSHIM_STATS_FILE="$D/open/zc.json"
refused "world-writable directory"
[ -e "$D/open/zc.json" ] && fail "the stats line went to a world-writable directory without the sticky bit"

# Still written where it is safe: a new file, a file of root's with one link.
run "a file in root's directory" ZCSHIM_STATS_FILE="$R/zc.%p.json"
pid=$(cat "$D/out")
[ "$(grep -c '^{"pid":' "$R/zc.$pid.json" 2>/dev/null)" = 2 ] || fail "want 2 lines in $R/zc.$pid.json"
[ -s "$D/err" ] && fail "a safe stats file was reported: $(cat "$D/err")"
run "an existing file of root's" ZCSHIM_STATS_FILE="$R/zc.$pid.json"
[ "$(grep -c '^{"pid":' "$R/zc.$pid.json" 2>/dev/null)" = 4 ] || fail "want 4 lines in $R/zc.$pid.json"

# XDG_RUNTIME_DIR with %p in its name (root's /run/zcshim made unusable, in
# a mount namespace of the test's own): nobody prepares the directory the
# pid would expand to.
mkdir -m 700 "$D/run%p"
rm -f "$D/pid"
timeout $LIMIT unshare -m sh -c 'mount -t tmpfs -o ro,mode=755 none /run/zcshim || exit 2
	echo $$ > "$1"; read _ < "$2"; shift 2; exec "$@"' sh "$D/pid" "$D/go" \
	env -u ZCSHIM_STATS_FILE XDG_RUNTIME_DIR="$D/run%p" LD_PRELOAD="$ZCSHIM_LIB" \
	ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ${ITEST_WRAP:-} "$ITEST_BIN/statsjson" > "$D/out" 2> "$D/err" &
J=$!
for _ in $(seq 100); do [ -s "$D/pid" ] && break; sleep 0.05; done
x=$(cat "$D/pid")
nobody mkdir -m 777 "$D/run$x" "$D/run$x/zcshim"
echo go > "$D/go"
wait $J || fail "XDG_RUNTIME_DIR with %p: the program exited $?"
[ -e "$D/run$x/zcshim/$x.json" ] && fail "XDG_RUNTIME_DIR=$D/run%p: the line went to nobody's $D/run$x/zcshim"
[ "$(grep -c '^{"pid":' "$D/run%p/zcshim/$x.json" 2>/dev/null)" = 2 ] ||
	fail "XDG_RUNTIME_DIR=$D/run%p: want 2 lines in $D/run%p/zcshim/$x.json"

[ $failures -eq 0 ] && log "ok: FIFO (no reader: no wait; a reader: nothing read), hard link, symbolic links, another user's file and directory, a world-writable directory: nothing written, reported once; %p in XDG_RUNTIME_DIR stays a name"
finish
