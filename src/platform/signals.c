/*
 * signals.c - the program's signal dispositions, behind the shim's handlers.
 *
 * The kernel holds a handler of the shim's for every signal the program
 * handles; app_act holds what the program set, and sigaction(), signal()
 * and the rest of libc's family read and write it, so the program sees
 * exactly what it set. Three handlers:
 *   SIGSEGV: the guard's fault handler (guard.c; its backend says whether the
 *     signal may be a guard fault, guard_backend.h); a fault that is not the
 *     guard's goes to the program's disposition: its handler (with its
 *     mask and SA_SIGINFO/SA_RESETHAND/SA_NODEFER), or for SIG_DFL/SIG_IGN
 *     the default action: the shim restores SIG_DFL and returns, the
 *     faulting instruction runs again and the kernel kills with the real
 *     siginfo (and core dump);
 *   the stats signal: the dump, then the program's handler; SIG_DFL and
 *     SIG_IGN only dump (the signal must not kill a program that did not
 *     ask for it);
 *   every other signal with a handler of the program's: a trampoline,
 *     installed with the program's own mask and flags (so the kernel
 *     applies them: SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_ONSTACK...),
 *     that calls the program's handler.
 * All three first hand the signal to sigdefer.c if the thread is inside
 * one of the shim's critical sections: the program's handler then runs
 * when the section ends.
 *
 * libc's signal(), bsd_signal(), ssignal(), sysv_signal(), sigset() and
 * siginterrupt() call its sigaction internally, past the shim: they are
 * wrapped here with glibc's own semantics. libc's internal callers that
 * save and restore a disposition (system(), abort()) read the kernel's, a
 * trampoline, and put it back: still right.
 *
 * Signal-context invariant: the handlers use only async-signal-safe calls
 * (see guard.c, guard_mprotect.c, stats.c and sigdefer.c) and preserve errno around the
 * shim's own work.
 */
#include "signals.h"
#include "guard.h"
#include "probe.h"
#include "owner.h"
#include "shim.h"
#include "sys.h"
#include "sigdefer.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ALTSTACK_SIZE (64u * 1024u)

/* Flags libc passes to the kernel without naming them in its headers. */
#define ZC_SA_RESTORER 0x04000000
#ifdef SA_INTERRUPT
#define ZC_SA_INTERRUPT SA_INTERRUPT
#else
#define ZC_SA_INTERRUPT 0
#endif

static struct sigaction app_act[_NSIG];
static int installed_segv, installed_stats;
/* siginterrupt(): signals whose signal() handlers get no SA_RESTART. */
static sigset_t sig_interrupt;
/* Serialises the program's sigaction() calls (app_act and the kernel
 * change together); taken with every signal blocked. */
static int disp_word;
/* The mask the shim's own handlers run with (they apply the program's). */
static const sigset_t no_signals;
static pthread_key_t altstack_key;
static int altstack_key_ok;
__thread int zc_altstack_state ZC_TLS_MODEL;   /* 0 unknown, 1 have one */
__thread int zc_handler_depth ZC_TLS_MODEL;
/* The frame that called each handler of the program's this thread runs,
 * outermost first: a jump out of handlers (hooks_jump.c) tells from it
 * which ones it leaves. Deeper handlers than this are counted only. */
#define HANDLER_FRAMES 16
static __thread uintptr_t handler_frame[HANDLER_FRAMES] ZC_TLS_MODEL;

static void handler_enter(uintptr_t frame)
{
	int d = zc_handler_depth;

	if (d >= 0 && d < HANDLER_FRAMES)
		handler_frame[d] = frame;
	zc_handler_depth = d + 1;
}

/*
 * The thread jumps (longjmp, siglongjmp) to a context whose stack pointer
 * is sp: the handlers whose calling frame lies below sp on the same stack
 * are left. A handler on the signal stack is left by a jump off it. When
 * unsure (sp unknown, a frame not recorded, a jump onto the signal stack
 * from a handler off it), the count stays: inside a handler is the safe
 * thing to believe. Async-signal-safe (a jump may leave from a handler).
 */
void zc_handlers_left(uintptr_t sp)
{
	int d = zc_handler_depth;
	uintptr_t lo = 0, hi = 0;
	stack_t ss;

	if (!sp || d <= 0 || d > HANDLER_FRAMES)
		return;
	if (!sigaltstack(NULL, &ss) && !(ss.ss_flags & SS_DISABLE)) {
		lo = (uintptr_t)ss.ss_sp;
		hi = lo + ss.ss_size;
	}
	while (d > 0) {
		uintptr_t f = handler_frame[d - 1];
		int f_alt = f >= lo && f < hi, sp_alt = sp >= lo && sp < hi;

		if (f_alt == sp_alt ? sp <= f : !f_alt)
			break;
		d--;
	}
	zc_handler_depth = d;
}

