/*
 * sigdefer.h - the shim's critical sections, and the program's signals that
 * arrive inside one.
 */
#ifndef ZC_SIGDEFER_H
#define ZC_SIGDEFER_H

#include "shim.h"

#include <signal.h>

/* Depth of the critical sections this thread is in (the global lock, the
 * epoll registration lock, a probe window, a forked child's reset). Read by
 * the program's handlers' trampolines. */
extern __thread int zc_crit_depth ZC_TLS_MODEL;

/* Slow halves of enter/leave: ZCSHIM_SIGNALS=block, or signals to deliver. */
void zc_crit_block(void);
void zc_crit_settle(void);

static inline void zc_crit_enter(void)
{
	if (ZC_UNLIKELY(zc_cfg.signals_block) && zc_crit_depth == 0)
		zc_crit_block();
	zc_crit_depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

extern __thread int zc_crit_pending ZC_TLS_MODEL;

/* Signal masks as the kernel's 64-bit word (bit sig - 1), and the six
 * signals a faulting instruction raises: blocked, any of them would kill
 * the process at the fault instead of running a handler. */
#define ZC_SIGBIT(sig) ((uint64_t)1 << ((sig) - 1))
#define ZC_SYNC_SIGNALS (ZC_SIGBIT(SIGSEGV) | ZC_SIGBIT(SIGBUS) | ZC_SIGBIT(SIGILL) | \
			 ZC_SIGBIT(SIGFPE) | ZC_SIGBIT(SIGTRAP) | ZC_SIGBIT(SIGSYS))

static inline void zc_crit_leave(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (--zc_crit_depth == 0) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (ZC_UNLIKELY(zc_crit_pending))
			zc_crit_settle();
	}
}

/* In a fork child: the child left the section of the global lock that
 * fork's prepare handler took; the signals the parent deferred are the
 * parent's, but the mask was inherited. */
void zc_crit_reset_child(void);

typedef void (*zc_sigfn_t)(int, siginfo_t *, void *);

/* Queue sig to this thread again with siginfo si (any si_code: a thread
 * may signal itself so). 0, or -1 when the queue is full. Async-signal-safe. */
int zc_signal_self(int sig, const siginfo_t *si);

/* Called first by every handler of the shim's for a program's signal (run:
 * that handler; run_mask and nodefer: what the kernel applies while it
 * runs). If this thread is inside a critical section, hold the signal (see
 * sigdefer.c) and return 1: the handler must return at once; run is called
 * again when the section ends. 0 otherwise, and for a fault raised by the
 * current instruction. Async-signal-safe. */
int zc_defer_if_critical(int sig, siginfo_t *si, void *uc, zc_sigfn_t run,
			 const sigset_t *run_mask, int nodefer);

#endif
