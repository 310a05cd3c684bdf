/*
 * signals.c - SIGSEGV for the guard, the stats signal, and the program's
 * own handlers for both.
 *
 * The shim keeps its handlers installed in the kernel and keeps the
 * program's dispositions for those signals in app_act: sigaction() and
 * signal() from the program read and write app_act, so the program sees
 * exactly what it set. After the shim has done its part, the program's
 * disposition applies as the kernel would have applied it:
 *   SIGSEGV not the guard's: the program's handler (with its mask and
 *     SA_SIGINFO/SA_RESETHAND/SA_NODEFER), or for SIG_DFL/SIG_IGN the
 *     default action: the shim restores SIG_DFL and returns, the faulting
 *     instruction runs again and the kernel kills with the real siginfo
 *     (and core dump);
 *   stats signal: the program's handler; SIG_DFL and SIG_IGN only dump
 *     (the signal must not kill a program that did not ask for it).
 *
 * Signal-context invariant: both handlers use only async-signal-safe
 * calls (see guard.c and stats.c) and preserve errno.
 */
#include "signals.h"
#include "guard.h"
#include "shim.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ALTSTACK_SIZE (64u * 1024u)

static struct sigaction app_act[_NSIG];
static int installed_segv, installed_stats;
static pthread_key_t altstack_key;
static int altstack_key_ok;
static __thread int altstack_state ZC_TLS_MODEL;   /* 0 unknown, 1 have one */
/* The program asked to block SIGSEGV in this thread. The shim never really
 * blocks it (a guard fault in a thread that had it blocked would kill the
 * process): it keeps the program's view instead. */
static __thread int segv_blocked ZC_TLS_MODEL;

static int ours(int sig)
{
	return (sig == SIGSEGV && installed_segv) ||
	       (sig == zc_cfg.stats_signal && installed_stats);
}

static void call_app(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = app_act[sig];
	sigset_t mask, old;

	/* A fault while the program had SIGSEGV blocked: the kernel would
	 * kill with the default action. */
	if (sig == SIGSEGV && segv_blocked && si && si->si_code > 0)
		a.sa_handler = SIG_DFL;
	if (a.sa_handler == SIG_IGN || a.sa_handler == SIG_DFL) {
		int sent = !si || si->si_code <= 0;   /* kill(), not a fault */

		if (sig == SIGSEGV && !(sent && a.sa_handler == SIG_IGN)) {
			/* Default action: a fault happens again without the
			 * shim in the way once we return; a sent signal is
			 * sent again. The kernel then kills as it would have. */
			struct sigaction d;

			memset(&d, 0, sizeof d);
			d.sa_handler = SIG_DFL;
			zc_real.sigaction(sig, &d, NULL);
			installed_segv = 0;
			if (sent)
				kill(getpid(), sig);
		}
		return;
	}
	mask = a.sa_mask;
	if (!(a.sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	zc_sigmask(SIG_BLOCK, &mask, &old);
	if (a.sa_flags & SA_RESETHAND) {
		memset(&app_act[sig], 0, sizeof app_act[sig]);
		app_act[sig].sa_handler = SIG_DFL;
	}
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	zc_sigmask(SIG_SETMASK, &old, NULL);
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	zc_probe_jump();   /* a bad pointer while copying bounce bytes */
	if (si && si->si_code == SEGV_ACCERR && zc_ready &&
	    zc_guard_fault((uintptr_t)si->si_addr)) {
		errno = saved;
		return;
	}
	call_app(sig, si, uc);
	errno = saved;
}

static void stats_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	zc_stats_dump();
	call_app(sig, si, uc);
	errno = saved;
}

/* Install ours in the kernel. SA_RESTART for the stats signal follows the
 * program's choice, so its blocking calls behave as it asked. */
static int install(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_sigaction = fn;
	a.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (sig == SIGSEGV) {
		/* SA_NODEFER: a second fault in the handler (the program's
		 * handler, chained) behaves as without the shim. */
		a.sa_flags |= SA_NODEFER;
	} else if (app_act[sig].sa_handler == SIG_DFL || app_act[sig].sa_handler == SIG_IGN ||
		   (app_act[sig].sa_flags & SA_RESTART)) {
		a.sa_flags |= SA_RESTART;
	}
	sigemptyset(&a.sa_mask);
	return zc_real.sigaction(sig, &a, NULL);
}

static void altstack_free(void *p)
{
	stack_t off;

	memset(&off, 0, sizeof off);
	off.ss_flags = SS_DISABLE;
	sigaltstack(&off, NULL);
	munmap((char *)p - zc_page, ALTSTACK_SIZE + zc_page);
}

void zc_altstack_ensure(void)
{
	stack_t cur, ss;
	char *p;

	if (ZC_LIKELY(altstack_state))
		return;
	altstack_state = 1;
	/* valgrind 3.19 marks part of the interrupted thread's own stack
	 * unaddressable after an asynchronous signal delivered on an
	 * alternate stack (reproduced without the shim): scripts/memcheck
	 * turns this stack off so its reports are about the shim. */
	if (zc_cfg.test_no_altstack)
		return;
	if (sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_DISABLE))
		return;   /* the program has one: the handler runs there */
	p = mmap(NULL, ALTSTACK_SIZE + zc_page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return;
	mprotect(p, zc_page, PROT_NONE);   /* overflow faults, not corrupts */
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = p + zc_page;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, NULL)) {
		munmap(p, ALTSTACK_SIZE + zc_page);
		return;
	}
	if (altstack_key_ok)
		pthread_setspecific(altstack_key, p + zc_page);
}

