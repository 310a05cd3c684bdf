/*
 * lock.c - the global lock: a futex word plus "all signals blocked while held".
 *
 * A futex and raw syscalls rather than pthread_mutex: the lock is taken in
 * the SIGSEGV handler, and only raw futex calls are async-signal-safe. See
 * the invariant in shim.h.
 */
#include "shim.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int lock_word;          /* 0 free, 1 held, 2 held with waiters */
static __thread int lock_mine ZC_TLS_MODEL; /* this thread holds it */

static void futex_wait(int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void zc_lock(struct zc_lock_state *st)
{
	sigset_t all;
	int c = 0;
	int saved = errno;

	sigfillset(&all);
	zc_sigmask(SIG_BLOCK, &all, &st->saved);
	if (!__atomic_compare_exchange_n(&lock_word, &c, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		if (c != 2)
			c = __atomic_exchange_n(&lock_word, 2, __ATOMIC_ACQUIRE);
		while (c != 0) {
			futex_wait(&lock_word, 2);
			c = __atomic_exchange_n(&lock_word, 2, __ATOMIC_ACQUIRE);
		}
	}
	lock_mine = 1;
	errno = saved;
}

void zc_unlock(struct zc_lock_state *st)
{
	int saved = errno;

	lock_mine = 0;
	if (__atomic_fetch_sub(&lock_word, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
		futex_wake(&lock_word);
	}
	zc_sigmask(SIG_SETMASK, &st->saved, NULL);
	errno = saved;
}

void zc_lock_reset(void)
{
	lock_word = 0;
	lock_mine = 0;
}

int zc_lock_held_by_me(void)
{
	return lock_mine;
}

uint64_t zc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
