# lib.sh - sourced by each integration test script.
#
# Each test program runs under LD_PRELOAD with ZCSHIM_LOCAL=force (so the
# guard works on loopback), a low threshold and ZCSHIM_ADAPT=0 (every large
# send goes out with zerocopy, even from a buffer the test rewrites each
# time, which by default would be copied after its first rewrite). expect_intact runs it with
# the guard and wants exit 0 plus proof from the stats line that zerocopy
# and the guard really acted, in the way the caller names. expect_corrupt runs the same program with
# ZCSHIM_TEST_NO_GUARD=1 and wants exit 1: the program detects the
# corruption the guard prevents, so the test cannot pass by accident.

#
# Two builds of the library (Makefile.am): ZCSHIM_LIB, the release library,
# and ZCSHIM_TEST_LIB, the test build, which alone has the ZCSHIM_TEST_*
# knobs (src/platform/testhooks.h) that expect_corrupt and a few tests use. The
# integration tests preload the test build; a test of what the released
# library itself does sets ITEST_RELEASE=1 before sourcing this file and
# keeps the release one (settings.sh, secureexec.sh, release.sh, the system
# tests). ZCSHIM_RELEASE_LIB is the release library either way.

set -u
: "${ZCSHIM_LIB:?set by make check}" "${ZCSHIM_TEST_LIB:?set by make check}" \
	"${ITEST_BIN:?set by make check}"
ZCSHIM_RELEASE_LIB=$ZCSHIM_LIB
[ -n "${ITEST_RELEASE:-}" ] || ZCSHIM_LIB=$ZCSHIM_TEST_LIB

# The guard the shim picks here (ZCSHIM_GUARD from the environment, or
# auto): mprotect, uffd (kernel writes into guarded pages wait) or
# uffd-user (userfaultfd without kernel-fault rights). Tests whose proof
# depends on it ask; scripts/check runs the suite under each.
# (Asked under $ITEST_WRAP too: under valgrind the shim uses mprotect; the
# last line is the program's, valgrind's launcher says it first.)
ITEST_GUARD=$(env LD_PRELOAD="$ZCSHIM_LIB" ZCSHIM_LOG=info ${ITEST_WRAP:-} true 2>&1 |
	sed -n 's/.*guard: \(mprotect\|uffd (kernel\|uffd, user\).*/\1/p' | tail -n 1)
case $ITEST_GUARD in
"uffd (kernel") ITEST_GUARD=uffd ;;
"uffd, user") ITEST_GUARD=uffd-user ;;
*) ITEST_GUARD=mprotect ;;
esac
# The counter that proves the read family's write into a guarded page was
# handled: resolved before the call, under every guard.
KWRITE_PROOF=kernel_write_resolves

STATS=$(mktemp /tmp/zcshim-itest.XXXXXX)
trap 'rm -f "$STATS"' EXIT
failures=0
T=$(basename "$0" .sh)

log() { printf '%s: %s\n' "$T" "$*"; }
fail() { log "FAIL: $*"; failures=$((failures + 1)); }

# shim PROG ARGS...: run a test program under the shim (inside
# $ITEST_WRAP when set: scripts/memcheck runs every test under valgrind).
shim() {
	: > "$STATS"
	timeout 120 env LD_PRELOAD="$ZCSHIM_LIB${PRELOAD_AFTER:+ $PRELOAD_AFTER}" ZCSHIM_LOCAL=force ZCSHIM_THRESHOLD=4096 ZCSHIM_ADAPT=0 \
		ZCSHIM_STATS_FILE="$STATS" ${EXTRA_ENV:-} ${ITEST_WRAP:-} "$@"
}

# stat KEY: the value of KEY in the last stats line (empty if none).
stat() {
	tail -n 1 "$STATS" 2>/dev/null | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"
}

num() { v=$(stat "$1"); echo "${v:-0}"; }

need() { # need KEY: the counter must be above zero
	v=$(stat "$1")
	[ "${v:-0}" -gt 0 ] || fail "$2: stats show $1=${v:-missing} (want > 0): $(tail -n 1 "$STATS")"
}

want() { # want KEY VALUE WHY: the counter must equal VALUE
	v=$(stat "$1")
	[ "${v:-missing}" = "$2" ] || fail "$3: stats show $1=${v:-missing}, want $2"
}

