/*
 * sigdefer.c - the program's signal handlers never run inside the shim.
 *
 * The shim's critical sections (the global lock, lock.c) must not be
 * interrupted by the program: a handler that sends, frees, writes a guarded
 * page or siglongjmps out would re-enter or abandon a held lock. Blocking
 * every signal around each section costs two rt_sigprocmask calls per
 * section, and a send takes two sections: four system calls on every
 * send, more than the shim's own code costs it (docs/PERF-HISTORY.md has
 * the figures). Instead every handler of the program's runs
 * behind a handler of the shim's (signals.c: the program installs its
 * handlers through sigaction(), signal() and the rest of libc's family,
 * and those found installed at start are taken over). When that handler
 * finds the thread inside a critical section, it holds the signal:
 *   - keeps its siginfo, which handler to run and with which mask, in this
 *     thread's `held` slot;
 *   - blocks every other asynchronous signal in the interrupted context
 *     (uc_sigmask), so that nothing else is held, and the others stay
 *     pending, in the kernel's order, behind this one;
 *   - when the thread leaves its outermost critical section, it runs the
 *     handler there, with the mask the kernel would have given it and a
 *     ucontext of that point, then restores the thread's mask: the kernel
 *     delivers what waited.
 * A critical section costs a thread-local counter; no system call.
 *
 * So the program's handler runs once per signal, in order, with its
 * siginfo, a moment late: at the end of the shim's section, as when a
 * program blocks signals for a moment. Two differences from a delivery by
 * the kernel: it runs on the thread's stack even with SA_ONSTACK, and its
 * ucontext describes the shim's code where the section ended (setcontext
 * on it returns from the handler).
 *
 * Not held: a fault raised by the current instruction (si_code > 0 with
 * SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGSYS): held, it would fault
 * again. In a critical section that is a bug in the shim; the program's
 * handler sees it as it would have. Those six also stay unblocked while a
 * signal is held; if one of them is sent by kill() then, or any signal
 * lands in the instant before the held slot is claimed, it is queued again
 * to the thread with its siginfo (rt_tgsigqueueinfo) and blocked, and the
 * kernel delivers it after the held one.
 *
 * Escapes: a handler installed with a raw rt_sigaction system call is not
 * behind the shim's. If it interrupts a critical section and calls into
 * the shim, zc_lock sees its own thread holding the lock and stops the
 * program with a message naming ZCSHIM_SIGNALS=block, which blocks every
 * signal around the sections (the slower way) instead.
 *
 * Signal-context invariant: zc_defer_if_critical runs in signal handlers:
 * raw system calls only (rt_sigprocmask, getpid, gettid,
 * rt_tgsigqueueinfo), no lock, errno preserved. zc_crit_settle runs
 * wherever a section ends, including the fault handler: rt_sigprocmask,
 * getcontext, and the handler held (which is what the kernel would have
 * run in that context anyway).
 */
#include "owner.h"
#include "sigdefer.h"
#include "stats.h"

#include <errno.h>
#include <string.h>
#include <ucontext.h>

__thread int zc_crit_depth ZC_TLS_MODEL;
__thread int zc_crit_pending ZC_TLS_MODEL;   /* zc_crit_settle has work */

/* Signal masks here are the kernel's 64-bit word (bit sig - 1): plain
 * words, because glibc's sigisemptyset() reports a set holding only
 * real-time signals as empty (glibc 2.36). */
#define BIT(sig) ZC_SIGBIT(sig)
#define SYNC_SIGNALS ZC_SYNC_SIGNALS

struct held {
	int sig;              /* 0 none, -1 being filled, else the signal */
	zc_sigfn_t run;       /* the shim's handler the kernel called */
	uint64_t run_mask;    /* blocked while it runs, on top of mask */
	uint64_t mask;        /* the interrupted context's mask */
	siginfo_t info;
};
static __thread struct held held ZC_TLS_MODEL;

/* ZCSHIM_SIGNALS=block */
static __thread int blocked ZC_TLS_MODEL;
static __thread sigset_t block_saved ZC_TLS_MODEL;

static void set_mask(uint64_t m)
{
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m);
}

void zc_crit_block(void)
{
	sigset_t all;

	sigfillset(&all);
	zc_sigmask(SIG_BLOCK, &all, &block_saved);
	blocked = 1;
	zc_crit_pending = 1;
}

