/*
 * segvblocked - Description: a thread with SIGSEGV blocked may write its
 * own buffer while the shim guards it, however SIGSEGV came to be blocked;
 * a real fault there still kills with SIGSEGV, as without the shim.
 *
 * usage: segvblocked samask|sigsuspend|longjmp|realfault
 *   samask      a SIGUSR1 handler installed with sigfillset(sa_mask)
 *               writes the buffer just sent (SIGSEGV blocked by the
 *               kernel at handler entry); inside, the mask and uc_sigmask
 *               read back with SIGSEGV blocked;
 *   sigsuspend  the handler runs under sigsuspend()'s mask (everything but
 *               SIGUSR1 blocked) and writes the buffer;
 *   longjmp     a real fault's handler leaves with longjmp (not
 *               siglongjmp): SIGSEGV stays blocked, and reads back so;
 *               then the thread sends and writes the buffer;
 *   realfault   in a child each: a real fault with SIGSEGV blocked by
 *               sigprocmask, inside a sigfillset handler, under sigsuspend,
 *               and after the longjmp above; each child must die of
 *               SIGSEGV although the program's SIGSEGV handler is set.
 * The first three send, write the buffer at once and check every byte
 * the peer gets: a shim without its guard fails them.
 */
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define MSGLEN (160 * 1024 + 1)

static char *buf;
static volatile sig_atomic_t ran, view_ok = 1;
static jmp_buf env;
static volatile int *volatile nowhere = (int *)16;

static int segv_in(const sigset_t *s)
{
	return sigismember(s, SIGSEGV) == 1;
}

/* In the handler: SIGSEGV reads back blocked, and the interrupted
 * context's mask (uc_sigmask) holds nothing the program did not block. */
static void check_view(const ucontext_t *uc)
{
	sigset_t cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (!segv_in(&cur) || segv_in(&uc->uc_sigmask) ||
	    sigismember(&uc->uc_sigmask, SIGRTMAX) == 1)
		view_ok = 0;
}

/* Writes the buffer in flight: a guard fault with SIGSEGV blocked. */
static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	check_view(uc);
	memset(buf, 0xEE, MSGLEN);
	ran++;
}

static void on_usr1_fault(int sig)
{
	(void)sig;
	*nowhere = 1;
}

static void on_segv_jump(int sig)
{
	(void)sig;
	longjmp(env, 1);
}

static void on_segv_exit(int sig)
{
	(void)sig;
	_exit(3);   /* the kernel would not have run this */
}

static void handle(int sig, void (*fn)(int), int full_mask)
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_handler = fn;
	if (full_mask)
		sigfillset(&a.sa_mask);
	else
		sigemptyset(&a.sa_mask);
	sigaction(sig, &a, NULL);
}

static void handle_info(int sig, void (*fn)(int, siginfo_t *, void *), int full_mask)
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_sigaction = fn;
	a.sa_flags = SA_SIGINFO;
	if (full_mask)
		sigfillset(&a.sa_mask);
	else
		sigemptyset(&a.sa_mask);
	sigaction(sig, &a, NULL);
}

static void suspend_for_usr1(void)
{
	sigset_t usr1, wait;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	raise(SIGUSR1);   /* this thread's, pending until sigsuspend */
	sigfillset(&wait);
	sigdelset(&wait, SIGUSR1);
	sigsuspend(&wait);
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
}

/* Leave a real fault with longjmp: SIGSEGV stays blocked. */
static int fault_and_jump(void)
{
	sigset_t cur;

	handle(SIGSEGV, on_segv_jump, 0);
	if (!setjmp(env))
		*nowhere = 1;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return segv_in(&cur);
}

static int dies_of_segv(const char *what, void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		fprintf(stderr, "segvblocked: a real fault %s did not kill with SIGSEGV (%s %d)\n",
			what, WIFSIGNALED(status) ? "signal" : "exit",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return 1;
	}
	return 0;
}

static void rf_sigprocmask(void)
{
	sigset_t segv;

	handle(SIGSEGV, on_segv_exit, 0);
	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	sigprocmask(SIG_BLOCK, &segv, NULL);
	*nowhere = 1;
}

static void rf_handler(void)
{
	handle(SIGSEGV, on_segv_exit, 0);
	handle(SIGUSR1, on_usr1_fault, 1);
	raise(SIGUSR1);
}

static void rf_sigsuspend(void)
{
	handle(SIGSEGV, on_segv_exit, 0);
	handle(SIGUSR1, on_usr1_fault, 0);
	suspend_for_usr1();
}

static void rf_longjmp(void)
{
	fault_and_jump();
	handle(SIGSEGV, on_segv_exit, 0);
	*nowhere = 1;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "samask";
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	int s, r, bad = 0;

	if (!strcmp(how, "realfault")) {
		bad |= dies_of_segv("with SIGSEGV blocked by sigprocmask", rf_sigprocmask);
		bad |= dies_of_segv("in a handler with a full sa_mask", rf_handler);
		bad |= dies_of_segv("in a handler under sigsuspend's mask", rf_sigsuspend);
		bad |= dies_of_segv("after a longjmp out of a fault", rf_longjmp);
		return bad ? ITEST_CORRUPT : ITEST_OK;
	}
	buf = (char *)itest_pages(MSGLEN + 8192) + 3;
	if (!strcmp(how, "longjmp") && !fault_and_jump()) {
		fprintf(stderr, "segvblocked: after longjmp the mask lost SIGSEGV\n");
		bad = 1;
	}
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	if (!strcmp(how, "samask")) {
		handle_info(SIGUSR1, on_usr1, 1);
		raise(SIGUSR1);
	} else if (!strcmp(how, "sigsuspend")) {
		handle_info(SIGUSR1, on_usr1, 0);
		suspend_for_usr1();
	} else if (!strcmp(how, "longjmp")) {
		memset(buf, 0xEE, MSGLEN);
		ran = 1;
	} else {
		fprintf(stderr, "usage: segvblocked samask|sigsuspend|longjmp|realfault\n");
		return ITEST_ERROR;
	}
	if (ran != 1 || !view_ok) {
		fprintf(stderr, "segvblocked %s: handler ran %d times, SIGSEGV %s in its mask\n", how,
			(int)ran, view_ok ? "blocked" : "not blocked");
		bad = 1;
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, 1, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
