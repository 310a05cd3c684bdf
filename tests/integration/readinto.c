/*
 * readinto - Description: read(), pread(), readv() and recv() into a buffer
 * whose bytes are still in flight.
 *
 * A kernel write into a write-protected page fails with EFAULT: the shim
 * must resolve the overlap first, so each call returns its full length
 * and the bytes in flight stay as sent. Without the guard the read lands
 * in the in-flight pages and the receiver sees it.
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
#define MSGLEN (192 * 1024 + 77)

int main(void)
{
	char path[] = "/tmp/zcshim-readinto.XXXXXX";
	char *region = itest_pages(2 * MSGLEN + 8192);
	char *buf = region + 333;
	char *junk = malloc(MSGLEN);
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	int s, r, fd, sv[2];

	fd = mkstemp(path);
	if (fd < 0 || !junk)
		itest_die("mkstemp");
	unlink(path);
	memset(junk, 0xAB, MSGLEN);
	if (write(fd, junk, MSGLEN) != MSGLEN)
		itest_die("write file");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		itest_die("socketpair");

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	for (unsigned m = 0; m < NMSG; m++) {
		ssize_t n;

		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		switch (m % 4) {
		case 0:
			if (lseek(fd, 0, SEEK_SET) < 0)
				itest_die("lseek");
			n = read(fd, buf, MSGLEN);
			break;
		case 1:
			n = pread(fd, buf, MSGLEN, 0);
			break;
		case 2: {
			struct iovec iov[2] = { { buf, 5000 }, { buf + 5000, MSGLEN - 5000 } };

			if (lseek(fd, 0, SEEK_SET) < 0)
				itest_die("lseek");
			n = readv(fd, iov, 2);
			break;
		}
		default:
			/* Another socket's data into the same buffer. */
			if (send(sv[1], junk, 60000, 0) != 60000)
				itest_die("unix send");
			n = recv(sv[0], buf, 60000, MSG_WAITALL);
			if (n == 60000)
				n = MSGLEN;
			break;
		}
		if (n != MSGLEN) {
			fprintf(stderr, "readinto: read call %u returned %zd (%s), expected %d\n",
				m % 4, n, n < 0 ? strerror(errno) : "short", MSGLEN);
			return ITEST_CORRUPT;
		}
		if (((unsigned char *)buf)[100] != 0xAB) {
			fprintf(stderr, "readinto: the read did not land in the buffer\n");
			return ITEST_CORRUPT;
		}
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	return itest_verify(got, gotlen, NMSG, MSGLEN) ? ITEST_CORRUPT : ITEST_OK;
}
