/*
 * owner.c - the owner page, and the one child reset (see owner.h).
 *
 * Signal-context invariant: zc_owner_adopt and zc_child_reset may run in
 * the SIGSEGV handler (the first call into the shim of a child made by
 * _Fork may be a write to a page its parent guarded). Raw syscalls, memory
 * the shim mapped itself, no malloc, no stdio, no global lock.
 */
#include "owner.h"
#include "calibrate.h"
#include "guard.h"
#include "sigdefer.h"
#include "sock.h"
#include "stats.h"
#include "vma.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static struct zc_own boot = { ZC_OWN_OWNED, 0, 0 };
struct zc_own *zc_own = &boot;

/* This thread is running the reset: the calls it makes into the shim's
 * lock must not wait for it. */
static __thread int adopting ZC_TLS_MODEL;

int zc_owner_init(void)
{
	struct zc_own *p = mmap(NULL, zc_page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	boot.pid = (int)syscall(SYS_getpid);
	if (p == MAP_FAILED)
		return -1;
	if (madvise(p, zc_page, MADV_WIPEONFORK)) {
		int err = errno;

		/* Still usable, as the lock's page; children made by _Fork or a
		 * raw clone are not noticed (fork() still is). */
		zc_log(ZC_LOG_WARN, "the kernel cannot wipe a page in fork children "
		       "(madvise MADV_WIPEONFORK: %s, Linux 4.14 or later needed): a child made "
		       "with _Fork() or a raw clone/fork system call is not noticed; "
		       "use fork()", strerror(err));
	}
	p->pid = boot.pid;
	p->lock_word = 0;
	__atomic_store_n(&p->state, ZC_OWN_OWNED, __ATOMIC_RELEASE);
	__atomic_store_n(&zc_own, p, __ATOMIC_RELEASE);
	return 0;
}

/* unseen: the child was not announced by fork's handlers. The lock word
 * sits on the wiped page: free here even if a thread of the parent held
 * it at the fork (no thread here holds it; zc_lock_child). */
static void adopt(int unseen)
{
	uint32_t st = ZC_OWN_CHILD;

	if (adopting)
		return;
	if (!__atomic_compare_exchange_n(&zc_own->state, &st, ZC_OWN_ADOPTING, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* Another thread of this child is resetting (threads made
		 * after _Fork, before any of them called the shim). */
		while (__atomic_load_n(&zc_own->state, __ATOMIC_ACQUIRE) == ZC_OWN_ADOPTING)
			syscall(SYS_sched_yield);
		return;
	}
	adopting = 1;
	zc_lock_child();
	zc_crit_enter();
	zc_child_reset();
	if (unseen)
		ZC_STAT_ADD(forks_unseen, 1);
	__atomic_store_n(&zc_own->state, ZC_OWN_OWNED, __ATOMIC_RELEASE);
	zc_crit_leave();
	adopting = 0;
}

void zc_owner_adopt(void)
{
	adopt(1);
}

void zc_owner_adopt_forked(void)
{
	/* fork()'s child is a child even where the page was not wiped (a
	 * kernel without MADV_WIPEONFORK); unless it reset already (another
	 * library's child handler called into the shim first). */
	if (__atomic_load_n(&zc_own->pid, __ATOMIC_RELAXED) != (int)syscall(SYS_getpid))
		__atomic_store_n(&zc_own->state, ZC_OWN_CHILD, __ATOMIC_RELEASE);
	adopt(0);
}

void zc_child_reset(void)
{
	zc_guard_child_reset();
	zc_sock_child_reset();
	zc_stats_reset();
	zc_calib_publish();   /* the parent's measurements hold here too */
	zc_vma_invalidate();
	__atomic_store_n(&zc_own->pid, (int)syscall(SYS_getpid), __ATOMIC_RELAXED);
}
