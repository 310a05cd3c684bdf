# Which guard the shim takes (ZCSHIM_GUARD, src/guard/guard.c): userfaultfd
# with kernel-fault rights as root, without them as another user, never
# under a seccomp filter unless asked for, mprotect when asked for; a
# wrong value is named. Each case sends and overwrites (overwrite), so the
# guard taken also has to keep the bytes.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
[ "$(id -u)" = 0 ] || skip "needs root (the user nobody, /dev/userfaultfd)"
wrapped && skip "valgrind always takes the mprotect guard"
NB=$(id -u nobody 2>/dev/null) && NG=$(id -g nobody) || skip "needs the user nobody"
RUN=$(mktemp -d /tmp/zcshim-guardchoice.XXXXXX)
trap 'rm -rf "$RUN" "$STATS"' EXIT
cp "$ITEST_BIN/overwrite" "$ITEST_BIN/seccompguard" "$ZCSHIM_LIB" "$RUN/" && chmod 755 "$RUN" "$RUN"/* &&
	chmod 1777 "$RUN" || fail "cannot prepare $RUN"
LIBCOPY=$RUN/${ZCSHIM_LIB##*/}

# case WHAT WANT [ENV...] -- [WRAPPER...]: the start-up line names WANT.
case_() {
	what=$1 want=$2
	shift 2
	envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	rm -f "$RUN/stats"
	# (ZCSHIM_GUARD from scripts/check's pass is not this test's.)
	timeout 60 "$@" env -u ZCSHIM_GUARD LD_PRELOAD="$LIBCOPY" ZCSHIM_LOG=info ZCSHIM_LOCAL=force \
		ZCSHIM_THRESHOLD=4096 ZCSHIM_ADAPT=0 ZCSHIM_STATS_FILE="$RUN/stats" "${envs[@]}" \
		"$RUN/overwrite" send > /dev/null 2> "$RUN/err"
	rc=$?
	cp "$RUN/stats" "$STATS" 2>/dev/null || : > "$STATS"
	[ $rc -eq 0 ] || fail "$what: overwrite exited $rc: $(tail -n 3 "$RUN/err")"
	grep -q "guard: $want" "$RUN/err" || fail "$what: want 'guard: $want': $(grep -o 'guard: .*' "$RUN/err" | tail -n 1)"
	need zc_sends "$what"
	[ $failures -eq 0 ] && log "ok: $what: $(grep -o 'guard: [a-z]*[^(]*' "$RUN/err" | tail -n 1)"
}

case_ "root, auto" "uffd (kernel writes"
case_ "root, ZCSHIM_GUARD=mprotect" "mprotect" ZCSHIM_GUARD=mprotect
want guard_uffd 0 "ZCSHIM_GUARD=mprotect"
case_ "nobody, auto" "uffd, user faults only" -- \
	setpriv --reuid="$NB" --regid="$NG" --clear-groups
want guard_kernel_faults 0 "nobody: no kernel-fault rights"
case_ "seccomp filter, auto" "mprotect" -- "$RUN/seccompguard"
grep -q "seccomp filter is in force" "$RUN/err" || fail "seccomp filter, auto: the reason is not said"
case_ "seccomp filter, ZCSHIM_GUARD=uffd" "uffd (kernel writes" ZCSHIM_GUARD=uffd -- "$RUN/seccompguard"
case_ "ZCSHIM_GUARD=sometimes" "uffd (kernel writes" ZCSHIM_GUARD=sometimes
grep -q "ZCSHIM_GUARD" "$RUN/err" && grep -q "sometimes" "$RUN/err" ||
	fail "a wrong ZCSHIM_GUARD is not named: $(head -n 2 "$RUN/err")"
finish
