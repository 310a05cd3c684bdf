# memcached under the shim: a content cache that sends large items from
# memory it does not rewrite until an item is overwritten (its slab chunk
# then reused, through the guard). See mcload.c for the client. After a
# warm-up, the bytes of large replies must go out with zerocopy, every
# value must read back as written, guard faults stay at or below one per
# overwritten item, and memcached must still serve at the end.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
command -v memcached >/dev/null || skip "needs memcached (Debian package memcached; scripts/check installs it)"
command -v python3 >/dev/null || skip "needs python3 (to find a free port)"
# Under valgrind memcached's four threads and 4 MiB items would take many
# minutes, and the point there is the shim's own memory errors, which the
# smaller programs of the other tests reach.
wrapped && skip "memcached is not run under $ITEST_WRAP (too slow with 4 MiB items)"

MC=
trap 'rm -f "$STATS"; [ -n "$MC" ] && kill "$MC" 2>/dev/null; wait 2>/dev/null' EXIT

# memcached's stop signal is SIGUSR1 (a graceful shutdown): the stats
# dump moves to a real-time signal it leaves alone.
SIG=40

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { # alive: memcached answers "version"
	timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && printf "version\r\n" >&3 &&
		read -r l <&3 && case $l in VERSION*) exit 0;; esac; exit 1' sh "$PORT" 2>/dev/null
}

# start VAR=VALUE...: memcached under the shim on a free port of 127.0.0.1.
start() {
	: > "$STATS"
	for try in 1 2 3; do
		PORT=$(free_port)
		# (env execs memcached: $! is memcached, and it alone has the
		# shim; the EXIT trap ends it whatever happens.)
		env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=16K \
			ZCSHIM_STATS_SIGNAL=$SIG ZCSHIM_STATS_FILE="$STATS" "$@" \
			memcached -u root -l 127.0.0.1 -p "$PORT" -U 0 -t 4 -I 8m -m 1024 &
		MC=$!
		for i in $(seq 50); do alive && return 0; sleep 0.1; done
		kill "$MC" 2>/dev/null; wait "$MC" 2>/dev/null; MC=
	done
	fail "memcached did not start under the shim"
	return 1
}

# dump: a new stats line from memcached (waits up to 5 s).
dump() {
	local n
	n=$(wc -l < "$STATS")
	kill -$SIG "$MC"
	for i in $(seq 50); do
		[ "$(wc -l < "$STATS")" -gt "$n" ] && return 0
		sleep 0.1
	done
	fail "memcached wrote no stats line on signal $SIG"
	return 1
}

# delta KEY: KEY's growth between the first and the last stats line.
delta() {
	local a b
	a=$(head -n 1 "$STATS" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
	b=$(tail -n 1 "$STATS" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
	echo $(( ${b:-0} - ${a:-0} ))
}

KEYS=24
# run: warm up, a stats line, the load, a stats line. Sets SETS.
run() {
	local out
	timeout 60 "$ITEST_BIN/mcload" "$PORT" warm $KEYS > /dev/null ||
		{ fail "$1: warm-up: mcload exited $?"; return 1; }
	dump || return 1
	out=$(timeout 120 "$ITEST_BIN/mcload" "$PORT" load $KEYS 6 300 60)
	rc=$?
	[ $rc = 0 ] || fail "$1: mcload exited $rc (1: a value read back wrong)"
	SETS=$(echo "$out" | sed -n 's/^sets \([0-9]*\) .*/\1/p')
	dump || return 1
	alive || fail "$1: memcached does not answer after the load"
	kill -0 "$MC" 2>/dev/null || fail "$1: memcached is gone"
	log "$1: $out"
}

# Every large send with zerocopy (ZCSHIM_ADAPT=0): the share must be
# (nearly) all, the guard's faults come from overwrites only.
if start ZCSHIM_ADAPT=0; then
	before=$failures
	run "ZCSHIM_ADAPT=0"
	z=$(delta zc_bytes) c=$(delta copy_bytes) f=$(delta guard_faults)
	[ "$z" -gt 0 ] && [ $(( z * 100 )) -ge $(( (z + c) * 90 )) ] ||
		fail "ZCSHIM_ADAPT=0: $z of $((z + c)) bytes of large replies went zerocopy (want 90% or more): $(tail -n 1 "$STATS" | tr , '\n' | grep '"copy_' | tr '\n' ' ')"
	# Under userfaultfd with kernel faults covered, an item's unaligned
	# first and last pages go out in place too (edges): the first holds
	# memcached's item header, which it writes on the next get (the
	# refcount), the last the next item's. Each such page faults once,
	# then is marked and copied. Without edges (mprotect) every fault is
	# an overwrite's: 42 to 48 for 137 overwrites; with them, 105 to 139.
	# So the bound is one per overwrite plus one per edge page of the
	# items that lived meanwhile (two each: the $KEYS warmed and every
	# overwrite's new one).
	limit=${SETS:-0}
	if [ "$(num guard_kernel_faults)" -gt 0 ] && [ "$(num edge_sends)" -gt 0 ]; then
		limit=$(( ${SETS:-0} + 2 * (${SETS:-0} + KEYS) ))
	fi
	[ -n "${SETS:-}" ] && [ "$f" -le "$limit" ] ||
		fail "ZCSHIM_ADAPT=0: $f guard faults for ${SETS:-?} overwritten items (want at most $limit: one per overwrite, and one per edge page when edges are sent)"
	reasons_add_up "ZCSHIM_ADAPT=0"
	# A reply of an item read again unchanged (header, item, END in one
	# sendmsg) goes by its socket's ring, without the global lock.
	k=$(delta kept_sends)
	[ "$k" -gt 0 ] ||
		fail "ZCSHIM_ADAPT=0: no reply went by its socket's ring (kept_sends=0 over the load; want > 0)"
	[ $failures -eq $before ] &&
		log "ok: ZCSHIM_ADAPT=0: $z of $((z + c)) large-reply bytes zerocopy ($k sends of kept items, $(delta zc_sends) in all), $f guard faults for $SETS overwrites (at most $limit), every value intact"
	kill "$MC"; wait "$MC" 2>/dev/null; MC=
fi

# The defaults: an overwritten item's reused chunks are a first strike,
# still sent with zerocopy; a chunk reused again after a single send is
# taken for a rewritten buffer and its next sends copied (copy_rewritten),
# and a call none of whose chunks was sent before is copied when a guard
# cycle for it alone costs more (copy_cost_model). Most bytes still go
# zerocopy (80 to 95% here; 9% when a first write made a buffer hot).
# Every value intact, and the reasons account for every copy.
if start; then
	before=$failures
	run "defaults"
	z=$(delta zc_bytes) c=$(delta copy_bytes)
	[ "$z" -gt 0 ] && [ $(( z * 100 )) -ge $(( (z + c) * 60 )) ] ||
		fail "defaults: $z of $((z + c)) bytes of large replies went zerocopy (want 60% or more): $(tail -n 1 "$STATS" | tr , '\n' | grep '"copy_' | grep -v ':0$' | tr '\n' ' ')"
	reasons_add_up "defaults"
	[ $failures -eq $before ] &&
		log "ok: defaults: $z of $((z + c)) large-reply bytes zerocopy; copied: $(tail -n 1 "$STATS" | tr ',{}' '\n\n\n' | grep '"copy_' | grep -v ':0$' | tr '\n' ' ')"
	kill "$MC"; wait "$MC" 2>/dev/null; MC=
fi
finish
