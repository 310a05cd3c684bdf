/*
 * passthrough - Description: what the shim must leave alone: pipes, files,
 * unix sockets, small sends, and (unless forced) local TCP peers. Large
 * writes to each must arrive intact; the harness checks from the stats
 * that none of them went out with zerocopy.
 *
 * usage: passthrough fds|local
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LEN (100 * 1024 + 7)

static int check(const char *what, const unsigned char *got, size_t n, unsigned m)
{
	for (size_t j = 0; j < n; j++)
		if (got[j] != itest_pat(m, j)) {
			fprintf(stderr, "passthrough: %s: byte %zu wrong\n", what, j);
			return 1;
		}
	return 0;
}

static int read_full(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

struct drain {
	int fd;
	unsigned char *buf;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;

	if (read_full(d->fd, d->buf, LEN))
		itest_die("read");
	return NULL;
}

/* Write LEN bytes into wfd, read them back from rfd in a thread. */
static int roundtrip(const char *what, int wfd, int rfd, unsigned m)
{
	unsigned char *out = malloc(LEN), *in = malloc(LEN);
	struct drain d = { rfd, in };
	pthread_t t;
	size_t off = 0;
	int bad;

	itest_fill(out, LEN, m);
	pthread_create(&t, NULL, drain_main, &d);
	while (off < LEN) {
		ssize_t w = write(wfd, out + off, LEN - off);

		if (w <= 0)
			itest_die(what);
		off += (size_t)w;
	}
	memset(out, 0xEE, LEN);
	pthread_join(t, NULL);
	bad = check(what, in, LEN, m);
	free(out);
	free(in);
	return bad;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fds";
	int bad = 0;

	if (!strcmp(mode, "fds")) {
		char path[] = "/tmp/zcshim-pass.XXXXXX";
		int p[2], sv[2], fd = mkstemp(path);
		unsigned char *back = malloc(LEN), *out = malloc(LEN);

		if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || fd < 0)
			itest_die("setup");
		unlink(path);
		bad |= roundtrip("pipe", p[1], p[0], 1);
		bad |= roundtrip("unix socket", sv[0], sv[1], 2);
		itest_fill(out, LEN, 3);
		if (write(fd, out, LEN) != LEN || pread(fd, back, LEN, 0) != LEN)
			itest_die("file");
		bad |= check("file", back, LEN, 3);
	} else {
		/* TCP over loopback, large sends, local peers not forced. */
		char *buf = malloc(LEN);
		struct itest_rx *rx;
		unsigned char *got;
		size_t len;
		int s, r;

		itest_tcp_pair(&s, &r);
		rx = itest_receiver_start(r, 20);
		for (unsigned m = 0; m < 4; m++) {
			itest_fill(buf, LEN, m);
			if (itest_send_all(s, buf, LEN))
				itest_die("send");
		}
		close(s);
		got = itest_receiver_join(rx, &len);
		bad |= itest_verify(got, len, 4, LEN) != 0;
	}
	itest_dump_stats();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
