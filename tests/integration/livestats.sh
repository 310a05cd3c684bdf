# The live stats page: zcstat reads a running sender's counters with no
# signal (its stats file stays empty), the final counters after exit with
# an exit mark, "gone" for a process that ended without exit (_exit, a
# kill); a fork child (fork and _Fork) and an exec'd program each get
# their own page, and the parent's is never written by the child (not
# even by a _Fork child's malloc before its reset);
# --watch shows the counters moving; `zcstat PID` keeps its form.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
D=$(mktemp -d /tmp/zcshim-live.XXXXXX)
OUT=$(mktemp /tmp/zcshim-live.XXXXXX)
trap 'kill $BG 2>/dev/null; rm -rf "$D" "$OUT" "$OUT".* "$STATS"' EXIT
BG=
EXTRA_ENV="ZCSHIM_STATS_DIR=$D"
zcstat() { "$TOOLS/zcstat" --dir "$D" "$@"; }
# field FILE KEY: a key of a zcstat --json line
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"; }
# pid_of FILE WORD: wait for "WORD PID" in FILE
pid_of() {
	for _ in $(seq 200); do
		p=$(sed -n "s/^$2 \([0-9]*\)$/\1/p" "$1")
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.05
	done
}

# A running sender: its counters, no signal.
shim "$ITEST_BIN/livesend" 20 3 > "$OUT" & BG=$!
P=$(pid_of "$OUT" pid)
[ -n "$P" ] || fail "livesend did not start: $(cat "$OUT")"
zcstat --json "$P" > "$OUT.j" || fail "zcstat --json $P: $(cat "$OUT.j")"
[ "$(field "$OUT.j" state)" = running ] || fail "a running sender's page says $(field "$OUT.j" state)"
# (under valgrind the thread name is valgrind's)
wrapped || [ "$(field "$OUT.j" comm)" = livesend ] || fail "comm: $(field "$OUT.j" comm)"
zs=$(field "$OUT.j" zc_sends)
[ "${zs:-0}" -gt 0 ] || fail "a running sender's page shows zc_sends=$zs (want > 0)"
zcstat "$P" > "$OUT.t" 2>&1 && grep -q "^pid $P (.*) running" "$OUT.t" && grep -q "zc_sends" "$OUT.t" ||
	fail "zcstat PID (table): $(head -2 "$OUT.t")"
[ ! -s "$STATS" ] || fail "zcstat sent the stats signal (the stats file has: $(head -c 200 "$STATS"))"
wait $BG
# Exited: final counters, the exit mark.
zcstat --json "$P" > "$OUT.j" || fail "zcstat on an exited pid: $(cat "$OUT.j")"
[ "$(field "$OUT.j" state)" = exited ] || fail "an exited sender's page says $(field "$OUT.j" state)"
[ "$(field "$OUT.j" zc_sends)" = "$zs" ] || fail "final zc_sends $(field "$OUT.j" zc_sends), was $zs"
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["exited"] >= d["started"] > 0' "$OUT.j" ||
	fail "exit time missing: $(cat "$OUT.j")"
zcstat "$P" | grep -q "^pid $P (.*) exited at" || fail "table of an exited pid: $(zcstat "$P" | head -1)"

# Ended without exit(): gone.
shim "$ITEST_BIN/livesend" 2 0 _exit > "$OUT"
P=$(pid_of "$OUT" pid)
zcstat --json "$P" > "$OUT.j" && [ "$(field "$OUT.j" state)" = gone ] ||
	fail "a process that called _exit: $(cat "$OUT.j")"
shim "$ITEST_BIN/livesend" 2 30 > "$OUT" & BG=$!
P=$(pid_of "$OUT" pid)
kill -KILL "$P"; wait $BG 2>/dev/null
zcstat --json "$P" > "$OUT.j" && [ "$(field "$OUT.j" state)" = gone ] ||
	fail "a killed process: $(cat "$OUT.j")"