int zc_signals_install(void)
{
	for (int sig = 1; sig < _NSIG; sig++)
		app_act[sig].sa_handler = SIG_DFL;
	if (!altstack_key_ok && !pthread_key_create(&altstack_key, altstack_free))
		altstack_key_ok = 1;
	/* What was installed before us (by a constructor that ran earlier)
	 * becomes the program's disposition. */
	zc_real.sigaction(SIGSEGV, NULL, &app_act[SIGSEGV]);
	if (install(SIGSEGV, segv_handler))
		return -1;
	installed_segv = 1;
	if (zc_cfg.stats_signal > 0) {
		zc_real.sigaction(zc_cfg.stats_signal, NULL, &app_act[zc_cfg.stats_signal]);
		if (install(zc_cfg.stats_signal, stats_handler) == 0)
			installed_stats = 1;
	}
	return 0;
}

ZC_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	sigset_t all, saved;

	if (!zc_ready || !ours(sig))
		return ZC_REAL(sigaction)(sig, act, old);
	/* Update app_act with every signal blocked: the handlers read it. */
	sigfillset(&all);
	zc_sigmask(SIG_BLOCK, &all, &saved);
	if (old)
		*old = app_act[sig];
	if (act) {
		app_act[sig] = *act;
		if (sig != SIGSEGV)
			install(sig, stats_handler);
	}
	zc_sigmask(SIG_SETMASK, &saved, NULL);
	return 0;
}

ZC_EXPORT zc_sighandler_t signal(int sig, zc_sighandler_t handler)
{
	struct sigaction a, old;

	if (!zc_ready || !ours(sig))
		return ZC_REAL(signal)(sig, handler);
	/* glibc's signal(): BSD semantics. */
	memset(&a, 0, sizeof a);
	a.sa_handler = handler;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, sig);
	a.sa_flags = SA_RESTART;
	if (sigaction(sig, &a, &old))
		return SIG_ERR;
	return old.sa_handler;
}

/* The program's sigprocmask/pthread_sigmask: everything as asked, except
 * that SIGSEGV stays deliverable while the shim is active (see
 * segv_blocked); the old mask reports it as the program set it. */
static int mask_call(int (*real)(int, const sigset_t *, sigset_t *), int how,
		     const sigset_t *set, sigset_t *old)
{
	sigset_t mine;
	const sigset_t *use = set;
	int was = segv_blocked, r, in;

	if (!zc_ready || !installed_segv)
		return real(how, set, old);
	in = set && sigismember(set, SIGSEGV) == 1;
	if (in && how != SIG_UNBLOCK) {
		mine = *set;
		sigdelset(&mine, SIGSEGV);
		use = &mine;
	}
	r = real(how, use, old);
	if (r != 0)
		return r;
	if (old && was)
		sigaddset(old, SIGSEGV);
	if (set) {
		if (how == SIG_BLOCK && in)
			segv_blocked = 1;
		else if (how == SIG_UNBLOCK && in)
			segv_blocked = 0;
		else if (how == SIG_SETMASK)
			segv_blocked = in;
	}
	return r;
}

ZC_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call(ZC_REAL(sigprocmask), how, set, old);
}

ZC_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call(ZC_REAL(pthread_sigmask), how, set, old);
}