/*
 * SIGSEGV is never blocked in the kernel while the shim is active: a guard
 * fault in a thread that had it blocked would be killed by the kernel.
 * "The program has SIGSEGV blocked" is carried instead by the bit of
 * ZC_SEGV_PROXY (SIGRTMAX) in the kernel's mask, so every path that saves
 * and restores the kernel's mask carries it for free: handler entry and
 * return, longjmp out of a handler (which leaves the handler's mask),
 * siglongjmp and setcontext (glibc restores the saved mask past the
 * shim's wrappers), fork, new threads. What the program hands in (a mask,
 * a handler's sa_mask, a temporary mask for sigsuspend or ppoll) has
 * SIGSEGV replaced by the proxy (zc_mask_to_kernel); what it reads back
 * (an old mask, a handler's uc_sigmask) has the proxy shown as SIGSEGV
 * (zc_mask_to_program). A fault the kernel raises in a context whose mask
 * holds the proxy is a real fault with SIGSEGV "blocked": the shim takes
 * the default action, as the kernel would have (call_app). An exec hands
 * the new program SIGSEGV itself (hooks_exec.c).
 *
 * SIGRTMAX is the shim's, as glibc keeps two signals below SIGRTMIN for
 * itself: the program may handle it, but its own blocking of SIGRTMAX is
 * not applied and never reads back (as glibc's sigprocmask leaves out its
 * own two). A sigfillset() mask reads back without it.
 */
static int proxy_on(void)
{
	return __atomic_load_n(&installed_segv, __ATOMIC_RELAXED);
}

void zc_mask_to_kernel(sigset_t *set)
{
	if (!proxy_on())
		return;
	if (sigismember(set, SIGSEGV) == 1) {
		sigdelset(set, SIGSEGV);
		sigaddset(set, ZC_SEGV_PROXY);
	} else {
		sigdelset(set, ZC_SEGV_PROXY);
	}
}

void zc_mask_to_program(sigset_t *set)
{
	if (!proxy_on() || sigismember(set, ZC_SEGV_PROXY) != 1)
		return;
	sigdelset(set, ZC_SEGV_PROXY);
	sigaddset(set, SIGSEGV);
}

const sigset_t *zc_mask_arg(const sigset_t *in, sigset_t *buf)
{
	if (!in || !proxy_on() ||
	    (sigismember(in, SIGSEGV) != 1 && sigismember(in, ZC_SEGV_PROXY) != 1))
		return in;
	*buf = *in;
	zc_mask_to_kernel(buf);
	return buf;
}

/* A ucontext's mask, as the program's handler sees it, and back. */
static void uc_to_program(void *ucv)
{
	if (ucv)
		zc_mask_to_program(&((ucontext_t *)ucv)->uc_sigmask);
}

static void uc_to_kernel(void *ucv)
{
	if (ucv)
		zc_mask_to_kernel(&((ucontext_t *)ucv)->uc_sigmask);
}

static int proxy_blocked_in(const void *ucv)
{
	return ucv && sigismember(&((const ucontext_t *)ucv)->uc_sigmask, ZC_SEGV_PROXY) == 1;
}

static int ours(int sig)
{
	return (sig == SIGSEGV && installed_segv) ||
	       (sig == zc_cfg.stats_signal && installed_stats);
}

static void call_app(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = app_act[sig];
	sigset_t mask, old;

	/* A fault while the program had SIGSEGV blocked (the proxy in the
	 * interrupted context's mask): the kernel would kill with the default
	 * action. */
	if (sig == SIGSEGV && si && si->si_code > 0 && proxy_blocked_in(uc))
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
	zc_mask_to_kernel(&mask);
	zc_sigmask(SIG_BLOCK, &mask, &old);
	if (a.sa_flags & SA_RESETHAND) {
		memset(&app_act[sig], 0, sizeof app_act[sig]);
		app_act[sig].sa_handler = SIG_DFL;
	}
	uc_to_program(uc);
	handler_enter((uintptr_t)__builtin_frame_address(0));
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	zc_handler_depth--;
	uc_to_kernel(uc);
	zc_sigmask(SIG_SETMASK, &old, NULL);
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t addr;

	/* A bad pointer read in a fault probe window (probe.h): a fault the
	 * kernel raised (a SIGSEGV sent with kill() is the program's). */
	if (si && si->si_code > 0)
		zc_probe_jump();
	if (zc_ready && zc_guard_backend->is_fault(sig, si, &addr) &&
	    zc_guard_fault(addr)) {
		errno = saved;
		return;
	}
	if (zc_defer_if_critical(sig, si, uc, segv_handler, &no_signals, 1))
		return;   /* a SIGSEGV sent by kill() */
	call_app(sig, si, uc);
	errno = saved;
}