# Fork children, with and without fork's handlers: a page each.
for mode in fork _fork; do
	shim "$ITEST_BIN/livesend" 10 1 $mode > "$OUT" & BG=$!
	PP=$(pid_of "$OUT" parent)
	C=$(pid_of "$OUT" child)
	[ -n "$PP" ] && [ -n "$C" ] || { fail "$mode: no pids: $(cat "$OUT")"; continue; }
	zcstat --json "$C" > "$OUT.c" || fail "$mode: no page of the child $C"
	zcstat --json "$PP" > "$OUT.p" || fail "$mode: no page of the parent $PP"
	wait $BG
	[ "$(field "$OUT.c" pid)" = "$C" ] && [ "$(field "$OUT.p" pid)" = "$PP" ] ||
		fail "$mode: pages name pids $(field "$OUT.c" pid) and $(field "$OUT.p" pid)"
	cz=$(field "$OUT.c" zc_sends) pz=$(field "$OUT.p" zc_sends)
	[ "${cz:-0}" -gt "${pz:-0}" ] && [ "${pz:-0}" -gt 0 ] ||
		fail "$mode: child's zc_sends $cz should exceed the parent's $pz (its own 2N sends, from 0)"
	zcstat --json "$PP" > "$OUT.p2"
	[ "$(field "$OUT.p2" zc_sends)" = "$pz" ] && [ "$(field "$OUT.p2" state)" = exited ] ||
		fail "$mode: the parent's page changed after the child ran: $(field "$OUT.p2" zc_sends) (was $pz), $(field "$OUT.p2" state)"
	[ "$mode" = _fork ] && { fu=$(field "$OUT.c" forks_unseen); [ "${fu:-0}" = 1 ] ||
		fail "_Fork child: forks_unseen=$fu in its page (want 1)"; }
done

# A _Fork child counting before its first call into the shim (malloc
# with ZCSHIM_ALIGN=1 counts aligned_allocs) does not count into its
# parent's page, which it still shares until its reset.
EXTRA_ENV="ZCSHIM_STATS_DIR=$D ZCSHIM_ALIGN=1" shim "$ITEST_BIN/livesend" 3 1 _forkalloc > "$OUT" & BG=$!
P=$(pid_of "$OUT" parent)
zcstat --json "$P" > "$OUT.j"
wait $BG
# (valgrind's malloc replaces the shim's: no aligned_allocs there)
wrapped || [ "$(field "$OUT.j" aligned_allocs)" = 3 ] ||
	fail "_Fork child before its reset: the parent's page shows aligned_allocs=$(field "$OUT.j" aligned_allocs) (want its own 3)"

# exec: the new program's own page under the same pid.
shim sh -c 'exec "$0" 3 1' "$ITEST_BIN/livesend" > "$OUT" & BG=$!
P=$(pid_of "$OUT" pid)
zcstat --json "$P" > "$OUT.j"
{ wrapped || [ "$(field "$OUT.j" comm)" = livesend ]; } && [ "$(field "$OUT.j" state)" = running ] ||
	fail "after exec: $(cat "$OUT.j")"
wait $BG
[ "$(ls "$D" | grep -c "^$P[.-]")" = 1 ] || fail "after exec, pages of $P: $(ls "$D")"

# A pid now of another process: an earlier page with it is not shown as
# this one's. (A planted page, as an ended process with this shell's pid.)
cp "$D/$(ls "$D" | grep '\.stats$' | head -n 1)" "$OUT.page"
python3 - "$OUT.page" $$ <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<i', b, 3072 + 40, int(sys.argv[2]))   # hdr.pid
struct.pack_into('<I', b, 3072 + 36, 2)                  # hdr.state: exited
open(sys.argv[1], 'wb').write(b)
PY
cp "$OUT.page" "$D/$$.stats"
zcstat "$$" > "$OUT.t" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "process $$ has no live stats page (the one found is of an earlier process" "$OUT.t" ||
	fail "a reused pid: exit $rc, $(head -2 "$OUT.t")"
rm -f "$D/$$.stats"

# --watch: the counters move, no signal.
: > "$STATS"
shim "$ITEST_BIN/livesend" 0 3 loop > "$OUT" & BG=$!
P=$(pid_of "$OUT" pid)
timeout 2.5 "$TOOLS/zcstat" --dir "$D" --json --watch 1 "$P" > "$OUT.w"
wait $BG
python3 - "$OUT.w" <<'PY' || fail "zcstat --watch 1: $(cut -c1-120 "$OUT.w")"
import json, sys
v = [json.loads(l)["zc_sends"] for l in open(sys.argv[1])]
assert len(v) >= 2 and v[-1] > v[0], v
PY
[ ! -s "$STATS" ] || fail "zcstat --watch sent the stats signal"

[ $failures -eq 0 ] && log "ok: live pages read without a signal (running, exited, gone); fork, _Fork and exec each get their own; --watch moves"
finish
