/*
 * hooks_sigmask.c - every libc call that sets the thread's signal mask
 * hands the kernel SIGSEGV as its proxy (signals.c): a guard fault must
 * never meet SIGSEGV blocked in the kernel.
 *
 * sigprocmask, pthread_sigmask and sigset are in signals.c; ppoll, pselect
 * and epoll_pwait in hooks_poll.c. Here: the temporary masks of
 * sigsuspend and sigpause, the System V and BSD mask calls (glibc runs
 * them on its internal sigprocmask, past the shim's wrapper), and the mask
 * a setcontext or swapcontext installs. getcontext and sigsetjmp save the
 * kernel's mask, proxy included, and their restores give it back as it
 * was: nothing to do there (a program that reads uc_sigmask after
 * getcontext sees SIGRTMAX where it blocked SIGSEGV).
 */
#include "shim.h"
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

ZC_EXPORT int sigsuspend(const sigset_t *mask)
{
	sigset_t k;

	return ZC_REAL(sigsuspend)(zc_mask_arg(mask, &k));
}

/* glibc's __sigpause: the current mask with sig taken out (is_sig), or the
 * BSD mask word for signals 1 to 32, for the wait. */
ZC_EXPORT int __sigpause(int sig_or_mask, int is_sig);
ZC_EXPORT int __sigpause(int sig_or_mask, int is_sig)
{
	sigset_t set;

	if (zc_program_sigmask(SIG_BLOCK, NULL, &set))
		return -1;
	if (is_sig) {
		if (sigdelset(&set, sig_or_mask))
			return -1;
	} else {
		sigemptyset(&set);
		for (int sig = 1; sig <= 32; sig++)
			if ((unsigned)sig_or_mask & (1u << (sig - 1)))
				sigaddset(&set, sig);
	}
	return sigsuspend(&set);
}

/* The BSD sigpause (a mask word); the headers may name sigpause()
 * __xpg_sigpause, hence the explicit symbol. */
ZC_EXPORT int zc_bsd_sigpause(int mask) __asm__("sigpause");
ZC_EXPORT int zc_bsd_sigpause(int mask)
{
	return __sigpause(mask, 0);
}

ZC_EXPORT int __xpg_sigpause(int sig);
ZC_EXPORT int __xpg_sigpause(int sig)
{
	return __sigpause(sig, 1);
}

static int one(int how, int sig)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, sig))
		return -1;
	return zc_program_sigmask(how, &set, NULL);
}

ZC_EXPORT int sighold(int sig)
{
	return one(SIG_BLOCK, sig);
}

ZC_EXPORT int sigrelse(int sig)
{
	return one(SIG_UNBLOCK, sig);
}

/* The BSD calls: a mask word for signals 1 to 32. */
static int bsd_mask(int how, int mask)
{
	sigset_t set, old;
	int r = 0;

	sigemptyset(&set);
	for (int sig = 1; sig <= 32; sig++)
		if ((unsigned)mask & (1u << (sig - 1)))
			sigaddset(&set, sig);
	if (zc_program_sigmask(how, &set, &old))
		return -1;
	for (int sig = 1; sig <= 32; sig++)
		if (sigismember(&old, sig) == 1)
			r |= (int)(1u << (sig - 1));
	return r;
}

ZC_EXPORT int sigblock(int mask)
{
	return bsd_mask(SIG_BLOCK, mask);
}

ZC_EXPORT int sigsetmask(int mask)
{
	return bsd_mask(SIG_SETMASK, mask);
}

ZC_EXPORT int siggetmask(void)
{
	return bsd_mask(SIG_BLOCK, 0);
}

/* A context the program built with SIGSEGV in uc_sigmask: switch to a copy
 * holding the proxy instead. The copy's fpregs pointer still names the
 * program's context, which outlives the switch. A context made by
 * getcontext holds the proxy already and is passed as it is. */
ZC_EXPORT int setcontext(const ucontext_t *ucp)
{
	ucontext_t k;

	if (!ucp || sigismember(&ucp->uc_sigmask, SIGSEGV) != 1)
		return ZC_REAL(setcontext)(ucp);
	memcpy(&k, ucp, sizeof k);
	zc_mask_to_kernel(&k.uc_sigmask);
	return ZC_REAL(setcontext)(&k);
}

ZC_EXPORT int swapcontext(ucontext_t *oucp, const ucontext_t *ucp)
{
	ucontext_t k;

	if (!ucp || sigismember(&ucp->uc_sigmask, SIGSEGV) != 1)
		return ZC_REAL(swapcontext)(oucp, ucp);
	memcpy(&k, ucp, sizeof k);
	zc_mask_to_kernel(&k.uc_sigmask);
	return ZC_REAL(swapcontext)(oucp, &k);
}
