/*
 * handlers - Description: a program with its own SIGSEGV and SIGUSR1
 * handlers, sending and overwriting its buffers.
 *
 * Guard faults must never reach the program's SIGSEGV handler; its own
 * faults must, with the right address; its SIGUSR1 handler must run when
 * the stats signal arrives (the shim dumps its line as well); a real
 * segfault with no handler must still kill with SIGSEGV.
 */
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NMSG 6
#define MSGLEN (200 * 1024 + 3)

static volatile sig_atomic_t segv_count, usr1_count;
static char *trap_page;
static void *volatile segv_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_count++;
	segv_addr = si->si_addr;
	/* Make the page writable so the faulting write succeeds on return. */
	mprotect(trap_page, 4096, PROT_READ | PROT_WRITE);
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

int main(void)
{
	struct sigaction a, old;
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 10;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	int s, r, status, bad = 0;
	pid_t pid;

	trap_page = itest_pages(4096);
	mprotect(trap_page, 4096, PROT_NONE);
	memset(&a, 0, sizeof a);
	a.sa_sigaction = on_segv;
	a.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &a, NULL);
	signal(SIGUSR1, on_usr1);

	/* The program sees its own handler when it asks. */
	sigaction(SIGSEGV, NULL, &old);
	if (old.sa_sigaction != on_segv || !(old.sa_flags & SA_SIGINFO)) {
		fprintf(stderr, "handlers: sigaction() does not return the program's handler\n");
		bad = 1;
	}

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	for (unsigned m = 0; m < NMSG; m++) {
		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		memset(buf, 0xEE, MSGLEN);   /* guard faults: not the program's */
	}
	if (segv_count != 0) {
		fprintf(stderr, "handlers: %d guard faults reached the program's handler\n",
			(int)segv_count);
		bad = 1;
	}
	*(volatile char *)(trap_page + 17) = 1;   /* the program's own fault */
	if (segv_count != 1 || segv_addr != trap_page + 17) {
		fprintf(stderr, "handlers: own fault seen %d times at %p (want 1 at %p)\n",
			(int)segv_count, segv_addr, (void *)(trap_page + 17));
		bad = 1;
	}
	raise(SIGUSR1);                      /* stats line and the program's handler */
	if (usr1_count != 1) {
		fprintf(stderr, "handlers: SIGUSR1 handler ran %d times\n", (int)usr1_count);
		bad = 1;
	}
	signal(SIGUSR1, SIG_IGN);            /* ignored: still no death, still stats */
	raise(SIGUSR1);

	/* A real bug with the default disposition still kills with SIGSEGV. */
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		volatile int *volatile nowhere = (int *)8;

		*nowhere = 1;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		fprintf(stderr, "handlers: a real segfault did not kill with SIGSEGV (status %#x)\n",
			status);
		bad = 1;
	}

	close(s);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, NMSG, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
