# redis-server under the shim: concurrent clients SET and GET 16 KiB to
# 3 MiB values, every byte checked; redis-benchmark with large values;
# SIGUSR1 dumps the stats and redis keeps serving; BGSAVE forks and saves.
. "${ITEST_SRC:?set by make check}/../system/lib.sh" || exit 99
command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
	command -v redis-benchmark >/dev/null || skip "needs redis-server and redis-tools"
PORT=$(free_port)
env "${SHIM_ENV[@]}" redis-server --port "$PORT" --bind 127.0.0.1 --save "" \
	--appendonly no --dir "$WORK" --dbfilename dump.rdb --logfile "$WORK/redis.log" &
PID=$!
PIDS+=("$PID")
wait_for 10 redis-cli -p "$PORT" ping || { fail "redis did not start: $(tail -3 "$WORK/redis.log")"; finish; }

python3 "$SYS_SRC/redis_client.py" "$PORT" 8 25 || fail "values changed or lost through redis"

redis-benchmark -p "$PORT" -t set,get -n 2000 -c 8 -d 200000 -q > "$WORK/bench.out" 2>&1 ||
	fail "redis-benchmark failed: $(tail -3 "$WORK/bench.out")"
grep -qi error "$WORK/bench.out" && fail "redis-benchmark reported errors: $(grep -i error "$WORK/bench.out" | head -3)"
log "redis-benchmark: $(tr '\n' ' ' < "$WORK/bench.out" | tr -s ' ' | cut -c1-150)"

# BGSAVE: a fork child under the shim writes the dump.
redis-cli -p "$PORT" bgsave >/dev/null
wait_for 20 sh -c "redis-cli -p $PORT info persistence | grep -q 'rdb_bgsave_in_progress:0'"
redis-cli -p "$PORT" info persistence | grep -q 'rdb_last_bgsave_status:ok' ||
	fail "BGSAVE did not succeed: $(tail -3 "$WORK/redis.log")"
[ -s "$WORK/dump.rdb" ] || fail "BGSAVE wrote no dump"

# SIGUSR1: the stats line, and redis carries on.
kill -USR1 "$PID"
wait_for 5 test -s "$WORK/zc.$PID.json" || fail "no stats line from redis after SIGUSR1"
redis-cli -p "$PORT" ping | grep -q PONG || fail "redis stopped serving after SIGUSR1"
python3 "$SYS_SRC/redis_client.py" "$PORT" 2 5 || fail "values changed after SIGUSR1"
kill -USR1 "$PID"
sleep 0.3

z=$(stat0 "$PID" zc_sends)
g=$(( $(stat0 "$PID" guard_faults) + $(stat0 "$PID" cow_pages) + $(stat0 "$PID" discard_pages) + $(stat0 "$PID" quarantined) + $(stat0 "$PID" kernel_write_resolves) ))
[ "${z:-0}" -gt 0 ] || fail "redis sent nothing with zerocopy: $(tail -1 "$WORK/zc.$PID.json")"
[ "$g" -gt 0 ] || fail "the guard never acted in redis: $(tail -1 "$WORK/zc.$PID.json")"
[ $failures -eq 0 ] && log "ok: redis: $z zerocopy replies, guard activity $g, BGSAVE ok, SIGUSR1 ok"
finish
