/*
 * sockhandoff - Description: a socket the shim has sent zerocopy on keeps
 * its notifications out of the program's sight until every call has
 * completed, whatever the program does with its fds meanwhile.
 *
 * usage: sockhandoff CASE
 *   dupclose  dup() the socket, close() the original, go on with the copy
 *   fdclose   the same with fcntl(F_DUPFD)
 *   dupearly  the same with a dup() made before the first send
 *   dup2fail  dup2(bad, s) and dup3(bad, s, O_CLOEXEC) fail with EBADF
 *   eisconn   connect() again on the connected socket fails with EISCONN
 *   recverr   the program sets IP_RECVERR on the socket (TCP)
 *   recverrudp  a UDP socket sends zerocopy, the program sets IP_RECVERR,
 *             then its own error (an ICMP port unreachable) must reach its
 *             MSG_ERRQUEUE read, and no zerocopy notification
 *   reconnudp a UDP socket sends zerocopy, connects to another peer, sends
 *             again, disconnects (AF_UNSPEC)
 *
 * Each TCP case sends a message with zerocopy while the receiver does not
 * read (the data waits in the sender's queue, the completion cannot come),
 * does the operation, overwrites the buffer, sends a second message, then
 * lets the receiver read everything. Then the socket the program still
 * holds is polled for a while: no POLLERR may show, a MSG_ERRQUEUE read
 * finds no zerocopy notification, SO_ERROR is 0, and every byte arrived
 * as sent.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSGLEN (256 * 1024 + 17)
#define DGRAM (32 * 1024)

static int bad;

static void complain(const char *c, const char *what)
{
	fprintf(stderr, "sockhandoff %s: %s\n", c, what);
	bad = 1;
}

/* Drain fd's error queue as the program: count zerocopy notifications
 * (never the program's) and the program's own ICMP errors. */
static void read_errqueue(const char *c, int fd, int *icmp)
{
	for (int i = 0; i < 64; i++) {
		union {
			char buf[512];
			struct cmsghdr align;
		} ctl;
		char data[DGRAM];
		struct iovec iov = { data, sizeof data };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				    .msg_controllen = sizeof ctl.buf };

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN)
				complain(c, "MSG_ERRQUEUE read failed with something else than EAGAIN");
			return;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			struct sock_extended_err *ee = (void *)CMSG_DATA(cm);

			if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
				continue;
			if (ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY) {
				fprintf(stderr, "sockhandoff %s: the program read a zerocopy notification [%u, %u]\n",
					c, ee->ee_info, ee->ee_data);
				bad = 1;
			} else if (ee->ee_origin == SO_EE_ORIGIN_ICMP && icmp) {
				if (ee->ee_errno != ECONNREFUSED)
					complain(c, "the program's ICMP error is not ECONNREFUSED");
				++*icmp;
			}
		}
	}
}

/* Poll fd for ms: the program must never see POLLERR. */
static void poll_quiet(const char *c, int fd, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 50) < 0) {
			complain(c, "poll failed");
			return;
		}
		if (p.revents & POLLERR) {
			fprintf(stderr, "sockhandoff %s: poll reports POLLERR (revents %#x) after %d ms\n",
				c, p.revents, waited);
			bad = 1;
			return;
		}
	}
}

static void so_error_zero(const char *c, int fd)
{
	int err = -1;
	socklen_t l = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) || err)
		complain(c, "SO_ERROR is not 0");
}

static int tcp_case(const char *c)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 100;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	int s, r, fd = -1, one = 1;

	itest_tcp_pair(&s, &r);
	if (!strcmp(c, "dupearly")) {
		/* The copy is made before the shim has looked at the socket. */
		fd = dup(s);
		if (fd < 0)
			itest_die("dup");
	}
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	if (!strcmp(c, "dupearly")) {
		if (close(s))
			complain(c, "close of the original failed");
	} else if (fd = s, !strcmp(c, "dupclose") || !strcmp(c, "fdclose")) {
		fd = !strcmp(c, "dupclose") ? dup(s) : fcntl(s, F_DUPFD, 100);
		if (fd < 0)
			itest_die("dup");
		if (close(s))
			complain(c, "close of the original failed");
	} else if (!strcmp(c, "dup2fail")) {
		int nofile = open("/dev/null", O_RDONLY);

		close(nofile);   /* a number that is surely closed */
		if (dup2(nofile, s) != -1 || errno != EBADF)
			complain(c, "dup2 from a closed fd did not fail with EBADF");
		if (dup3(nofile, s, O_CLOEXEC) != -1 || errno != EBADF)
			complain(c, "dup3 from a closed fd did not fail with EBADF");
	} else if (!strcmp(c, "eisconn")) {
		struct sockaddr_in a;
		socklen_t al = sizeof a;

		if (getpeername(s, (struct sockaddr *)&a, &al))
			itest_die("getpeername");
		if (connect(s, (struct sockaddr *)&a, al) != -1 || errno != EISCONN)
			complain(c, "connect again did not fail with EISCONN");
	} else if (!strcmp(c, "recverr")) {
		if (setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof one))
			itest_die("setsockopt IP_RECVERR");
	} else {
		fprintf(stderr, "sockhandoff: unknown case %s\n", c);
		return ITEST_ERROR;
	}
	memset(buf, 0xEE, MSGLEN);   /* the first message is still in flight */
	itest_fill(buf, MSGLEN, 1);
	if (itest_send_all(fd, buf, MSGLEN))
		itest_die("second send");
	memset(buf, 0xDD, MSGLEN);

	rx = itest_receiver_start(r, 0);
	itest_wait_received(rx, 2 * (size_t)MSGLEN);
	poll_quiet(c, fd, 600);
	read_errqueue(c, fd, NULL);
	so_error_zero(c, fd);
	poll_quiet(c, fd, 100);
	itest_dump_stats();
	close(fd);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, 2, MSGLEN))
		bad = 1;
	free(got);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}

