/*
 * overwrite - Description: overwrite the buffer right after each send, with
 * each of the six send calls, from unaligned buffers and iovecs.
 *
 * usage: overwrite send|sendto|sendmsg|sendmmsg|write|writev
 * Without the guard, the overwrite reaches bytes still in the sender's
 * queue and the receiver sees them changed.
 */

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define NMSG 8
#define MSGLEN (256 * 1024 + 123)

/* Send iov[0..n) completely, advancing over partial results. */
static int sendv_all(int fd, struct iovec *iov, int n, int use_writev)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t r = use_writev ? writev(fd, iov, n) : sendmsg(fd, &m, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static int send_one(const char *mode, int fd, char *buf, size_t len)
{
	size_t off = 0;

	if (!strcmp(mode, "sendmsg") || !strcmp(mode, "writev")) {
		/* Three pieces split at unaligned offsets. */
		struct iovec iov[3] = {
			{ buf, 1000 },
			{ buf + 1000, 70001 },
			{ buf + 71001, len - 71001 },
		};

		return sendv_all(fd, iov, 3, !strcmp(mode, "writev"));
	}
	while (off < len) {
		ssize_t r;

		if (!strcmp(mode, "send"))
			r = send(fd, buf + off, len - off, 0);
		else if (!strcmp(mode, "sendto"))
			r = sendto(fd, buf + off, len - off, 0, NULL, 0);
		else
			r = write(fd, buf + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* Two messages per sendmmsg call, from two buffers. */
static int send_pair_mmsg(int fd, char *a, char *b, size_t len)
{
	struct iovec ia = { a, len }, ib = { b, len };
	struct mmsghdr v[2];
	int r;

	memset(v, 0, sizeof v);
	v[0].msg_hdr.msg_iov = &ia;
	v[0].msg_hdr.msg_iovlen = 1;
	v[1].msg_hdr.msg_iov = &ib;
	v[1].msg_hdr.msg_iovlen = 1;
	do
		r = sendmmsg(fd, v, 2, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	/* Whatever the kernel did not take goes out with plain sends. */
	for (int i = 0; i < 2; i++) {
		char *p = i ? b : a;
		size_t done = i < r ? v[i].msg_len : 0;

		if (done < len && itest_send_all(fd, p + done, len - done))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "send";
	char *region = itest_pages(4 * MSGLEN);
	char *buf = region + 100;                 /* unaligned head */
	char *buf2 = region + 2 * MSGLEN + 3000;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	int s, r;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	for (unsigned m = 0; m < NMSG; m++) {
		if (!strcmp(mode, "sendmmsg")) {
			itest_fill(buf, MSGLEN, m);
			itest_fill(buf2, MSGLEN, m + 1);
			if (send_pair_mmsg(s, buf, buf2, MSGLEN))
				itest_die("sendmmsg");
			memset(buf, 0xEE, MSGLEN);
			memset(buf2, 0xDD, MSGLEN);
			m++;
			continue;
		}
		itest_fill(buf, MSGLEN, m);
		if (send_one(mode, s, buf, MSGLEN))
			itest_die(mode);
		memset(buf, 0xEE, MSGLEN);       /* the program reuses its buffer */
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	return itest_verify(got, gotlen, NMSG, MSGLEN) ? ITEST_CORRUPT : ITEST_OK;
}