/* The end of a section under ZCSHIM_SIGNALS=block: the mask back. */
static void unblock(void)
{
	if (blocked) {
		blocked = 0;
		zc_sigmask(SIG_SETMASK, &block_saved, NULL);
	}
}

/* Run the held handler as the kernel would have, here. */
static void run_held(const struct held *h)
{
	volatile int ran = 0;
	ucontext_t uc;
	uint64_t after;

	getcontext(&uc);
	if (ran)
		return;   /* the handler did setcontext() on its ucontext */
	ran = 1;
	memset(&uc.uc_sigmask, 0, sizeof uc.uc_sigmask);
	memcpy(&uc.uc_sigmask, &h->mask, sizeof h->mask);
	set_mask(h->mask | h->run_mask);
	h->run(h->sig, (siginfo_t *)&h->info, &uc);
	/* As the kernel's return from a handler: the ucontext's mask. */
	memcpy(&after, &uc.uc_sigmask, sizeof after);
	set_mask(after);
}

void zc_crit_settle(void)
{
	int saved = errno;

	zc_crit_pending = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	unblock();
	if (held.sig > 0) {
		struct held h = held;

		/* Free before it runs: it may siglongjmp out, or send. */
		held.sig = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		run_held(&h);
	}
	errno = saved;
}

void zc_crit_reset_child(void)
{
	zc_crit_depth = 0;
	if (held.sig > 0) {
		/* The parent's signal, held by the parent: the child only
		 * gets its mask back. */
		held.sig = 0;
		set_mask(held.mask);
	}
	zc_crit_pending = 0;
	unblock();
}

static int fault_raised(int sig, const siginfo_t *si)
{
	return si->si_code > 0 && (BIT(sig) & SYNC_SIGNALS);
}

int zc_signal_self(int sig, const siginfo_t *si)
{
	siginfo_t copy = *si;

	return (int)syscall(SYS_rt_tgsigqueueinfo, (pid_t)syscall(SYS_getpid),
			    (pid_t)syscall(SYS_gettid), sig, &copy);
}

/* A second signal while one is held: back to the kernel, blocked. */
static int requeue(int sig, siginfo_t *si, ucontext_t *uc)
{
	uint64_t one = BIT(sig), m;

	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &one, NULL, sizeof one);
	if (zc_signal_self(sig, si))
		return -1;   /* the queue is full (RLIMIT_SIGPENDING) */
	memcpy(&m, &uc->uc_sigmask, sizeof m);
	m |= one;
	memcpy(&uc->uc_sigmask, &m, sizeof m);
	return 0;
}

int zc_defer_if_critical(int sig, siginfo_t *si, void *ucv, zc_sigfn_t run,
			 const sigset_t *run_mask, int nodefer)
{
	ucontext_t *uc = ucv;
	/* Not the SIGSEGV proxy (signals.c): blocked, it would make a fault
	 * meanwhile look like one the program had blocked. */
	uint64_t others = ~(SYNC_SIGNALS | BIT(_NSIG - 1)), rm;
	int saved, expect = 0;

	if (ZC_LIKELY(zc_crit_depth == 0) || !si || !uc || fault_raised(sig, si))
		return 0;
	saved = errno;
	/* First, so that nothing else lands in this thread meanwhile. */
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &others, NULL, sizeof others);
	if (!__atomic_compare_exchange_n(&held.sig, &expect, -1, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		if (requeue(sig, si, uc)) {
			/* Nowhere to keep it: running the handler now is the
			 * one way not to lose it. */
			errno = saved;
			return 0;
		}
	} else {
		memcpy(&rm, run_mask, sizeof rm);
		held.run = run;
		held.run_mask = rm | (nodefer ? 0 : BIT(sig));
		memcpy(&held.mask, &uc->uc_sigmask, sizeof held.mask);
		held.info = *si;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		held.sig = sig;
		/* The interrupted context, when this returns: everything that
		 * can wait waits, in the kernel, behind the held signal. */
		memcpy(&rm, &uc->uc_sigmask, sizeof rm);
		rm |= others;
		memcpy(&uc->uc_sigmask, &rm, sizeof rm);
	}
	zc_crit_pending = 1;
	/* (a fork child before its reset shares its parent's stats page) */
	if (__atomic_load_n(&zc_own->state, __ATOMIC_RELAXED) == ZC_OWN_OWNED)
		ZC_STAT_ADD(signals_deferred, 1);
	errno = saved;
	return 1;
}