static void stats_handler(int sig, siginfo_t *si, void *uc)
{
	int saved;

	if (zc_defer_if_critical(sig, si, uc, stats_handler, &no_signals, 0))
		return;
	saved = errno;
	zc_stats_dump();
	call_app(sig, si, uc);
	errno = saved;
}

/* Every other signal the program handles. The kernel applied the program's
 * mask and flags already. */
static void app_handler(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = app_act[sig];

	zc_mask_to_kernel(&a.sa_mask);
	if (zc_defer_if_critical(sig, si, uc, app_handler, &a.sa_mask,
				 a.sa_flags & SA_NODEFER))
		return;
	a = app_act[sig];
	if (a.sa_handler == SIG_IGN)
		return;
	if (a.sa_handler == SIG_DFL) {
		/* Only in a race with sigaction() from another thread, which
		 * is about to install SIG_DFL in the kernel: do it, then let
		 * the kernel act on the signal again. */
		struct sigaction d;

		memset(&d, 0, sizeof d);
		d.sa_handler = SIG_DFL;
		zc_real.sigaction(sig, &d, NULL);
		zc_signal_self(sig, si);
		return;
	}
	uc_to_program(uc);
	handler_enter((uintptr_t)__builtin_frame_address(0));
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	zc_handler_depth--;
	uc_to_kernel(uc);
}

static int is_handler(zc_sighandler_t h)
{
	return h != SIG_DFL && h != SIG_IGN;
}

/* The kernel's copy of a program disposition that is a handler. */
static struct sigaction kernel_act(const struct sigaction *app)
{
	struct sigaction k = *app;

	k.sa_sigaction = app_handler;
	k.sa_flags |= SA_SIGINFO;
	zc_mask_to_kernel(&k.sa_mask);   /* the kernel adds it at entry */
	return k;
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
	zc_sys_munmap((char *)p - zc_page, ALTSTACK_SIZE + zc_page);
}

int zc_altstack_setup(void)
{
	stack_t cur, ss;
	char *p;

	/* A vfork or CLONE_VM child shares this thread's thread-locals with
	 * the thread that made it, not its signal stack: what it set up
	 * would be taken for that thread's. It copies. */
	if (zc_owner_foreign_vm())
		return -1;
	zc_altstack_state = 1;
	/* valgrind 3.19 marks part of the interrupted thread's own stack
	 * unaddressable after an asynchronous signal delivered on an
	 * alternate stack (reproduced without the shim): scripts/memcheck
	 * turns this stack off so its reports are about the shim. */
	if (zc_test_no_altstack())
		return 0;
	if (sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_DISABLE))
		return 0;   /* the program has one: the handler runs there */
	p = zc_sys_mmap(NULL, ALTSTACK_SIZE + zc_page, PROT_READ | PROT_WRITE,
		        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	zc_sys_mprotect(p, zc_page, PROT_NONE);   /* overflow faults, not corrupts */
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = p + zc_page;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, NULL)) {
		zc_sys_munmap(p, ALTSTACK_SIZE + zc_page);
		return 0;
	}
	if (altstack_key_ok)
		pthread_setspecific(altstack_key, p + zc_page);
	return 0;
}

/* Out of range, or one of libc's own (SIGCANCEL, SIGSETXID): libc's
 * signal functions refuse it with EINVAL. */
static int not_for_programs(int sig)
{
	return sig <= 0 || sig >= _NSIG || (sig >= 32 && sig < SIGRTMIN);
}

