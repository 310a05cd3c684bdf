/*
 * handlersend - Description: the process's first large send is made from
 * inside a signal handler of the program's, before the userfaultfd
 * guard's threads exist.
 *
 * Starting a thread there (pthread_create: not async-signal-safe, the
 * handler may have interrupted malloc) is what the shim must not do: that
 * send is copied, and the next one, outside the handler, starts the
 * threads and goes out with zerocopy. Every datagram is read back over UDP
 * loopback and checked.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DGRAM 60000

static int tx, rx;
static char *buf;
static volatile sig_atomic_t sent_in_handler = -1;

static void on_usr2(int sig)
{
	(void)sig;
	sent_in_handler = send(tx, buf, DGRAM, 0) == DGRAM;
}

static int check(unsigned m)
{
	static unsigned char got[65536];
	ssize_t r = recv(rx, got, sizeof got, 0);

	if (r != DGRAM || memcmp(got, buf, DGRAM)) {
		fprintf(stderr, "handlersend: datagram %u: %zd bytes, %s\n", m, r,
			r == DGRAM ? "changed" : "wrong length");
		return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	struct sigaction sa;
	int big = 4 << 20;

	rx = socket(AF_INET, SOCK_DGRAM, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(rx, (struct sockaddr *)&a, &al) || connect(tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp sockets");
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	buf = itest_pages(DGRAM + 4096);
	itest_fill(buf, DGRAM, 1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	if (sigaction(SIGUSR2, &sa, NULL))
		itest_die("sigaction");
	raise(SIGUSR2);
	if (sent_in_handler != 1) {
		fprintf(stderr, "handlersend: the send in the handler failed\n");
		return ITEST_CORRUPT;
	}
	if (check(0))
		return ITEST_CORRUPT;
	for (unsigned m = 1; m < 4; m++) {
		if (send(tx, buf, DGRAM, 0) != DGRAM)
			itest_die("send");
		if (check(m))
			return ITEST_CORRUPT;
	}
	itest_dump_stats();
	return ITEST_OK;
}
