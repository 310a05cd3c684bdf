/*
 * nonblock - Description: a non-blocking sender with a small send buffer:
 * partial sends and EAGAIN, as without the shim, and the buffer written
 * as soon as a message is fully sent.
 *
 * The shim must return exactly what the kernel returned (a byte count or
 * -1/EAGAIN, never another error), guard only what was taken, and keep
 * every byte. POLLERR caused by pending notifications is tolerated here
 * (the program just tries again).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NMSG 8
#define MSGLEN (200 * 1024 + 11)

int main(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 7;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	unsigned partial = 0, again = 0;
	int s, r, sndbuf = 32768;

	itest_tcp_pair(&s, &r);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	rx = itest_receiver_start(r, 50);
	for (unsigned m = 0; m < NMSG; m++) {
		size_t off = 0;

		itest_fill(buf, MSGLEN, m);
		while (off < MSGLEN) {
			ssize_t n = send(s, buf + off, MSGLEN - off, MSG_DONTWAIT);

			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				struct pollfd p = { s, POLLOUT, 0 };

				again++;
				poll(&p, 1, 1000);
				continue;
			}
			if (n <= 0) {
				fprintf(stderr, "nonblock: send returned %zd (%s)\n", n, strerror(errno));
				return ITEST_CORRUPT;
			}
			if ((size_t)n < MSGLEN - off)
				partial++;
			off += (size_t)n;
		}
		memset(buf, 0xEE, MSGLEN);
	}
	fprintf(stderr, "nonblock: %u partial sends, %u EAGAIN\n", partial, again);
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &len);
	if (!partial || !again) {
		fprintf(stderr, "nonblock: the test never saw a partial send and EAGAIN\n");
		return ITEST_ERROR;
	}
	return itest_verify(got, len, NMSG, MSGLEN) ? ITEST_CORRUPT : ITEST_OK;
}