/* The kernel's or libc's own: sigaction() refuses to change them. */
static int reserved(int sig)
{
	return not_for_programs(sig) || sig == SIGKILL || sig == SIGSTOP;
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
	{
		/* Started with SIGSEGV blocked (an exec from a thread that had
		 * it blocked): the proxy carries it from now on. */
		sigset_t cur;

		if (zc_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGSEGV) == 1) {
			zc_mask_to_kernel(&cur);
			zc_sigmask(SIG_SETMASK, &cur, NULL);
		}
	}
	if (zc_cfg.stats_signal > 0) {
		zc_real.sigaction(zc_cfg.stats_signal, NULL, &app_act[zc_cfg.stats_signal]);
		/* Ignored (nohup, or a parent's SIG_IGN across exec): it stays
		 * ignored in the kernel, so that it crosses the next exec too;
		 * no dump until the program sets something else. */
		if (app_act[zc_cfg.stats_signal].sa_handler == SIG_IGN ||
		    install(zc_cfg.stats_signal, stats_handler) == 0)
			installed_stats = 1;
	}
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction cur, k;

		if (reserved(sig) || ours(sig) || zc_real.sigaction(sig, NULL, &cur) ||
		    !is_handler(cur.sa_handler))
			continue;
		app_act[sig] = cur;
		k = kernel_act(&cur);
		zc_real.sigaction(sig, &k, NULL);
	}
	return 0;
}

static void disp_lock(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	zc_sigmask(SIG_BLOCK, &all, saved);
	while (__atomic_exchange_n(&disp_word, 1, __ATOMIC_ACQUIRE))
		syscall(SYS_sched_yield);
}

static void disp_unlock(const sigset_t *saved)
{
	__atomic_store_n(&disp_word, 0, __ATOMIC_RELEASE);
	zc_sigmask(SIG_SETMASK, saved, NULL);
}

/* What libc's sigaction() would report for the kernel's disposition cur. */
static struct sigaction program_view(int sig, const struct sigaction *cur)
{
	struct sigaction v;

	if (cur->sa_sigaction != app_handler)
		return *cur;
	v = app_act[sig];
	v.sa_flags |= cur->sa_flags & ZC_SA_RESTORER;
	v.sa_restorer = cur->sa_restorer;
	return v;
}

ZC_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction in, cur, prev;
	sigset_t saved;
	int r = 0, err;

	if (!zc_ready || reserved(sig))
		return ZC_REAL(sigaction)(sig, act, old);
	if (act)
		in = *act;   /* act and old may be the same struct */
	disp_lock(&saved);
	if (ours(sig)) {
		prev = app_act[sig];
		if (act) {
			app_act[sig] = in;
			/* SIG_IGN of the stats signal is the kernel's own, so
			 * that exec, posix_spawn and a raw execve all pass it
			 * on; the signal then dumps nothing. */
			if (sig != SIGSEGV && in.sa_handler == SIG_IGN)
				zc_real.sigaction(sig, &in, NULL);
			else if (sig != SIGSEGV)
				install(sig, stats_handler);
		}
	} else {
		r = zc_real.sigaction(sig, NULL, &cur);
		if (r == 0)
			prev = program_view(sig, &cur);
		if (r == 0 && act && is_handler(in.sa_handler)) {
			/* app_act first: the trampoline may run the moment the
			 * kernel has it. */
			struct sigaction k = kernel_act(&in), was = app_act[sig];

			app_act[sig] = in;
			r = zc_real.sigaction(sig, &k, NULL);
			if (r)
				app_act[sig] = was;
		} else if (r == 0 && act) {
			r = zc_real.sigaction(sig, &in, NULL);
			if (r == 0)
				app_act[sig] = in;
		}
	}
	err = errno;
	disp_unlock(&saved);
	if (r == 0 && old)
		*old = prev;
	if (r == 0 && act && sig == zc_cfg.stats_signal && is_handler(in.sa_handler))
		zc_stats_warn_handler(sig, (void *)in.sa_handler, zc_handler_depth);
	errno = err;
	return r;
}

ZC_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
ZC_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return sigaction(sig, act, old);
}

/* signal() and its relatives, as glibc defines them over sigaction(). */
static zc_sighandler_t set_simple(int sig, zc_sighandler_t handler, int flags, int mask_self)
{
	struct sigaction a, old;

	if (handler == SIG_ERR || not_for_programs(sig)) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&a, 0, sizeof a);
	a.sa_handler = handler;
	sigemptyset(&a.sa_mask);
	if (mask_self)
		sigaddset(&a.sa_mask, sig);
	a.sa_flags = flags;
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics: the signal blocked in its handler, calls restarted unless
 * siginterrupt() said otherwise. glibc's bsd_signal and ssignal are the
 * same function. */
ZC_EXPORT zc_sighandler_t signal(int sig, zc_sighandler_t handler)
{
	return set_simple(sig, handler, sigismember(&sig_interrupt, sig) == 1 ? 0 : SA_RESTART, 1);
}

