/*
 * pieces - Description: sends whose pieces lie in different kinds of
 * memory, over UDP loopback in a private network namespace (pieces.sh),
 * every datagram read back and checked byte for byte.
 *
 * usage: pieces bss SENDS      the kernel selftest msg_zerocopy's layout:
 *                              the payload is the first object of .bss, so
 *                              its head lies in the data segment's last
 *                              page, which is file-backed
 *        pieces mapfile SENDS  iperf3's: the payload in a MAP_PRIVATE
 *                              mapping of a deleted temporary file, written
 *                              by the program
 *        pieces mixed SENDS    memcached's reply: a header in a file
 *                              mapping, the value in anonymous memory, and
 *                              "END\r\n" in read-only data, one sendmsg
 *        pieces mcstable SENDS the same reply with its value sent again
 *                              unchanged (a cache's item): the value spans
 *                              16 pages, so with its edge pages in place,
 *                              the header and "END\r\n" around it would be
 *                              18 page pieces, one more than a zerocopy
 *                              datagram takes (the program must never see
 *                              EMSGSIZE)
 *        pieces many SENDS     a datagram of 12 iovecs, each a whole page
 *                              with 50 bytes either side: 25 pieces for
 *                              the kernel, which refuses zerocopy for it
 *                              (EMSGSIZE): copied, never an error
 * (A piece past the end of its file, which a load cannot read: badmem.c.)
 * Each layout is checked first (from /proc/self/maps); exit 77 if this
 * build places memory otherwise.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define DGRAM 60000

/* Something in .data, so .bss starts inside the data segment's last page
 * (the file-backed one) as in any ordinary program. */
char pieces_data[100] = { 1 };
/* The first object of .bss, as msg_zerocopy.c's payload[]. */
static char payload[DGRAM + 8192] __attribute__((aligned(64)));
static const char trailer[] = "END\r\n";   /* read-only data */

static int tx, rx;
static unsigned char *got;   /* (on the heap: payload[] stays first in .bss) */

/* 'f' file-backed, 'a' anonymous, '?' unknown: the mapping holding p. */
static int kind_of(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int k = '?';

	if (!f)
		return k;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, ino;
		char perms[8], dev[16];

		if (sscanf(line, "%lx-%lx %7s %*s %15s %lu", &lo, &hi, perms, dev, &ino) != 5)
			continue;
		if ((unsigned long)p >= lo && (unsigned long)p < hi) {
			k = ino ? 'f' : 'a';
			break;
		}
	}
	fclose(f);
	return k;
}

