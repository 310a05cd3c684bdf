# varnish under the shim (malloc storage): keep-alive clients in several
# threads fetch objects of 64 KiB to 8 MiB that varnish got from an nginx
# backend, while another connection purges them so they are dropped and
# fetched again while being served; every body is checked by SHA-256.
# The cache worker child must never restart, its stats line (asked of one
# of its threads, see stats_dump) gives the zerocopy share of the large
# replies, and varnish's own SIGSEGV handler still runs. Once as root
# (-j none) and once with the default jail, which runs the worker child as
# the user vcache.
. "${ITEST_SRC:?set by make check}/../system/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (varnishd's jail and its -j none)"
VARNISHD=$(command -v varnishd || echo /usr/sbin/varnishd)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$VARNISHD" ] && [ -x "$NGINX" ] && command -v varnishstat >/dev/null &&
	command -v varnishadm >/dev/null && command -v curl >/dev/null ||
	skip "needs varnish, nginx and curl"
CLIENT="python3 $SYS_SRC/varnish_client.py"

# The backend, without the shim: what the shim does is judged in varnish.
mkdir -p "$WORK/html" "$WORK/logs" "$WORK/tmp"
$CLIENT make "$WORK/html" || { fail "cannot write the objects"; finish; }
BPORT=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
daemon off;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
	fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
	server { listen 127.0.0.1:$BPORT; root $WORK/html; }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>"$WORK/nginx.err" &
PIDS+=($!)
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$BPORT/f65536.bin" ||
	{ fail "the nginx backend did not start: $(tail -3 "$WORK/nginx.err")"; finish; }