# reasons_add_up WHAT: in the last stats line, the copy_<reason> fields
# (every copy_ field but copy_sends and copy_bytes) add up to copy_sends:
# each copied large send is counted under exactly one reason.
reasons_add_up() {
	local line sum total
	line=$(tail -n 1 "$STATS" 2>/dev/null)
	total=$(stat copy_sends)
	sum=$(echo "$line" | tr ',{}' '\n\n\n' | sed -n 's/^"copy_\([a-z_]*\)":\([0-9]*\)$/\1 \2/p' |
		awk '$1 != "sends" && $1 != "bytes" { s += $2 } END { print s + 0 }')
	[ -n "$total" ] && [ "$sum" = "$total" ] ||
		fail "$1: the copy_<reason> fields add up to $sum, copy_sends=${total:-missing}: $(echo "$line" | tr , '\n' | grep '"copy_' | tr '\n' ' ')"
}

# jemalloc: Debian's libjemalloc2, to preload after the shim as the
# program's allocator (PRELOAD_AFTER); scripts/check installs it. Found the
# way `zcshim --jemalloc` finds it (the launcher's second preload).
JEMALLOC=$("$ITEST_BIN/../../tools/zcshim" --jemalloc sh -c 'echo "$LD_PRELOAD"' 2>/dev/null |
	cut -d' ' -f2)

# expect_jemalloc: a program run with PRELOAD_AFTER=$JEMALLOC really has
# jemalloc mapped (so a jemalloc run cannot pass on glibc's malloc).
expect_jemalloc() {
	wrapped && return
	PRELOAD_AFTER=$JEMALLOC shim sh -c 'grep -q libjemalloc /proc/$$/maps' ||
		fail "jemalloc preloaded after the shim is not mapped in the program"
}

# wrapped: the programs run inside $ITEST_WRAP (valgrind, scripts/memcheck).
# There the point is memory errors, and some stats cannot be what they are
# natively: valgrind's malloc/free replace the program's (no quarantine;
# its heap is mapped rwx, which the shim copies rather than guards), its address-space manager owns
# the mappings (no vm.max_map_count games), and a program that runs 50
# times slower may see its completion before it overwrites (no corruption
# to detect without the guard). Tests skip exactly those checks there.
wrapped() { [ -n "${ITEST_WRAP:-}" ]; }

# expect_intact PROOF PROG ARGS...: PROOF names the counters (comma
# separated) that show the guard did this program's job, each of which
# must be above zero: guard_faults for an overwrite in flight,
# kernel_write_resolves for the read family, quarantined for free(),
# cow_pages for copies given without a fault (close), and so on. Any guard
# activity at all is no proof: a read test must not pass on a quarantine.
expect_intact() {
	proof=$1
	shift
	if [ -z "$proof" ] || [ -x "$ITEST_BIN/$proof" ]; then
		fail "expect_intact $proof $*: name first the counters that prove the case (expect_intact COUNTER[,COUNTER] PROG ARGS)"
		return
	fi
	shim "$ITEST_BIN/$@"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$* exited $rc under the shim (want 0: every byte intact)"
		return
	fi
	need zc_sends "$*"
	wrapped && { log "ok: $* intact under $ITEST_WRAP"; return; }
	before_proof=$failures
	for key in $(echo "$proof" | tr , ' '); do
		need "$key" "$*: the guard's $key (the proof of this case)"
	done
	[ $failures -eq $before_proof ] &&
		log "ok: $* intact ($(stat zc_sends) zerocopy sends;$(for key in $(echo "$proof" | tr , ' '); do printf ' %s=%s' "$key" "$(stat "$key")"; done))"
}

expect_corrupt() { # expect_corrupt PROG ARGS...
	wrapped && return
	EXTRA_ENV="ZCSHIM_TEST_NO_GUARD=1 ${EXTRA_ENV:-}" shim "$ITEST_BIN/$@" 2>/dev/null
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$* exited $rc with the guard disabled (want 1: the test must see the corruption)"
		return
	fi
	log "ok: $* detects corruption when the guard is off"
}

skip() { log "SKIP: $*"; exit 77; }

finish() {
	[ "$failures" -eq 0 ] || exit 1
	exit 0
}
