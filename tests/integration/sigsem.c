/*
 * sigsem - Description: the program's signal semantics under the shim.
 *
 * - SIGUSR1 handler with sa_mask {SIGUSR2} and SA_RESETHAND: the mask
 *   applies inside the handler (plus SIGUSR1 itself), the disposition reads
 *   back as SIG_DFL afterwards, and a later SIGUSR1 does not kill (the
 *   shim's stats signal with no handler only dumps).
 * - A thread that blocks SIGSEGV and then writes a guarded buffer is not
 *   killed; its mask still reads back with SIGSEGV blocked.
 * - A real fault in a process that blocked SIGSEGV still kills with
 *   SIGSEGV.
 * Plus the usual overwrite, so that a shim without its guard fails.
 */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSGLEN (160 * 1024 + 1)

static volatile sig_atomic_t usr1_runs, mask_ok;

static void on_usr1(int sig)
{
	sigset_t cur;

	(void)sig;
	usr1_runs++;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	mask_ok = sigismember(&cur, SIGUSR2) == 1 && sigismember(&cur, SIGUSR1) == 1;
}

static char *buf;
static int sock;

static void *blocked_writer(void *arg)
{
	sigset_t segv, cur;

	(void)arg;
	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &segv, NULL);
	itest_fill(buf, MSGLEN, 1);
	if (itest_send_all(sock, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);   /* guard fault with SIGSEGV "blocked" */
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return (void *)(intptr_t)(sigismember(&cur, SIGSEGV) == 1);
}

int main(void)
{
	struct sigaction a, now;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	void *mask_kept;
	pthread_t t;
	int r, status, bad = 0;
	pid_t pid;

	memset(&a, 0, sizeof a);
	a.sa_handler = on_usr1;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGUSR2);
	a.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &a, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &now);
	if (usr1_runs != 1 || !mask_ok || now.sa_handler != SIG_DFL) {
		fprintf(stderr, "sigsem: SIGUSR1 ran %d times, mask %s, then %s\n", (int)usr1_runs,
			mask_ok ? "right" : "wrong",
			now.sa_handler == SIG_DFL ? "SIG_DFL" : "not reset");
		bad = 1;
	}
	raise(SIGUSR1);   /* SIG_DFL now: the stats dump only */

	buf = (char *)itest_pages(MSGLEN + 8192) + 3;
	itest_tcp_pair(&sock, &r);
	rx = itest_receiver_start(r, 150);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(sock, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	pthread_create(&t, NULL, blocked_writer, NULL);
	pthread_join(t, &mask_kept);
	if (!mask_kept) {
		fprintf(stderr, "sigsem: the thread's mask lost SIGSEGV\n");
		bad = 1;
	}

	pid = fork();
	if (pid == 0) {
		sigset_t segv;
		volatile int *volatile nowhere = (int *)16;

		sigemptyset(&segv);
		sigaddset(&segv, SIGSEGV);
		sigprocmask(SIG_BLOCK, &segv, NULL);
		*nowhere = 1;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		fprintf(stderr, "sigsem: a real fault with SIGSEGV blocked did not kill (%#x)\n",
			status);
		bad = 1;
	}
	itest_dump_stats();
	close(sock);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, 2, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
