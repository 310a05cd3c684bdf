/*
 * shim.h - what every part of the shim shares: settings, page size, logging,
 * the global lock, and the visibility rules.
 */
#ifndef ZC_SHIM_H
#define ZC_SHIM_H

#include "settings.h"
#include "testhooks.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

/* Only the interposed entry points are exported (see Makefile.am:
 * -fvisibility=hidden); ZC_EXPORT marks them. */
#define ZC_EXPORT __attribute__((visibility("default")))

/* Thread-locals used from the fault handler must never be allocated lazily
 * (the general-dynamic model may call malloc on first use): the shim is
 * preloaded, so its TLS sits in the static block. */
#define ZC_TLS_MODEL __attribute__((tls_model("initial-exec")))

#define ZC_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZC_UNLIKELY(x) __builtin_expect(!!(x), 0)

extern struct zc_config zc_cfg;
extern size_t zc_page;        /* page size */
extern int zc_ready;          /* constructor finished and the shim is enabled */
extern __thread int zc_binding ZC_TLS_MODEL;

static inline uintptr_t zc_page_down(uintptr_t a) { return a & ~(uintptr_t)(zc_page - 1); }
static inline uintptr_t zc_page_up(uintptr_t a) { return (a + zc_page - 1) & ~(uintptr_t)(zc_page - 1); }

/* Logging to standard error, never from signal context. */
void zc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define zc_debug(...) do { if (ZC_UNLIKELY(zc_cfg.log_level >= ZC_LOG_DEBUG)) zc_log(ZC_LOG_DEBUG, __VA_ARGS__); } while (0)

/* The thread's signal mask, bypassing the shim's own sigprocmask and
 * pthread_sigmask wrappers (which keep SIGSEGV deliverable). */
static inline int zc_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, how, set, old, (size_t)(_NSIG / 8));
}

/* Monotonic nanoseconds; async-signal-safe. */
uint64_t zc_now_ns(void);

/*
 * The global lock guards the in-flight table, the socket slots and the VMA
 * cache. The bounce pool is not under it: its free list is lock-free
 * (bounce.c), because the send path takes a slot before it takes the lock.
 *
 * Invariant (why the fault handler may take it): every holder is inside a
 * critical section (sigdefer.h) for as long as it holds the lock, so no
 * handler of the program's runs in its thread meanwhile (the signal waits
 * until the section ends, or with ZCSHIM_SIGNALS=block stays blocked), and
 * no code under the lock writes to program memory. So a thread can never be
 * interrupted into program code, or fault, while holding it; a signal
 * handler that takes it waits only for other threads, which always make
 * progress. A thread that finds itself already holding it (a handler the
 * shim could not hold back) stops the program with a message rather than
 * wait forever.
 */
void zc_lock(void);
void zc_unlock(void);
/* Does this thread hold the global lock? */
int zc_lock_held_here(void);

/* Debug builds (configure --enable-debug, ZC_DEBUG): every function named
 * *_locked starts with zc_assert_locked(), which stops the program with a
 * message naming the function when the calling thread does not hold the
 * global lock. Async-signal-safe (the fault handler calls *_locked
 * functions): a raw gettid and write. Release builds: nothing. */
#ifdef ZC_DEBUG
void zc_assert_locked_in(const char *func);
#define zc_assert_locked() zc_assert_locked_in(__func__)
#else
#define zc_assert_locked() ((void)0)
#endif
/* fork: the prepare handler holds the lock across the fork, the parent
 * handler releases it. zc_lock_child: in the child (fork.c's reset, in
 * the thread that forked), the lock is free and this thread outside it. */
void zc_lock_fork_prepare(void);
void zc_lock_fork_parent(void);
void zc_lock_child(void);

#endif
