/*
 * dupsock - Description: per-socket state follows the socket, not the fd
 * number.
 *
 * dup() and dup2() copies of a socket share its zerocopy state (one id
 * counter in the kernel, one in the shim); closing one copy while data is
 * in flight leaves the guard in place for the others. A socket closed
 * behind the shim's back (fclose of an fdopen'ed socket) whose number then
 * goes to a new socket must not lend the new socket its state; nor, when
 * it goes to a file opened where the shim cannot see it, make a write to
 * the file anything but a write.
 */
#include "common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSGLEN (150 * 1024 + 31)

/* A connection that carried message m alone: 0 if it arrived whole. */
static int one_message(struct itest_rx *rx, unsigned m, const char *what)
{
	size_t len;
	unsigned char *got = itest_receiver_join(rx, &len);
	int bad = len != MSGLEN;

	for (size_t p = 0; p < len && !bad; p++)
		if (got[p] != itest_pat(m, p)) {
			fprintf(stderr, "dupsock: %s: byte %zu changed\n", what, p);
			bad = 1;
		}
	if (len != MSGLEN)
		fprintf(stderr, "dupsock: %s: %zu bytes, want %d\n", what, len, MSGLEN);
	free(got);
	return bad;
}

int main(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 64;
	struct itest_rx *rx, *rx2;
	unsigned char *got;
	size_t len;
	int s, r, d, s3, r3, bad = 0, old_s;
	FILE *f;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);

	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);

	d = dup(s);                       /* message 1 through the copy */
	itest_fill(buf, MSGLEN, 1);
	if (itest_send_all(d, buf, MSGLEN))
		itest_die("send on dup");
	close(s);                         /* the socket lives on in d */
	memset(buf, 0xEE, MSGLEN);

	if (dup2(d, s) != s)              /* and back to the old number */
		itest_die("dup2");
	itest_fill(buf, MSGLEN, 2);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send on dup2");
	close(d);
	memset(buf, 0xEE, MSGLEN);

	/* Closed where the shim cannot see it, then the number is reused. */
	old_s = s;
	f = fdopen(s, "w");
	if (!f)
		itest_die("fdopen");
	fclose(f);
	itest_tcp_pair(&s3, &r3);
	if (s3 != old_s && r3 != old_s)
		fprintf(stderr, "dupsock: note: fd %d was not reused (got %d, %d)\n", old_s, s3, r3);
	rx2 = itest_receiver_start(r3, 100);
	itest_fill(buf, MSGLEN, 3);
	if (itest_send_all(s3, buf, MSGLEN))
		itest_die("send on the new socket");
	memset(buf, 0xEE, MSGLEN);

	/* Closed where the shim cannot see it, then the number is reused by
	 * a file opened where the shim cannot see it either: a write to it
	 * is a write to the file, whole. */
	{
		char path[] = "/tmp/zcshim-dupsock.XXXXXX";
		struct itest_rx *rx4;
		int s4, r4, tf;

		itest_tcp_pair(&s4, &r4);
		rx4 = itest_receiver_start(r4, 100);
		itest_fill(buf, MSGLEN, 4);
		if (itest_send_all(s4, buf, MSGLEN))
			itest_die("send on the fourth socket");
		f = fdopen(s4, "w");
		if (!f)
			itest_die("fdopen");
		fclose(f);               /* data still in flight */
		memset(buf, 0xEE, MSGLEN);
		tf = mkstemp(path);
		if (tf < 0)
			itest_die("mkstemp");
		unlink(path);
		if (tf != s4) {   /* onto the freed number, unseen (fcntl) */
			int t2 = fcntl(tf, F_DUPFD, s4);

			if (t2 < 0)
				itest_die("fcntl");
			close(tf);
			tf = t2;
		}
		if (tf != s4) {
			fprintf(stderr, "dupsock: note: fd %d was not reused by the file (got %d)\n",
				s4, tf);
		} else {
			char *back = malloc(MSGLEN);

			itest_fill(buf, MSGLEN, 5);
			if (write(tf, buf, MSGLEN) != MSGLEN) {
				perror("dupsock: write to the file on the old socket's number");
				bad = 1;
			} else if (!back || pread(tf, back, MSGLEN, 0) != MSGLEN ||
				   memcmp(back, buf, MSGLEN)) {
				fprintf(stderr, "dupsock: the file does not hold what was written\n");
				bad = 1;
			}
			free(back);
		}
		close(tf);
		bad |= one_message(rx4, 4, "fourth socket");
	}

	itest_dump_stats();
	close(s3);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, 3, MSGLEN))
		bad = 1;
	free(got);
	bad |= one_message(rx2, 3, "new socket");
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