static void sockets(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	int big = 8 << 20;

	rx = socket(AF_INET, SOCK_DGRAM, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(rx, (struct sockaddr *)&a, &al) ||
	    connect(tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp sockets");
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

/* Read one datagram and compare it with the n bytes of want pieces. */
static int check(unsigned m, const struct iovec *want, int n)
{
	ssize_t r = recv(rx, got, 65536, 0);
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		if (r < 0 || off + want[i].iov_len > (size_t)r ||
		    memcmp(got + off, want[i].iov_base, want[i].iov_len)) {
			fprintf(stderr, "pieces: datagram %u piece %d differs (got %zd bytes)\n", m, i, r);
			return ITEST_CORRUPT;
		}
		off += want[i].iov_len;
	}
	if ((size_t)r != off) {
		fprintf(stderr, "pieces: datagram %u has %zd bytes, want %zu\n", m, r, off);
		return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

/* SENDS datagrams of buf (rewritten before each: the guard is in the
 * way when the last one is still out), each read back. */
static int send_from(char *buf, unsigned sends)
{
	for (unsigned m = 0; m < sends; m++) {
		struct iovec v = { buf, DGRAM };
		unsigned char copy[DGRAM];

		itest_fill(buf, DGRAM, m);
		memcpy(copy, buf, DGRAM);
		if (send(tx, buf, DGRAM, 0) != DGRAM)
			itest_die("send");
		memset(buf, 0xEE, 512);   /* the program's next use of its buffer */
		v.iov_base = copy;
		if (check(m, &v, 1))
			return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

static char *tmpfile_map(size_t len, int flags, int *fdp)
{
	char path[] = "/tmp/zcshim-pieces.XXXXXX";
	int fd = mkstemp(path);
	char *m;

	if (fd < 0 || unlink(path) || ftruncate(fd, (off_t)len))
		itest_die("temporary file");
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (m == MAP_FAILED)
		itest_die("mmap of the temporary file");
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return m;
}

static int mixed(unsigned sends)
{
	char *hdr = tmpfile_map(4096, MAP_PRIVATE, NULL);
	char *val = itest_pages(DGRAM + 8192) + 100;   /* unaligned, as an item's data */

	for (unsigned m = 0; m < sends; m++) {
		struct iovec v[3];
		unsigned char copy[DGRAM];
		int hl = snprintf(hdr, 4096, "VALUE key%u 0 %d\r\n", m, DGRAM - 200);
		size_t vl = DGRAM - 200;
		struct msghdr h = { .msg_iov = v, .msg_iovlen = 3 };

		itest_fill(val, vl, m);
		memcpy(copy, val, vl);
		v[0] = (struct iovec){ hdr, (size_t)hl };
		v[1] = (struct iovec){ val, vl };
		v[2] = (struct iovec){ (void *)trailer, 5 };
		if (sendmsg(tx, &h, 0) != (ssize_t)(hl + vl + 5))
			itest_die("sendmsg");
		memset(val, 0xEE, 512);
		v[1].iov_base = copy;
		if (check(m, v, 3))
			return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

/* memcached's reply from a cached item, sent again and again. */
static int mcstable(unsigned sends)
{
	char *hdr = tmpfile_map(4096, MAP_PRIVATE, NULL);
	char *val = itest_pages(65536 + 8192) + 4000;   /* 61000 bytes over 16 pages */
	size_t vl = 61000;

	itest_fill(val, vl, 7);
	for (unsigned m = 0; m < sends; m++) {
		struct iovec v[3];
		int hl = snprintf(hdr, 4096, "VALUE key%u 0 %zu\r\n", m % 10, vl);
		struct msghdr h = { .msg_iov = v, .msg_iovlen = 3 };

		v[0] = (struct iovec){ hdr, (size_t)hl };
		v[1] = (struct iovec){ val, vl };
		v[2] = (struct iovec){ (void *)trailer, 5 };
		if (sendmsg(tx, &h, 0) != (ssize_t)(hl + vl + 5)) {
			fprintf(stderr, "pieces: sendmsg %u: %s\n", m, strerror(errno));
			return ITEST_CORRUPT;
		}
		if (check(m, v, 3))
			return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

/* 12 iovecs of 4196 bytes, each a whole page with 50 bytes either side. */
static int many(unsigned sends)
{
	enum { N = 12, LEN = 4196 };
	char *base = itest_pages(N * 3 * 4096);
	struct iovec v[N];
	struct msghdr h = { .msg_iov = v, .msg_iovlen = N };

	for (int i = 0; i < N; i++) {
		v[i] = (struct iovec){ base + i * 3 * 4096 + 4046, LEN };
		itest_fill(v[i].iov_base, LEN, (unsigned)i);
	}
	for (unsigned m = 0; m < sends; m++) {
		if (sendmsg(tx, &h, 0) != N * LEN) {
			fprintf(stderr, "pieces: sendmsg %u: %s\n", m, strerror(errno));
			return ITEST_CORRUPT;
		}
		if (check(m, v, N))
			return ITEST_CORRUPT;
	}
	return ITEST_OK;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	unsigned sends = argc > 2 ? (unsigned)atoi(argv[2]) : 500;
	int rc = ITEST_ERROR;

	sockets();
	if (!(got = malloc(65536)))
		itest_die("malloc");
	if (!strcmp(mode, "bss")) {
		if (kind_of(payload) != 'f' || kind_of(payload + DGRAM) != 'a') {
			fprintf(stderr, "pieces: .bss does not start in a file-backed page here "
				"(%c, then %c): nothing to test\n", kind_of(payload), kind_of(payload + DGRAM));
			return ITEST_SKIP;
		}
		rc = send_from(payload, sends);
	} else if (!strcmp(mode, "mapfile")) {
		rc = send_from(tmpfile_map(DGRAM + 4096, MAP_PRIVATE, NULL), sends);
	} else if (!strcmp(mode, "mixed")) {
		if (kind_of(trailer) != 'f') {
			fprintf(stderr, "pieces: read-only data is not file-backed here\n");
			return ITEST_SKIP;
		}
		rc = mixed(sends);
	} else if (!strcmp(mode, "mcstable")) {
		rc = mcstable(sends);
	} else if (!strcmp(mode, "many")) {
		rc = many(sends);
	} else {
		fprintf(stderr, "usage: pieces bss|mapfile|mixed|mcstable|many SENDS\n");
	}
	itest_dump_stats();
	return rc;
}
