# See faults.c: a reset peer, shutdown and exit with data in flight, no
# descriptor left, no mapping left for a copy, a stats-signal storm, fork
# while the fault handler works, and fork while a thread waits inside it.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for mode in reset shutdown exit nofile mapcount maplimit storm forkfault forkinhandler; do
	before=$failures
	case $mode in mapcount|maplimit) wrapped && continue ;; esac
	if [ $mode = exit ]; then
		# The child sends and writes its stats line; the parent only reads.
		shim "$ITEST_BIN/faults" $mode || fail "faults $mode"
		need zc_sends "faults exit (the child's line)"
	elif [ $mode = maplimit ]; then
		# Guards that cannot be set give their bounce slot back: after
		# 5000 of them, zerocopy still works once mappings are free.
		shim "$ITEST_BIN/faults" $mode || fail "faults maplimit"
		c=$(num copy_sends) z=$(num zc_sends)
		[ "$c" -ge 5000 ] || fail "faults maplimit: $c sends copied while no guard could be set, want 5000"
		[ "$z" -ge 1 ] || fail "faults maplimit: no zerocopy send once mappings were free (bounce slots lost?)"
	elif [ $mode = nofile ]; then
		# No descriptor to read /proc/self/maps: the sends step aside
		# (copied); the stats file cannot be opened: said once.
		shim "$ITEST_BIN/faults" $mode 2>"$STATS.err" || fail "faults nofile"
		v=$(num copy_sends)
		[ "$v" -ge 3 ] || fail "faults nofile: $v sends copied, want 3 (no descriptor to look)"
		[ "$(grep -c 'cannot write the stats line' "$STATS.err")" = 1 ] ||
			fail "faults nofile: the unwritable stats file was not reported once"
		rm -f "$STATS.err"
	elif [ $mode = forkinhandler ] && [ "$ITEST_GUARD" != mprotect ]; then
		log "SKIP: forkinhandler: the $ITEST_GUARD guard has no fault handler (the writer waits in the kernel; forkchild covers fork)"
		continue
	elif [ $mode = forkinhandler ]; then
		# A long stall, so the writer is certainly inside the handler,
		# waiting for the completion, when the other thread forks.
		EXTRA_ENV=ZCSHIM_STALL_US=10000000 expect_intact guard_faults faults $mode
		need guard_stall_ns "faults forkinhandler (the write waited in the handler)"
		want cow_pages 0 "faults forkinhandler (the completion came within the stall)"
	else
		expect_intact guard_faults faults $mode
	fi
	case $mode in
	mapcount) v=$(num cow_pages)
		[ "$v" = 0 ] || fail "faults mapcount: $v pages copied although no mapping was left"
		need guard_stall_ns "faults mapcount (the write waited for the completion)" ;;
	storm) n=$(wc -l < "$STATS"); bad=$(grep -Ecv '^\{"pid":[0-9]*,.*"signals_deferred":[0-9]*,.*"aligned_allocs":[0-9]*,.*"hot_probes_skipped":[0-9]*(,"[a-z_]+":[0-9]+)*\}$' "$STATS")
		# Standard signals do not queue: many of the 3000 merge while one
		# is pending, so the count of lines varies (4 to 52 seen); every one
		# must be whole, and the run must end (no deadlock).
		[ "$n" -ge 1 ] && [ "$bad" = 0 ] ||
			fail "faults storm: $n stats lines, $bad of them broken" ;;
	esac
	[ $failures -eq $before ] && log "ok: $mode"
done
# Without the guard, the same programs see the corruption. (Not forkfault:
# each fork write-protects the parent's pages itself, so the kernel keeps
# the bytes in flight even without the guard; forkchild covers that.)
for mode in shutdown mapcount; do
	expect_corrupt faults $mode
done
finish
