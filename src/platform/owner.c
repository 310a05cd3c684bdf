/*
 * owner.c - the owner page, and noticing a child that has not reset yet
 * (see owner.h). The reset itself, and its order, is fork.c's.
 *
 * Signal-context invariant: zc_owner_adopt and zc_owner_take may run in
 * the SIGSEGV handler (the first call into the shim of a child made by
 * _Fork may be a write to a page its parent guarded). Raw syscalls, memory
 * the shim mapped itself, no malloc, no stdio, no global lock.
 */
#include "owner.h"
#include "fork.h"

#include <errno.h>
#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

/* Zero-initialised, so in .bss: anonymous memory, which the kernel can
 * wipe (not a file's page, as .data is). Set up before anything else. */
union zc_own_page zc_own_page __attribute__((aligned(ZC_OWN_PAGE)));

/* This thread is running the reset: the calls it makes into the shim's
 * lock must not wait for it. */
static __thread int adopting ZC_TLS_MODEL;

int zc_owner_init(void)
{
	zc_own->pid = (int)syscall(SYS_getpid);
	zc_own->lock_word = ZC_LOCK_FREE;
	__atomic_store_n(&zc_own->state, ZC_OWN_OWNED, __ATOMIC_RELEASE);
	if (zc_page > ZC_OWN_PAGE)
		return EINVAL;
	/* Still the lock's page if this fails; fork() children still reset
	 * (its handler), others are not noticed. */
	return madvise(&zc_own_page, zc_page, MADV_WIPEONFORK) ? errno : 0;
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
	zc_fork_child_reset(unseen);   /* ends with zc_owner_take */
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

void zc_owner_take(void)
{
	__atomic_store_n(&zc_own->pid, (int)syscall(SYS_getpid), __ATOMIC_RELAXED);
	__atomic_store_n(&zc_own->state, ZC_OWN_OWNED, __ATOMIC_RELEASE);
}
