/*
 * copywindow - a signal that lands while the shim copies a send's
 * unaligned ends into its bounce memory. The copy reads the program's
 * memory under a fault probe (a bad pointer gives EFAULT, not a crash), so
 * the program's own code must not run inside it: a handler there could
 * send (and open and close a probe of its own over the outer one), change
 * the memory being copied, or have its own fault taken for the copy's.
 * Without the shim the handler of a signal sent during send() runs once
 * the call returns; with it, the handler runs once the copy is done.
 *
 * ZCSHIM_TEST_COPY_SIGNAL (set by copywindow.sh) makes the first bounce
 * copy of the process send the signal to its own thread inside the copy.
 * The payload starts 100 bytes into a page and ends 200 bytes into its
 * last page, so both ends are copied.
 *
 *   unmap   the SIGUSR2 handler unmaps the payload's last page (already
 *           copied, as far as the program can tell: the call is under way)
 *   nested  the same, and it sends a datagram of its own on another socket
 *   segv    a SIGSEGV sent with tgkill (not a fault): the program's SIGSEGV
 *           handler runs once
 * The send returns its whole length; every datagram arrives intact.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAGE 4096
#define HEAD 100                          /* payload offset in its first page */
#define LEN (3 * PAGE - HEAD + 200)       /* ends 200 bytes into the fourth page */

static char *outer;                       /* the outer payload */
static char *inner;                       /* the handler's payload */
static int inner_fd = -1;
static volatile sig_atomic_t handled, segv_seen;
static volatile ssize_t inner_ret = -2;
static volatile int inner_errno;

static void on_usr2(int sig)
{
	(void)sig;
	if (handled++)
		return;
	/* The program is done with the rest of its buffer, as far as it can
	 * tell: the send is under way. */
	if (munmap((char *)(((uintptr_t)outer + LEN) & ~(uintptr_t)(PAGE - 1)), PAGE))
		_exit(ITEST_ERROR);
	if (inner_fd >= 0) {
		inner_ret = send(inner_fd, inner, LEN, 0);
		inner_errno = errno;
	}
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code > 0)
		_exit(ITEST_CORRUPT);   /* a real fault: the shim read a bad pointer */
	segv_seen++;
}

/* A UDP receiver on loopback and a sender connected to it. */
static void udp_pair(int *tx, int *rx)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*rx = socket(AF_INET, SOCK_DGRAM, 0);
	*tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (*rx < 0 || *tx < 0 || bind(*rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(*rx, (struct sockaddr *)&a, &al) ||
	    connect(*tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp socket");
}

/* A payload in a mapping of its own, filled with pattern m. */
static char *payload(unsigned m)
{
	char *map = itest_pages(4 * PAGE);

	itest_fill(map + HEAD, LEN, m);
	return map + HEAD;
}

static int arrived(int rx, unsigned m, const char *what)
{
	static unsigned char got[65536];
	ssize_t n = recv(rx, got, sizeof got, MSG_DONTWAIT);

	if (n != LEN) {
		fprintf(stderr, "copywindow: %s: received %zd bytes (%s), want %d\n", what, n,
			n < 0 ? strerror(errno) : "short", LEN);
		return 1;
	}
	for (size_t j = 0; j < LEN; j++)
		if (got[j] != itest_pat(m, j)) {
			fprintf(stderr, "copywindow: %s: byte %zu is %#x, want %#x\n", what, j, got[j],
				itest_pat(m, j));
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int tx, rx, itx = -1, irx = -1, bad = 0;
	ssize_t r;

	if (strcmp(mode, "unmap") && strcmp(mode, "nested") && strcmp(mode, "segv")) {
		fprintf(stderr, "usage: copywindow unmap|nested|segv\n");
		return ITEST_ERROR;
	}
	udp_pair(&tx, &rx);
	outer = payload(1);
	if (!strcmp(mode, "segv")) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSEGV, &sa, NULL))
			itest_die("sigaction");
	} else {
		if (signal(SIGUSR2, on_usr2) == SIG_ERR)
			itest_die("signal");
		if (!strcmp(mode, "nested")) {
			udp_pair(&itx, &irx);
			inner = payload(2);
			inner_fd = itx;
		}
	}

	r = send(tx, outer, LEN, 0);
	if (r != LEN) {
		fprintf(stderr, "copywindow: %s: send returned %zd (%s), want %d as without the shim\n",
			mode, r, r < 0 ? strerror(errno) : "short", LEN);
		bad = 1;
	}
	if (!strcmp(mode, "segv")) {
		if (segv_seen != 1) {
			fprintf(stderr, "copywindow: segv: the program's SIGSEGV handler ran %d times, want 1\n",
				(int)segv_seen);
			bad = 1;
		}
	} else if (handled != 1) {
		fprintf(stderr, "copywindow: %s: the SIGUSR2 handler ran %d times, want 1 "
			"(was the signal sent? ZCSHIM_TEST_COPY_SIGNAL=12)\n", mode, (int)handled);
		bad = 1;
	}
	if (!bad)
		bad |= arrived(rx, 1, mode);
	if (inner_fd >= 0) {
		if (inner_ret != LEN) {
			fprintf(stderr, "copywindow: nested: the handler's send returned %zd (%s), want %d\n",
				(ssize_t)inner_ret, inner_ret < 0 ? strerror(inner_errno) : "short", LEN);
			bad = 1;
		} else {
			bad |= arrived(irx, 2, "nested (the handler's datagram)");
		}
	}
	itest_dump_stats();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