/* A UDP socket on 127.0.0.1 bound to an ephemeral port; its address. */
static int udp_bound(struct sockaddr_in *a)
{
	socklen_t al = sizeof *a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof *a) ||
	    getsockname(fd, (struct sockaddr *)a, &al))
		itest_die("udp socket");
	return fd;
}

/* One datagram of message m from fd (connected, or to *to). */
static void udp_send(int fd, char *buf, unsigned m, const struct sockaddr_in *to)
{
	itest_fill(buf, DGRAM, m);
	if (sendto(fd, buf, DGRAM, 0, (const struct sockaddr *)to, to ? sizeof *to : 0) != DGRAM)
		itest_die("sendto");
	memset(buf, 0xEE, DGRAM);
}

/* The datagram waiting on rcv is message m, whole. */
static void udp_check(const char *c, int rcv, unsigned m)
{
	static unsigned char got[DGRAM + 1];
	ssize_t n = recv(rcv, got, sizeof got, MSG_DONTWAIT);

	if (n != DGRAM) {
		complain(c, "a datagram is missing");
		return;
	}
	for (size_t j = 0; j < DGRAM; j++)
		if (got[j] != itest_pat(m, j)) {
			complain(c, "a datagram changed in flight");
			return;
		}
}

static int udp_case(const char *c)
{
	char *buf = (char *)itest_pages(DGRAM + 8192) + 100;
	struct sockaddr_in a1, a2, closed;
	int r1 = udp_bound(&a1), r2 = udp_bound(&a2), shut = udp_bound(&closed);
	int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1, icmp = 0;

	close(shut);   /* a port nobody listens on: ICMP port unreachable */
	if (s < 0)
		itest_die("udp socket");
	if (!strcmp(c, "recverrudp")) {
		/* Unconnected: the ICMP error of a datagram to another port
		 * finds this socket only if it is not connected elsewhere. */
		udp_send(s, buf, 0, &a1);
		if (setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof one))
			itest_die("setsockopt IP_RECVERR");
		udp_send(s, buf, 1, &a1);
		/* The program's own error: to a closed port. */
		itest_fill(buf, 100, 9);
		if (sendto(s, buf, 100, 0, (struct sockaddr *)&closed, sizeof closed) != 100)
			itest_die("sendto the closed port");
		poll_quiet(c, s, 0);
		{
			struct timespec ts = { 0, 100 * 1000000L };

			nanosleep(&ts, NULL);
		}
		read_errqueue(c, s, &icmp);
		if (icmp != 1) {
			fprintf(stderr, "sockhandoff %s: the program read %d ICMP errors of its own, want 1\n",
				c, icmp);
			bad = 1;
		}
		udp_check(c, r1, 0);
		udp_check(c, r1, 1);
	} else if (!strcmp(c, "reconnudp")) {
		struct sockaddr_in un = { .sin_family = AF_UNSPEC };

		if (connect(s, (struct sockaddr *)&a1, sizeof a1))
			itest_die("udp connect");
		udp_send(s, buf, 0, NULL);

		if (connect(s, (struct sockaddr *)&a2, sizeof a2))
			itest_die("udp connect again");
		udp_send(s, buf, 1, NULL);
		if (connect(s, (struct sockaddr *)&un, sizeof un))
			itest_die("udp disconnect");
		udp_send(s, buf, 2, &a1);
		poll_quiet(c, s, 300);
		read_errqueue(c, s, NULL);
		so_error_zero(c, s);
		udp_check(c, r1, 0);
		udp_check(c, r2, 1);
		udp_check(c, r1, 2);
	} else {
		fprintf(stderr, "sockhandoff: unknown case %s\n", c);
		return ITEST_ERROR;
	}
	itest_dump_stats();
	close(s);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "dupclose";

	if (!strncmp(c, "recverrudp", 10) || !strcmp(c, "reconnudp"))
		return udp_case(c);
	return tcp_case(c);
}
