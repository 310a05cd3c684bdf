/*
 * failedsend.c - a zerocopy send that fails after the kernel gave it an id.
 *
 * A UDP datagram dropped on its way out (an nftables/iptables drop, a
 * cgroup socket filter) fails with EPERM, but by then the kernel has
 * numbered it: its completion arrives with that id. A shim that takes
 * the failure for "no id used" counts the ids of every later call one
 * short and releases a call's pages on the completion of the call
 * before it. failedsend.sh runs this program in a private network
 * namespace where:
 *   - UDP to 127.0.0.1 port 9 is dropped by nftables (EPERM);
 *   - the loopback qdisc is a slow token bucket, so a datagram sent after
 *     a large filler waits in the qdisc, still in the program's pages,
 *     for about 100 ms.
 * The program sends the filler, a datagram that fails, then datagram B,
 * and at once rewrites B's buffer. The receiver must get B as it was
 * sent.
 *
 * Modes:
 *   sendto   the failed datagram goes out with sendto();
 *   sendmmsg the failed datagram is the second of a sendmmsg() vector
 *            whose first message (the filler) is sent;
 *   gso      the socket sends with UDP_SEGMENT (GSO), failed one included;
 *   unknown  the failed call (ENETUNREACH: to an address with no route)
 *            leaves no completion and an error the shim does not know to
 *            come before the kernel numbers a call: the socket must stop
 *            zerocopy (B goes out copied) and keep the failed call's pages
 *            guarded (then written);
 *   toolarge the failed call is too large for a datagram (EMSGSIZE, which
 *            the kernel gives before numbering it, or with the number given
 *            back): the program sees EMSGSIZE as without the shim, and the
 *            socket keeps zerocopy;
 *   nofail   control: no failed send in between (the guard alone).
 * Exit: 0 B intact, 1 B changed on the wire, 2 could not run.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define PORT_DROP 9
#define PORT_B 7000
#define PORT_FILL 7001
#define FILL_LEN 60000
#define B_LEN 16384
#define GSO_SIZE 1400
#define BIG_LEN 70000   /* more than a UDP datagram holds */

static struct sockaddr_in at(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int bound(int port)
{
	struct sockaddr_in a = at(port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 4 << 20;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a))
		itest_die("bind receiver");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	return fd;
}

/* Read B_LEN bytes (one datagram, or GSO segments) within 5 s. */
static size_t receive(int fd, unsigned char *got)
{
	size_t n = 0;

	while (n < B_LEN) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1)
			break;
		r = recv(fd, got + n, B_LEN - n + 1, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sendto";
	struct sockaddr_in drop = at(PORT_DROP), to_b = at(PORT_B), fill = at(PORT_FILL);
	unsigned char *fillbuf = itest_pages(FILL_LEN + 4096), *a = itest_pages(BIG_LEN);
	unsigned char *b = itest_pages(B_LEN), want[B_LEN], got[B_LEN + 1];
	int rb = bound(PORT_B), rf = bound(PORT_FILL), s = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t r;
	size_t n, bad = 0;

	(void)rf;
	if (s < 0)
		itest_die("socket");
	if (!strcmp(mode, "gso")) {
		int gso = GSO_SIZE;

		if (setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso)) {
			fprintf(stderr, "failedsend: UDP_SEGMENT: %s\n", strerror(errno));
			return ITEST_SKIP;
		}
	}
	itest_fill(fillbuf, FILL_LEN, 1);
	itest_fill(a, B_LEN, 2);
	itest_fill(b, B_LEN, 3);
	memcpy(want, b, B_LEN);

	if (!strcmp(mode, "sendmmsg")) {
		struct iovec iov[2] = { { fillbuf, FILL_LEN }, { a, B_LEN } };
		struct mmsghdr v[2];

		memset(v, 0, sizeof v);
		v[0].msg_hdr.msg_name = &fill;
		v[0].msg_hdr.msg_namelen = sizeof fill;
		v[0].msg_hdr.msg_iov = &iov[0];
		v[0].msg_hdr.msg_iovlen = 1;
		v[1].msg_hdr.msg_name = &drop;
		v[1].msg_hdr.msg_namelen = sizeof drop;
		v[1].msg_hdr.msg_iov = &iov[1];
		v[1].msg_hdr.msg_iovlen = 1;
		r = sendmmsg(s, v, 2, 0);
		if (r != 1) {
			fprintf(stderr, "failedsend: sendmmsg returned %zd (%s), want 1\n", r,
				r < 0 ? strerror(errno) : "");
			return ITEST_ERROR;
		}
	} else {
		/* The filler empties the token bucket, so B waits in the qdisc. */
		size_t flen = strcmp(mode, "gso") ? FILL_LEN : GSO_SIZE * 40;

		if (sendto(s, fillbuf, flen, 0, (struct sockaddr *)&fill, sizeof fill) != (ssize_t)flen)
			itest_die("sendto filler");
		if (!strcmp(mode, "toolarge")) {
			r = sendto(s, a, BIG_LEN, 0, (struct sockaddr *)&to_b, sizeof to_b);
			if (r != -1 || errno != EMSGSIZE) {
				fprintf(stderr, "failedsend: the oversized send returned %zd (%s), want EMSGSIZE\n",
					r, r < 0 ? strerror(errno) : "");
				return ITEST_CORRUPT;
			}
		} else if (!strcmp(mode, "unknown")) {
			struct sockaddr_in nowhere = at(PORT_DROP);

			nowhere.sin_addr.s_addr = htonl(0xCB007101);   /* 203.0.113.1: no route */
			r = sendto(s, a, B_LEN, 0, (struct sockaddr *)&nowhere, sizeof nowhere);
			if (r != -1 || errno != ENETUNREACH) {
				fprintf(stderr, "failedsend: the send with no route returned %zd (%s), want ENETUNREACH\n",
					r, r < 0 ? strerror(errno) : "");
				return ITEST_ERROR;
			}
		} else if (strcmp(mode, "nofail")) {
			r = sendto(s, a, B_LEN, 0, (struct sockaddr *)&drop, sizeof drop);
			if (r != -1 || errno != EPERM) {
				fprintf(stderr, "failedsend: the dropped send returned %zd (%s), want EPERM\n",
					r, r < 0 ? strerror(errno) : "");
				return ITEST_ERROR;
			}
		}
	}
	r = sendto(s, b, B_LEN, 0, (struct sockaddr *)&to_b, sizeof to_b);
	if (r != B_LEN)
		itest_die("sendto B");
	memset(b, 0xee, B_LEN);   /* while B waits in the qdisc */
	memset(a, 0xdd, BIG_LEN); /* the failed call's buffer, too */

	n = receive(rb, got);
	if (n != B_LEN) {
		fprintf(stderr, "failedsend: %s: received %zu of %d bytes of B\n", mode, n, B_LEN);
		return ITEST_ERROR;
	}
	for (size_t i = 0; i < B_LEN; i++)
		bad += got[i] != want[i];
	itest_dump_stats();
	if (bad) {
		fprintf(stderr, "failedsend: %s: %zu of %d bytes of B changed on the wire\n", mode, bad,
			B_LEN);
		return ITEST_CORRUPT;
	}
	printf("failedsend: %s: B intact\n", mode);
	return ITEST_OK;
}
