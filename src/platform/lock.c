/*
 * lock.c - the global lock: a futex word, held inside a critical section
 * (sigdefer.h) so that no handler of the program's runs while it is held.
 *
 * A futex and raw syscalls rather than pthread_mutex: the lock is taken in
 * the SIGSEGV handler, and only raw futex calls are async-signal-safe. See
 * the invariant in shim.h.
 */
#include "owner.h"
#include "shim.h"
#include "sys.h"
#include "sigdefer.h"
#include "sys.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The lock word, zc_own->lock_word: ZC_LOCK_FREE, _HELD, _WAIT (held
 * with waiters). It lives on the owner page (owner.h), which a child made
 * without fork's handlers gets zeroed: ZC_LOCK_WIPED, neither free nor
 * held, so the first zc_lock there misses its fast path and resets. */
static __thread int lock_mine ZC_TLS_MODEL; /* this thread holds it */

#ifdef ZC_DEBUG
/* The holder's thread id, 0 when free: what zc_assert_locked checks. A
 * thread id rather than lock_mine, so that a thread that believes it holds
 * the lock after the holder changed (a fork child, a missed unlock) is
 * caught too. */
static int lock_owner;
#define OWNER_SET(v) __atomic_store_n(&lock_owner, (v), __ATOMIC_RELAXED)
#else
#define OWNER_SET(v) ((void)0)
#endif

static void futex_wait(int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* This thread, holding the lock, is back in the shim: a signal handler the
 * shim does not know interrupted it (sigdefer.c, "Escapes"). Waiting would
 * never end. */
static void reentered(void)
{
	static const char msg[] =
		"libzcshim: a signal handler called into the shim while this thread was "
		"inside it; the handler was installed without libc's sigaction() (a raw "
		"rt_sigaction system call?), so the shim could not hold it back. Run the "
		"program with ZCSHIM_SIGNALS=block.\n";
	ssize_t r = zc_sys_write(2, msg, sizeof msg - 1);

	(void)r;
	abort();
}

/* ZCSHIM_TEST_HOLD_US (the test build only, testhooks.h): keep every
 * critical section open this long, so signals sent meanwhile meet one. */
static void test_hold(void)
{
	uint64_t until = zc_now_ns() + (uint64_t)zc_test_hold_us() * 1000u;

	while (zc_now_ns() < until)
		;
}

void zc_lock(void)
{
	int c;
	int saved = errno;
	int *lock_word = &zc_own->lock_word;

	if (ZC_UNLIKELY(lock_mine)) {
		/* fork()'s child, before fork's handler ran (another
		 * library's handler called in): the prepare handler's hold is
		 * the parent's. Otherwise a reentry. */
		zc_owner_check();
		if (lock_mine)
			reentered();
	}
again:
	c = ZC_LOCK_FREE;
	zc_crit_enter();
	if (!__atomic_compare_exchange_n(lock_word, &c, ZC_LOCK_HELD, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		if (ZC_UNLIKELY(c == ZC_LOCK_WIPED)) {
			/* A copy of the parent's tables, in a child made without
			 * fork's handlers: reset them first (owner.h). The check
			 * costs the fast path nothing. */
			zc_crit_leave();
			zc_owner_adopt();
			c = ZC_LOCK_WIPED;
			__atomic_compare_exchange_n(lock_word, &c, ZC_LOCK_FREE, 0,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			goto again;
		}
		if (c != ZC_LOCK_WAIT)
			c = __atomic_exchange_n(lock_word, ZC_LOCK_WAIT, __ATOMIC_ACQUIRE);
		while (c != ZC_LOCK_FREE) {
			futex_wait(lock_word, ZC_LOCK_WAIT);
			c = __atomic_exchange_n(lock_word, ZC_LOCK_WAIT, __ATOMIC_ACQUIRE);
		}
	}
	lock_mine = 1;
	OWNER_SET((int)syscall(SYS_gettid));
	if (ZC_UNLIKELY(zc_test_hold_us()))
		test_hold();
	errno = saved;
}

int zc_lock_held_here(void)
{
	return lock_mine;
}

void zc_unlock(void)
{
	int saved = errno;
	int *lock_word = &zc_own->lock_word;

	lock_mine = 0;
	OWNER_SET(0);
	if (__atomic_fetch_sub(lock_word, 1, __ATOMIC_RELEASE) != ZC_LOCK_HELD) {
		__atomic_store_n(lock_word, ZC_LOCK_FREE, __ATOMIC_RELEASE);
		futex_wake(lock_word);
	}
	zc_crit_leave();
	errno = saved;
}

/* This thread holds the lock across fork() (the prepare handler took it). */
static __thread int lock_forking ZC_TLS_MODEL;

void zc_lock_fork_prepare(void)
{
	zc_lock();
	lock_forking = 1;
}

void zc_lock_fork_parent(void)
{
	lock_forking = 0;
	zc_unlock();
}

void zc_lock_child(void)
{
	if (lock_forking) {
		/* fork()'s child: the prepare handler's lock and section are
		 * the parent's. */
		lock_forking = 0;
		lock_mine = 0;
		zc_crit_reset_child();
	}
	OWNER_SET(0);
	__atomic_store_n(&zc_own->lock_word, ZC_LOCK_FREE, __ATOMIC_RELEASE);
}

#ifdef ZC_DEBUG
void zc_assert_locked_in(const char *func)
{
	static const char pre[] = "libzcshim: ";
	static const char post[] = "() called without the global lock held by this thread "
				   "(a debug build's check; a bug in the shim)\n";
	int saved = errno;

	if (__atomic_load_n(&lock_owner, __ATOMIC_RELAXED) == (int)syscall(SYS_gettid)) {
		errno = saved;
		return;
	}
	zc_sys_write(2, pre, sizeof pre - 1);
	zc_sys_write(2, func, strlen(func));
	zc_sys_write(2, post, sizeof post - 1);
	abort();
}
#endif

uint64_t zc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
