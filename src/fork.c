/*
 * fork.c - the pthread_atfork handlers and the one child reset.
 *
 * A child with its own copy of the memory (fork, _Fork, a raw clone or
 * fork system call) holds copies of tables that describe its parent: the
 * parent's guarded pages, the ids the parent took on each socket's
 * zerocopy counter, the parent's counters, the parent's lock. fork()'s
 * child is announced by the child handler below; any other one is noticed
 * by owner.c (the owner page, wiped by the kernel in every such child) on
 * its first call into the shim. Both run zc_fork_child_reset, once per
 * child (owner.c), in this order:
 *
 *  1. zc_lock_child (lock.c, with sigdefer.c's zc_crit_reset_child):
 *     the global lock made free and this thread out of the critical
 *     section fork's prepare handler entered. First, because every step
 *     after it may take the lock or enter a section, and the parent's
 *     hold (the prepare handler's, or that of a thread of the parent
 *     caught mid-update by _Fork) would wait forever here.
 *  2. zc_crit_enter: the reset is a critical section of its own, so no
 *     handler of the program's runs over half-reset tables (it could
 *     send, and find a guard or a socket slot of the parent's). The
 *     program's signals wait for step 9. Then zc_statspage_child
 *     (statspage.c): the counters' page is the parent's live stats file,
 *     shared; the child leaves it before anything could count, and makes
 *     its own.
 *  3. zc_guard_child_reset (guard.c, with bounce.c's zc_bounce_reset):
 *     the child's copies of the guarded pages made writable, the in-flight
 *     table emptied, the pin count zeroed, the bounce pool all free. Before
 *     the sockets: the records name the parent's sends, whose sockets step
 *     4 forgets. Bumping zc_release_seq lets quarantine.c free, on its next
 *     drain, the chunks it held for those sends (nothing of the
 *     quarantine's own is reset). Under the userfaultfd guard the child
 *     has no registration (the kernel dropped it and the write-protect
 *     bits at the fork); it closes the parent's userfaultfd and opens its
 *     own (a fork() child) or uses the mprotect guard (any other).
 *  4. zc_sock_child_reset (sock.c): every socket open now noted as
 *     inherited (by SO_COOKIE, from /proc/self/fd) and passed through,
 *     the parent's slots freed. The inherited list is made first, while
 *     the fd table still says which sockets the parent's shim managed.
 *  5. zc_stats_reset (stats.c): the child's counters start from zero.
 *     After steps 3 and 4, which count nothing, and before step 6.
 *  6. forks_unseen (a child fork's handlers never saw),
 *     zc_calib_publish (calibrate.c): the parent's cost measurements
 *     hold here too, and go back into the zeroed stats; and
 *     zc_guard_publish: the guard the child uses (step 3 chose it).
 *  7. zc_vma_invalidate (vma.c): the VMA cache is read again; the pages
 *     step 3 made writable changed it.
 *  8. zc_owner_take (owner.c): this process is the owner (its pid, the
 *     owner word). Last: until then, every other thread of the child that
 *     calls in waits in owner.c for the reset to end, and must then find
 *     it whole.
 *  9. zc_crit_leave: a signal the program got during the reset runs its
 *     handler now, over the child's own tables.
 *
 * Left alone: relay.c's ring (MAP_SHARED on purpose: the child hands its
 * parent's notifications back through it), the settings, the real
 * functions, the signal handlers (inherited as the program's are).
 *
 * Signal-context invariant: the reset may run in the SIGSEGV handler (the
 * first call into the shim of a _Fork child may be a write to a page its
 * parent guarded), or in the child handler of fork() in a multithreaded
 * program. Every step above is async-signal-safe: raw system calls, atomic
 * stores, memory the shim mapped itself; no malloc, no stdio, and the
 * global lock only after step 1 made it free.
 */
#include "fork.h"
#include "calibrate.h"
#include "guard.h"
#include "owner.h"
#include "shim.h"
#include "sigdefer.h"
#include "sock.h"
#include "stats.h"
#include "statspage.h"
#include "vma.h"

#include <pthread.h>

void zc_fork_child_reset(int unseen)
{
	zc_lock_child();                 /* 1 */
	zc_crit_enter();                 /* 2 */
	zc_statspage_child();
	zc_guard_child_reset(!unseen);   /* 3 */
	zc_sock_child_reset();           /* 4 */
	zc_stats_reset();                /* 5 */
	if (unseen)                      /* 6 */
		ZC_STAT_ADD(forks_unseen, 1);
	zc_calib_publish();
	zc_guard_publish();
	zc_vma_invalidate();             /* 7 */
	zc_owner_take();                 /* 8 */
	zc_crit_leave();                 /* 9 */
}

/*
 * fork() itself: the prepare handler takes the global lock, so the child
 * never inherits it mid-update; the parent handler gives it back. The
 * child handler runs the reset through owner.c, which knows whether the
 * child has run it already (another library's child handler may have
 * called into the shim first).
 */
static void atfork_prepare(void)
{
	if (zc_ready)
		zc_lock_fork_prepare();
}

static void atfork_parent(void)
{
	if (zc_ready)
		zc_lock_fork_parent();
}

static void atfork_child(void)
{
	if (zc_ready)
		zc_owner_adopt_forked();
}

void zc_fork_install(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
