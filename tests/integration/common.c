/*
 * common.c - helpers for the integration test programs (see common.h).
 */

#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void itest_die(const char *what)
{
	fprintf(stderr, "itest: %s: %s\n", what, strerror(errno));
	exit(ITEST_ERROR);
}

void itest_fill(void *buf, size_t len, unsigned m)
{
	unsigned char *p = buf;

	for (size_t j = 0; j < len; j++)
		p[j] = itest_pat(m, j);
}

int itest_listen(struct sockaddr_in *a)
{
	socklen_t alen = sizeof *a;
	int one = 1, small = 65536;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0)
		itest_die("socket");
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Inherited by the accepted socket; set before the handshake so the
	 * advertised window stays small. */
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (bind(l, (struct sockaddr *)a, sizeof *a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)a, &alen))
		itest_die("listen");
	return l;
}

int itest_connect(const struct sockaddr_in *a)
{
	int one = 1, big = 8 << 20;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0)
		return -1;
	/* A large send buffer, so sends return while the data still waits. */
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big))
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s, (const struct sockaddr *)a, sizeof *a)) {
		close(s);
		return -1;
	}
	return s;
}

int itest_tcp_pair(int *snd, int *rcv)
{
	struct sockaddr_in a;
	int l = itest_listen(&a);

	*snd = itest_connect(&a);
	if (*snd < 0)
		itest_die("connect");
	*rcv = accept(l, NULL, NULL);
	if (*rcv < 0)
		itest_die("accept");
	close(l);
	return 0;
}

struct itest_rx {
	pthread_t t;
	int fd;
	unsigned delay_ms;
	unsigned char *buf;
	size_t len, cap;
};

static void *rx_main(void *arg)
{
	struct itest_rx *rx = arg;
	struct timespec ts = { rx->delay_ms / 1000, (long)(rx->delay_ms % 1000) * 1000000L };

	/* The first megabyte before the delay: a test may leave the process
	 * without memory to map meanwhile (faults mapcount). */
	rx->cap = 1 << 20;
	rx->buf = malloc(rx->cap);
	if (!rx->buf)
		itest_die("malloc");
	nanosleep(&ts, NULL);
	for (;;) {
		ssize_t r;

		if (rx->len == rx->cap) {
			rx->cap = rx->cap ? rx->cap * 2 : 1 << 20;
			rx->buf = realloc(rx->buf, rx->cap);
			if (!rx->buf)
				itest_die("realloc");
		}
		r = recv(rx->fd, rx->buf + rx->len, rx->cap - rx->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			itest_die("recv");
		if (r == 0)
			break;
		__atomic_store_n(&rx->len, rx->len + (size_t)r, __ATOMIC_RELEASE);
	}
	return NULL;
}

struct itest_rx *itest_receiver_start(int fd, unsigned delay_ms)
{
	struct itest_rx *rx = calloc(1, sizeof *rx);

	if (!rx)
		itest_die("calloc");
	rx->fd = fd;
	rx->delay_ms = delay_ms;
	if (pthread_create(&rx->t, NULL, rx_main, rx))
		itest_die("pthread_create");
	return rx;
}

size_t itest_receiver_count(struct itest_rx *rx)
{
	return __atomic_load_n(&rx->len, __ATOMIC_ACQUIRE);
}

void itest_wait_received(struct itest_rx *rx, size_t n)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 20000 && itest_receiver_count(rx) < n; i++)
		nanosleep(&ts, NULL);
}

unsigned char *itest_receiver_join(struct itest_rx *rx, size_t *len)
{
	unsigned char *b;

	pthread_join(rx->t, NULL);
	*len = rx->len;
	b = rx->buf;
	free(rx);
	return b;
}

size_t itest_verify(const unsigned char *got, size_t gotlen, unsigned nmsg, size_t msglen)
{
	size_t want = (size_t)nmsg * msglen, bad = 0;
	int shown = 0;

	if (gotlen != want) {
		fprintf(stderr, "itest: received %zu bytes, expected %zu\n", gotlen, want);
		bad += gotlen > want ? gotlen - want : want - gotlen;
	}
	for (size_t p = 0; p < gotlen && p < want; p++) {
		unsigned char e = itest_pat((unsigned)(p / msglen), p % msglen);

		if (got[p] != e) {
			if (!shown++)
				fprintf(stderr,
					"itest: byte %zu (message %zu offset %zu) is 0x%02x, expected 0x%02x\n",
					p, p / msglen, p % msglen, got[p], e);
			bad++;
		}
	}
	if (bad)
		fprintf(stderr, "itest: %zu of %zu bytes wrong or missing\n", bad, want);
	return bad;
}

int itest_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

void itest_dump_stats(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre && strstr(pre, "libzcshim"))
		raise(SIGUSR1);
}

void *itest_pages(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		itest_die("mmap");
	return p;
}
