/*
 * align - malloc() under the shim: ZCSHIM_ALIGN=1 places blocks of at least
 * the threshold on a page boundary, and they stay ordinary malloc() blocks.
 *
 * usage: align aligned|default
 *  1. blocks of 64 KiB and 70,000 bytes start on a page boundary with
 *     "aligned"; 100 bytes and 1 MiB (glibc's mmap range) are left alone;
 *  2. realloc() keeps the bytes of such a block, growing and shrinking it;
 *     calloc() and posix_memalign() still work; 2000 rounds of mixed large
 *     and small malloc/free keep every large block aligned;
 *  3. a 60 KiB block (15 pages) sent ten times over loopback UDP: every
 *     byte arrives as sent (the shim's stats tell how it went out).
 * Exit 0 on success, 1 if a block is misplaced or a byte is wrong.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int want_aligned;
static int bad;

static void check_place(const void *p, size_t n, int large)
{
	int on_page = ((uintptr_t)p & 4095) == 0;

	if (!p)
		itest_die("malloc");
	if (large && want_aligned && !on_page) {
		fprintf(stderr, "align: malloc(%zu) = %p, not on a page boundary\n", n, p);
		bad = 1;
	}
}

static int same(const unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 13))
			return 0;
	return 1;
}

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 13);
}

static void blocks(void)
{
	static const size_t large[] = { 65536, 70000, 1 << 20 };
	static const int aligned[] = { 1, 1, 0 };
	unsigned char *p, *q;
	void *m = NULL;   /* unspecified if posix_memalign fails: free(NULL) then */

	for (size_t k = 0; k < sizeof large / sizeof large[0]; k++) {
		p = malloc(large[k]);
		check_place(p, large[k], aligned[k]);
		fill(p, large[k], (unsigned char)k);
		q = realloc(p, large[k] * 3);   /* grows: the bytes follow */
		if (!q)
			itest_die("realloc");
		if (!same(q, large[k], (unsigned char)k)) {
			fprintf(stderr, "align: realloc(%zu -> %zu) changed the bytes\n", large[k],
				large[k] * 3);
			bad = 1;
		}
		p = realloc(q, 1000);   /* shrinks */
		if (!p || !same(p, 1000, (unsigned char)k)) {
			fprintf(stderr, "align: realloc down to 1000 bytes changed the bytes\n");
			bad = 1;
		}
		free(p);
	}
	p = malloc(100);
	check_place(p, 100, 0);
	free(p);
	p = calloc(1, 80000);
	for (size_t i = 0; p && i < 80000; i++)
		if (p[i]) {
			fprintf(stderr, "align: calloc byte %zu is %#x\n", i, p[i]);
			bad = 1;
			break;
		}
	free(p);
	if (posix_memalign(&m, 65536, 100000) || ((uintptr_t)m & 65535)) {
		fprintf(stderr, "align: posix_memalign(65536) failed or misplaced\n");
		bad = 1;
	}
	free(m);
	/* Interleaved: the allocator's heap shaped by aligned blocks. */
	for (unsigned r = 0; r < 2000; r++) {
		size_t n = 65536 + (r % 7) * 5000;
		unsigned char *a = malloc(n), *s = malloc(500 + r % 3000);

		check_place(a, n, 1);
		fill(a, n, (unsigned char)r);
		if (!s)
			itest_die("malloc small");
		memset(s, 1, 500);
		if (!same(a, n, (unsigned char)r))
			bad = 1;
		free(r % 2 ? a : s);
		free(r % 2 ? s : a);
	}
}

static void sends(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	const size_t n = 15 * 4096;
	unsigned char *buf = malloc(n), *got = malloc(n);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 1 << 21;

	check_place(buf, n, 1);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(rx, (struct sockaddr *)&a, &al) ||
	    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big) ||
	    connect(tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp loopback");
	for (unsigned m = 0; m < 10; m++) {
		fill(buf, n, (unsigned char)(m * 29));
		if (send(tx, buf, n, 0) != (ssize_t)n)
			itest_die("send");
		if (recv(rx, got, n, 0) != (ssize_t)n)
			itest_die("recv");
		if (!same(got, n, (unsigned char)(m * 29))) {
			fprintf(stderr, "align: datagram %u arrived changed\n", m);
			bad = 1;
		}
	}
	itest_dump_stats();
	free(buf);
	free(got);
	close(rx);
	close(tx);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "aligned") && strcmp(argv[1], "default"))) {
		fprintf(stderr, "usage: align aligned|default\n");
		return ITEST_ERROR;
	}
	want_aligned = !strcmp(argv[1], "aligned");
	blocks();
	sends();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
