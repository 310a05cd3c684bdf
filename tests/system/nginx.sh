# nginx under the shim: sendfile off, large output buffers, two workers,
# files of 50 KB to 8 MB to concurrent clients, each download checked by
# SHA-256; wrk runs clean; SIGUSR1 still reopens the logs, and every nginx
# process writes its stats line.
. "${ITEST_SRC:?set by make check}/../system/lib.sh" || exit 99
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] && command -v curl >/dev/null && command -v wrk >/dev/null ||
	skip "needs nginx, curl and wrk"
PORT=$(free_port)
mkdir -p "$WORK/html" "$WORK/logs" "$WORK/tmp"
for size in 50000 333333 1000000 4000000 8000000; do
	head -c "$size" /dev/urandom > "$WORK/html/f$size.bin"
done
chmod -R a+rwX "$WORK"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log notice;
daemon off;
events { worker_connections 512; }
http {
	access_log $WORK/logs/access.log;
	client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
	fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
	sendfile off;
	output_buffers 2 512k;
	server { listen 127.0.0.1:$PORT; root $WORK/html; }
}
CONF
env "${SHIM_ENV[@]}" "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>"$WORK/nginx.err" &
PIDS+=($!)
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/f50000.bin" ||
	{ fail "nginx did not start: $(cat "$WORK/nginx.err" "$WORK/logs/error.log" | tail -5)"; finish; }
MASTER=$(cat "$WORK/nginx.pid")

# Concurrent downloads, each checked.
(cd "$WORK/html" && sha256sum f*.bin) > "$WORK/want.sha"
for round in 1 2 3 4; do
	for f in "$WORK"/html/f*.bin; do echo "$(basename "$f") $round"; done
done | xargs -P 8 -n 2 sh -c 'curl -sf "http://127.0.0.1:'"$PORT"'/$0" -o "'"$WORK"'/dl.$0.$1" || echo "curl failed: $0"' > "$WORK/curl.out"
[ -s "$WORK/curl.out" ] && fail "downloads failed: $(head -3 "$WORK/curl.out")"
bad=0
for dl in "$WORK"/dl.*; do
	name=$(basename "$dl" | sed 's/^dl\.\(.*\.bin\)\..*/\1/')
	want=$(grep " $name\$" "$WORK/want.sha" | cut -d' ' -f1)
	got=$(sha256sum < "$dl" | cut -d' ' -f1)
	[ "$want" = "$got" ] || { bad=$((bad + 1)); log "changed: $name"; }
done
n=$(ls "$WORK"/dl.* | wc -l)
[ "$n" -eq 20 ] || fail "$n of 20 downloads arrived"
[ $bad -eq 0 ] || fail "$bad of $n downloads came back changed"

wrk -t2 -c16 -d3s "http://127.0.0.1:$PORT/f1000000.bin" > "$WORK/wrk.out" 2>&1 || fail "wrk failed"
grep -q "Socket errors\|Non-2xx" "$WORK/wrk.out" && fail "wrk saw errors: $(grep -E 'Socket errors|Non-2xx' "$WORK/wrk.out")"
log "wrk: $(grep -E 'Requests/sec|Transfer/sec' "$WORK/wrk.out" | tr -s ' ' | tr '\n' ' ')"

# SIGUSR1: nginx reopens its logs (the master passes the order to its
# workers over its channel, not as a signal), and every process an operator
# signals writes a stats line.
WORKERS=$(pgrep -P "$MASTER")
before=$(grep -c 'reopening logs' "$WORK/logs/error.log")
kill -USR1 "$MASTER"
sleep 0.5
for p in $WORKERS; do kill -USR1 "$p"; done
sleep 1
after=$(grep -c 'reopening logs' "$WORK/logs/error.log")
[ "$after" -gt "$before" ] || fail "nginx did not reopen its logs on SIGUSR1"
for p in $MASTER $WORKERS; do
	[ -s "$WORK/zc.$p.json" ] || fail "nginx process $p wrote no stats line on SIGUSR1"
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/f50000.bin" || fail "nginx stopped serving after SIGUSR1"
z=0 g=0
for p in $WORKERS; do
	z=$(( z + $(stat0 "$p" zc_sends) ))
	g=$(( g + $(stat0 "$p" guard_faults) + $(stat0 "$p" cow_pages) + $(stat0 "$p" kernel_write_resolves) + $(stat0 "$p" discard_pages) + $(stat0 "$p" quarantined) ))
done
if [ "${SYSTEM_JEMALLOC:-0}" = 1 ]; then
	for p in $MASTER $WORKERS; do
		uses_jemalloc "$p" || fail "nginx process $p does not have jemalloc mapped"
	done
fi
# The workers drop root for nobody after the fork: under the userfaultfd
# guard with kernel-fault rights in the master, each opened its own
# userfaultfd at the fork, as root, so kernel writes still wait in them.
if [ "$(stat0 "$MASTER" guard_kernel_faults)" = 1 ]; then
	for p in $WORKERS; do
		[ "$(ps -o uid= -p "$p" | tr -d ' ')" != 0 ] || log "note: worker $p runs as root"
		[ "$(stat0 "$p" guard_kernel_faults)" = 1 ] ||
			fail "worker $p lost the kernel-fault rights of its master's guard"
		[ "$(stat0 "$p" guard_uffd)" = 1 ] || fail "worker $p does not use the userfaultfd guard"
	done
	log "ok: workers (uid $(ps -o uid= -p $(echo $WORKERS | cut -d' ' -f1) | tr -d ' ')) keep the master's kernel-fault rights"
fi
[ "$z" -gt 0 ] || fail "the workers sent nothing with zerocopy"
[ "$g" -gt 0 ] || fail "the guard never acted in the workers"
[ $failures -eq 0 ] && log "ok: nginx: $n downloads intact, $z zerocopy sends, guard activity $g, logs reopened, $(echo $MASTER $WORKERS | wc -w) stats lines"
finish