cat > "$WORK/default.vcl" <<VCL
vcl 4.1;
backend default { .host = "127.0.0.1"; .port = "$BPORT"; }
acl purgers { "127.0.0.1"; }
sub vcl_recv {
	if (req.method == "PURGE") {
		if (client.ip !~ purgers) { return (synth(405)); }
		return (purge);
	}
}
sub vcl_backend_response { set beresp.ttl = 1h; }
sub vcl_deliver {
	if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
VCL

# varnish's cache worker leaves its CLI loop, and so exits, when the poll()
# of its main thread returns EINTR: a handled signal sent to the process
# ends it (and SIGUSR1, which varnish does not handle, kills it without
# the shim). zcstat sends the stats signal to a thread waiting in futex
# instead (tools/zcstat.c), so asking for the stats must leave the worker
# as it was (child_steady). The signal is moved off SIGUSR1 all the same.
ZCSTAT=$ITEST_BIN/../../tools/zcstat
SHIM_ENV+=(ZCSHIM_STATS_SIGNAL=RTMIN+3)

# start_varnish NAME JAIL: a varnishd in the foreground (-F) with its
# working directory WORK/NAME; sets MGR and CHILD (the cache worker) and
# PORT.
start_varnish() {
	PORT=$(free_port)
	APORT=$(free_port)
	VDIR=$WORK/$1
	env "${SHIM_ENV[@]}" "$VARNISHD" -F -n "$VDIR" -j "$2" -a "127.0.0.1:$PORT" \
		-T "127.0.0.1:$APORT" -f "$WORK/default.vcl" -s malloc,512m \
		> "$WORK/$1.log" 2>&1 &
	MGR=$!
	PIDS+=("$MGR")
	wait_for 30 sh -c "kill -0 $MGR && curl -sf -o /dev/null http://127.0.0.1:$PORT/f65536.bin" &&
		kill -0 "$MGR" 2>/dev/null ||
		{ fail "varnishd -j $2 did not start: $(tail -5 "$WORK/$1.log")"; return 1; }
	CHILD=$(pgrep -P "$MGR" -x cache-main)
	[ -n "$CHILD" ] || { fail "no cache-main child of varnishd $MGR"; return 1; }
	PIDS+=("$CHILD")
	grep -q zcshim "/proc/$CHILD/maps" || fail "the shim is not loaded in varnish's worker $CHILD"
}

# stop_varnish: the manager stops its worker and exits; both are gone
# before the test goes on (killed after 10 seconds).
stop_varnish() {
	local w
	kill "$MGR" 2>/dev/null
	wait_for 10 sh -c "! pgrep -P $MGR >/dev/null" || {
		fail "varnishd $MGR did not stop its worker in 10 s"
		for w in $(pgrep -P "$MGR"); do kill -9 "$w"; done
	}
	wait_for 5 sh -c "! kill -0 $MGR 2>/dev/null || grep -q '^State:.*Z' /proc/$MGR/status" ||
		kill -9 "$MGR" 2>/dev/null
	wait "$MGR" 2>/dev/null
}

vstat() { # vstat COUNTER: one of this varnishd's counters
	varnishstat -n "$VDIR" -1 -f "$1" 2>/dev/null | awk '{print $2}'
}

# stats_dump: a fresh stats line from the worker's live page, appended to
# its file (no signal reaches varnish).
stats_dump() {
	"$ZCSTAT" --json "$CHILD" > "$WORK/zcstat.out" 2>&1 ||
		fail "zcstat $CHILD: $(cat "$WORK/zcstat.out")"
	grep -m1 '"zc_sends"' "$WORK/zcstat.out" >> "$WORK/zc.$CHILD.json"
}

# child_steady WHAT: the worker started once, never died, same pid.
child_steady() {
	local now
	now=$(pgrep -P "$MGR" -x cache-main)
	[ "$now" = "$CHILD" ] || fail "$1: varnish's worker $CHILD was replaced by ${now:-nothing}"
	[ "$(vstat MGT.child_start)" = 1 ] || fail "$1: the worker started $(vstat MGT.child_start) times"
	for c in MGT.child_died MGT.child_panic MGT.child_stop; do
		[ "$(vstat $c)" = 0 ] || fail "$1: $c is $(vstat $c): $(grep -i -E 'panic|died|said' "$VDIR.log" | tail -5)"
	done
}

# delta KEY: KEY's growth between the last two stats lines of the worker.
delta() {
	local f=$WORK/zc.$CHILD.json a b
	a=$(tail -n 2 "$f" | head -n 1 | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p")
	b=$(tail -n 1 "$f" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p")
	echo $(( ${b:-0} - ${a:-0} ))
}

num_of() { # num_of KEY: KEY in the worker's last stats line
	v=$(stats_of "$CHILD" "$1")
	echo "${v:-0}"
}

# The least share of the bytes of large replies that must go zerocopy, as
# root: served from a warm cache, and while purging (see the root run below
# for what each costs).
STEADY_MIN=90
CHURN_MIN=90

# share: the zerocopy share of the large replies' bytes between the last
# two stats lines (copy_bytes counts only sends of at least the threshold).
share() {
	local zb cb
	zb=$(delta zc_bytes) cb=$(delta copy_bytes)
	echo $(( zb * 100 / (zb + cb + 1) ))
}

# --- As root (-j none): the load, and the zerocopy share after warm-up.
if start_varnish root none; then
	# Warm-up: every object fetched once and sent a few times.
	$CLIENT load "$PORT" 3 4 0 > "$WORK/warm.out" ||
		fail "warm-up: $(cat "$WORK/warm.out")"
	stats_dump
	# Steady: the cache serves what it holds.
	$CLIENT load "$PORT" 8 6 0 > "$WORK/steady.out" ||
		fail "replies changed or failed through varnish: $(cat "$WORK/steady.out")"
	stats_dump
	steady=$(share)
	log "root, steady: $(head -n 1 "$WORK/steady.out"): $steady% of the bytes zerocopy"
	# Churn: an object purged every 150 ms, dropped and fetched again
	# while other clients are being served from it (its storage is freed
	# with sends still in flight).
	$CLIENT load "$PORT" 12 6 150 > "$WORK/churn.out" ||
		fail "replies changed or failed through varnish while purging: $(cat "$WORK/churn.out")"
	stats_dump
	churn=$(share)
	log "root, purging: $(head -n 1 "$WORK/churn.out"): $churn% of the bytes zerocopy"
	log "root: $(tail -n 1 "$WORK/zc.$CHILD.json" | tr , '\n' | grep -v ':0$' | tr '\n' ' ' | cut -c1-700)"
	child_steady "root"
	# What reaches zerocopy. A cache hit goes out as one writev: the
	# status line and headers (copied into the shim's bounce memory; the
	# constant pieces, in varnishd's read-only file mapping, read through
	# the kernel) and the body, whole pages of the object's storage, guarded
	# once and kept read-only while the object lives: steady hits go
	# (nearly) all zerocopy. Purging costs little: a purged object's
	# storage is freed, and the next object malloc puts at its address is
	# a new buffer, not a rewritten one (a strike, judged by its sends;
	# zc_policy_hot_freed where a probe came before): it goes out with
	# zerocopy but for its first send (the cost model, copy_cost_model).
	# Objects here live about 40 replies: 95 to 98% of the bytes.
	[ "$(num_of zc_sends)" -gt 0 ] || fail "varnish sent nothing with zerocopy"
	[ "$steady" -ge "$STEADY_MIN" ] ||
		fail "steady hits: $steady% of the bytes zerocopy, want at least $STEADY_MIN%"
	[ "$churn" -ge "$CHURN_MIN" ] ||
		fail "while purging: $churn% of the bytes zerocopy, want at least $CHURN_MIN%"
	# The guard's part: the bodies' pages read-only while in flight and
	# kept so, a purged object's storage held back from free() until its
	# sends complete (quarantined, when a purge meets one in flight). No
	# write ever meets a guarded page in varnish (an object's storage is
	# written once, before its first send), so guard_faults stays 0.
	[ "$(num_of guard_protects)" -gt 0 ] || fail "the guard never protected a send in varnish"
	[ "$(num_of quarantined)" -gt 0 ] ||
		fail "no purged object was freed with sends in flight (quarantined 0): the purges did not meet the clients"

	# varnish's SIGSEGV handler still runs under the shim: it reports the
	# signal as a panic and the manager starts a new worker, which serves.
	kill -SEGV "$CHILD"
	wait_for 20 sh -c "varnishadm -n '$VDIR' panic.show 2>/dev/null | grep -q 'Signal 11'" ||
		fail "varnish's SIGSEGV handler did not report the signal: $(tail -5 "$WORK/root.log")"
	wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$PORT/f65536.bin" ||
		fail "no new worker after the SIGSEGV panic"
	$CLIENT load "$PORT" 1 2 0 > "$WORK/after.out" ||
		fail "after the panic: $(cat "$WORK/after.out")"
	stop_varnish
fi

# --- Default jail: the worker runs as vcache (RLIMIT_MEMLOCK applies).
if start_varnish jail unix; then
	[ "$(ps -o user= -p "$CHILD")" = vcache ] ||
		fail "the jailed worker runs as $(ps -o user= -p "$CHILD"), not vcache"
	stats_dump
	$CLIENT load "$PORT" 6 4 150 > "$WORK/jail.out" ||
		fail "replies changed or failed through the jailed varnish: $(cat "$WORK/jail.out")"
	log "jail: $(head -n 1 "$WORK/jail.out")"
	stats_dump
	child_steady "jail"
	# The worker, as vcache, pins at most its RLIMIT_MEMLOCK (8 MiB where
	# the test runs, and no raising it without CAP_SYS_RESOURCE): an
	# 8 MiB object never fits, and what the kernel refuses with ENOBUFS is
	# copied (copy_enobufs). So no share is asked here, only zerocopy at all.
	[ "$(num_of zc_sends)" -gt 0 ] || fail "the jailed worker sent nothing with zerocopy"
	log "jail: $(share)% of the bytes zerocopy, $(num_of copy_enobufs) sends refused by the locked-memory limit"
	log "jail: $(tail -n 1 "$WORK/zc.$CHILD.json" | tr , '\n' | grep -v ':0$' | tr '\n' ' ' | cut -c1-600)"
	stop_varnish
fi
finish