ZC_EXPORT zc_sighandler_t bsd_signal(int sig, zc_sighandler_t handler);
ZC_EXPORT zc_sighandler_t bsd_signal(int sig, zc_sighandler_t handler)
{
	return signal(sig, handler);
}

ZC_EXPORT zc_sighandler_t ssignal(int sig, zc_sighandler_t handler)
{
	return signal(sig, handler);
}

/* System V semantics: one shot, not blocked in its handler, no restart. */
ZC_EXPORT zc_sighandler_t __sysv_signal(int sig, zc_sighandler_t handler);
ZC_EXPORT zc_sighandler_t __sysv_signal(int sig, zc_sighandler_t handler)
{
	return set_simple(sig, handler, SA_RESETHAND | SA_NODEFER | ZC_SA_INTERRUPT, 0);
}

ZC_EXPORT zc_sighandler_t sysv_signal(int sig, zc_sighandler_t handler)
{
	return __sysv_signal(sig, handler);
}

static int mask_call(int (*real)(int, const sigset_t *, sigset_t *), int how,
		     const sigset_t *set, sigset_t *old);
int zc_program_sigmask(int how, const sigset_t *set, sigset_t *old);

ZC_EXPORT zc_sighandler_t sigset(int sig, zc_sighandler_t disp)
{
	struct sigaction a, old;
	sigset_t one, was;

	sigemptyset(&one);
	if (sigaddset(&one, sig) < 0)
		return SIG_ERR;
	if (disp == SIG_HOLD) {
		if (mask_call(ZC_REAL(sigprocmask), SIG_BLOCK, &one, &was) < 0)
			return SIG_ERR;
		if (sigismember(&was, sig))
			return SIG_HOLD;
		if (sigaction(sig, NULL, &old) < 0)
			return SIG_ERR;
		return old.sa_handler;
	}
	memset(&a, 0, sizeof a);
	a.sa_handler = disp;
	sigemptyset(&a.sa_mask);
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	if (mask_call(ZC_REAL(sigprocmask), SIG_UNBLOCK, &one, &was) < 0)
		return SIG_ERR;
	return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}

ZC_EXPORT int siginterrupt(int sig, int interrupt)
{
	struct sigaction a;

	if (sigaction(sig, NULL, &a) < 0)
		return -1;
	if (interrupt) {
		sigaddset(&sig_interrupt, sig);
		a.sa_flags &= ~SA_RESTART;
	} else {
		sigdelset(&sig_interrupt, sig);
		a.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &a, NULL) < 0 ? -1 : 0;
}

/* The program's change of its mask, for the wrappers of hooks_sigmask.c. */
int zc_program_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call(ZC_REAL(pthread_sigmask), how, set, old);
}

/* The program's sigprocmask/pthread_sigmask: everything as asked, with
 * SIGSEGV carried by the proxy (see zc_mask_to_kernel); the old mask
 * reports it as the program set it. */
static int mask_call(int (*real)(int, const sigset_t *, sigset_t *), int how,
		     const sigset_t *set, sigset_t *old)
{
	sigset_t mine;
	int r;

	if (!proxy_on())
		return real(how, set, old);
	r = real(how, zc_mask_arg(set, &mine), old);
	if (r == 0 && old)
		zc_mask_to_program(old);
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

/* Before an exec: the new program gets the program's own SIGSEGV
 * disposition (SIG_IGN crosses exec; a handler becomes SIG_DFL, which the
 * shim's handler becomes anyway) and its mask with SIGSEGV itself. */
void zc_exec_prepare(struct zc_exec_state *st)
{
	sigset_t cur;

	st->ign = 0;
	st->masked = 0;
	if (!proxy_on())
		return;
	if (app_act[SIGSEGV].sa_handler == SIG_IGN) {
		struct sigaction ign;

		memset(&ign, 0, sizeof ign);
		ign.sa_handler = SIG_IGN;
		st->ign = zc_real.sigaction(SIGSEGV, &ign, &st->act) == 0;
	}
	if (zc_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, ZC_SEGV_PROXY) == 1) {
		st->mask = cur;
		st->masked = 1;
		sigdelset(&cur, ZC_SEGV_PROXY);
		sigaddset(&cur, SIGSEGV);
		zc_sigmask(SIG_SETMASK, &cur, NULL);
	}
}

/* The exec failed: back to the shim's own. */
void zc_exec_undo(const struct zc_exec_state *st)
{
	if (st->masked)
		zc_sigmask(SIG_SETMASK, &st->mask, NULL);
	if (st->ign)
		zc_real.sigaction(SIGSEGV, &st->act, NULL);
}
