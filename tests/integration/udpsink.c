/*
 * udpsink - Description: the completion path on the kernel's true zerocopy
 * path: UDP to a sink that drops every packet at the qdisc, inside a
 * private network namespace (udpsink.sh sets it up). Buffers are reused
 * round robin and written right before each send, so every reuse needs its
 * completion (or a private copy). Nothing may fail; the harness checks the
 * kernel released the calls without copying.
 *
 * usage: udpsink [SENDS [ADDRESS]]
 *        udpsink cache BUFFERS [STRIDE]
 *        udpsink rewrite BUFFERS STRIDE SENDS
 *        udpsink adapt SENDS [same]
 * cache: a content cache. BUFFERS buffers in one mapping, STRIDE pages
 * apart (default 15), each sent three times round robin (from its second
 * completion on, the shim keeps its pages read-only, so the third round
 * needs no new protection), then each one written (its first write faults
 * and makes it writable at once, with what was written there afterwards),
 * then sent once more.
 * rewrite: BUFFERS buffers in one mapping, STRIDE pages apart, each
 * rewritten right before it is sent, round robin, SENDS sends; stats.
 * A power-of-two STRIDE is how an allocator's size classes place large
 * blocks: the shim's tables of buffers must tell them apart all the same.
 * adapt: one buffer rewritten before each of SENDS sends (the shim copies
 * it, probing with zerocopy less and less often), stats; then SENDS sends
 * of it unchanged (zerocopy again after the next probe), stats. Rewritten
 * with new bytes each time, or with "same" the same bytes each time (the
 * guard, not the content, must tell it is rewritten). Then a rewritten
 * buffer is unmapped and sent from: EFAULT every time, no crash.
 * With an ADDRESS, the socket is not connected and each datagram goes
 * there with sendto() (port 9). Ends with a phase of malloc, fill, send,
 * free (released buffers kept read-only must be writable again before the
 * allocator reuses them) and one of mmap, send, munmap, mmap read-only at
 * the same place (which must stay read-only).
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
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUF 16
#define DGRAM 60000

static struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = 0 };
static int unconnected;

static ssize_t out(int fd, const void *b, size_t n)
{
	ssize_t r;

	do
		r = unconnected ? sendto(fd, b, n, 0, (struct sockaddr *)&to, sizeof to)
				: send(fd, b, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static int cache(int fd, unsigned nbuf, size_t stride_pages)
{
	const size_t stride = stride_pages * 4096;   /* 60000 bytes: 14 whole pages each */
	char *base = itest_pages(nbuf * stride);

	for (unsigned i = 0; i < nbuf; i++)
		memset(base + i * stride, (int)i, DGRAM);
	for (int round = 0; round < 3; round++)
		for (unsigned i = 0; i < nbuf; i++)
			if (out(fd, base + i * stride, DGRAM) != DGRAM)
				itest_die("send (cache)");
	/* Every buffer's completions are in by now (the sink frees at once):
	 * one more send on the socket reads the last of them. */
	if (out(fd, base, DGRAM) != DGRAM)
		itest_die("send (cache)");
	itest_dump_stats();   /* every buffer idle now */
	for (unsigned i = 0; i < nbuf; i++) {
		char *b = base + i * stride;

		memset(b, 0xA5, DGRAM);
		for (size_t j = 0; j < DGRAM; j += 4096)
			if ((unsigned char)b[j] != 0xA5) {
				fprintf(stderr, "udpsink: cache buffer %u byte %zu is %#x after a write\n",
					i, j, (unsigned char)b[j]);
				return ITEST_CORRUPT;
			}
	}
	for (unsigned i = 0; i < nbuf; i++)
		if (out(fd, base + i * stride, DGRAM) != DGRAM)
			itest_die("send (cache)");
	itest_dump_stats();
	return ITEST_OK;
}

static int rewrite(int fd, unsigned nbuf, size_t stride_pages, unsigned sends)
{
	const size_t stride = stride_pages * 4096;
	char *base = itest_pages(nbuf * stride);

	for (unsigned n = 0; n < sends; n++) {
		char *b = base + (n % nbuf) * stride;

		memset(b, (int)n, DGRAM);   /* rewritten: sent nbuf calls ago */
		if (out(fd, b, DGRAM) != DGRAM)
			itest_die("send (rewrite)");
	}
	itest_dump_stats();
	return ITEST_OK;
}

/* A rewritten buffer, then unmapped while the shim still knows it as
 * rewritten: sends from where it was (a program's bug) fail with EFAULT as
 * without the shim, around the hot table's probes too (which look at the
 * content of a buffer they take for rewritten). */
static int adapt_unmapped(int fd, int same)
{
	size_t len = DGRAM + 4096;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		itest_die("mmap");
	/* Under valgrind (memcheck) each of these sends is reported: the
	 * shim reads the bad pointer on purpose, under its fault probe. */
	if (getenv("UDPSINK_NO_UNMAPPED") && !strcmp(getenv("UDPSINK_NO_UNMAPPED"), "1"))
		return ITEST_OK;
	for (unsigned n = 0; n < 200; n++) {
		memset(m, same ? 7 : (int)n, DGRAM);
		if (out(fd, m, DGRAM) != DGRAM)
			itest_die("send (adapt, before unmapping)");
	}
	if (munmap(m, len))
		itest_die("munmap");
	for (unsigned n = 0; n < 2100; n++) {
		errno = 0;
		if (out(fd, m, DGRAM) != -1 || errno != EFAULT) {
			fprintf(stderr, "udpsink: send %u from an unmapped buffer: not EFAULT (%s)\n", n,
				strerror(errno));
			return ITEST_CORRUPT;   /* a wrong result seen by the program */
		}
	}
	return ITEST_OK;
}

static int adapt(int fd, unsigned sends, int same)
{
	char *b = itest_pages(DGRAM + 4096);

	for (unsigned n = 0; n < sends; n++) {
		memset(b, same ? 7 : (int)n, DGRAM);
		if (out(fd, b, DGRAM) != DGRAM)
			itest_die("send (adapt)");
	}
	itest_dump_stats();
	for (unsigned n = 0; n < sends; n++)
		if (out(fd, b, DGRAM) != DGRAM)
			itest_die("send (adapt)");
	itest_dump_stats();
	return adapt_unmapped(fd, same);
}

int main(int argc, char **argv)
{
	unsigned sends = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4000;
	char *bufs[NBUF];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		itest_die("socket");
	to.sin_port = htons(9);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 2 && !strcmp(argv[1], "cache")) {
		if (connect(fd, (struct sockaddr *)&to, sizeof to))
			itest_die("connect");
		return cache(fd, (unsigned)strtoul(argv[2], NULL, 10),
			     argc > 3 ? strtoul(argv[3], NULL, 10) : 15);
	}
	if (argc > 4 && !strcmp(argv[1], "rewrite")) {
		if (connect(fd, (struct sockaddr *)&to, sizeof to))
			itest_die("connect");
		return rewrite(fd, (unsigned)strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
			       (unsigned)strtoul(argv[4], NULL, 10));
	}
	if (argc > 2 && !strcmp(argv[1], "adapt")) {
		if (connect(fd, (struct sockaddr *)&to, sizeof to))
			itest_die("connect");
		return adapt(fd, (unsigned)strtoul(argv[2], NULL, 10),
			     argc > 3 && !strcmp(argv[3], "same"));
	}
	unconnected = argc > 2;
	if (argc > 2 && inet_pton(AF_INET, argv[2], &to.sin_addr) != 1)
		itest_die("address");
	if (argc <= 2 && connect(fd, (struct sockaddr *)&to, sizeof to))
		itest_die("connect");
	for (int i = 0; i < NBUF; i++)
		bufs[i] = (char *)itest_pages(DGRAM + 8192) + 17 * i;
	for (unsigned n = 0; n < sends; n++) {
		char *b = bufs[n % NBUF];
		ssize_t r;

		memset(b, (int)n, DGRAM);   /* reuse: this buffer was sent NBUF calls ago */
		r = out(fd, b, DGRAM);
		if (r != DGRAM) {
			fprintf(stderr, "udpsink: send %u returned %zd (%s)\n", n, r,
				r < 0 ? strerror(errno) : "short");
			return ITEST_CORRUPT;
		}
	}
	/* One more round of writes: the last calls' buffers too. */
	for (int i = 0; i < NBUF; i++)
		memset(bufs[i], 0, DGRAM);

	/* A buffer sent once, its completion read: its pages are writable
	 * again at once, so a kernel write into it (fstat here, which the
	 * shim does not wrap) works as without the shim. */
	{
		char *scratch = itest_pages(2 * DGRAM);
		struct stat st;

		memset(scratch, 7, 2 * DGRAM);
		if (out(fd, scratch, DGRAM) != DGRAM)
			itest_die("send (scratch)");
		for (int k = 0; k < 3; k++)   /* read its completion */
			if (out(fd, bufs[2], DGRAM) != DGRAM)
				itest_die("send");
		if (fstat(fd, (struct stat *)(scratch + 8192)) != 0) {
			fprintf(stderr, "udpsink: fstat into a released buffer: %s\n", strerror(errno));
			return ITEST_CORRUPT;
		}
		(void)st;
		munmap(scratch, 2 * DGRAM);
	}

	/* malloc, fill, send, free. */
	for (unsigned n = 0; n < sends / 4; n++) {
		char *b = malloc(DGRAM);

		if (!b)
			itest_die("malloc");
		memset(b, (int)n, DGRAM);
		if (out(fd, b, DGRAM) != DGRAM)
			itest_die("send (fresh)");
		free(b);
	}

	/* Released, then unmapped and mapped read-only: stays read-only. */
	{
		char *a = itest_pages(DGRAM + 4096), *ro;
		char line[256], perms[5] = "";
		FILE *f;

		memset(a, 1, DGRAM + 4096);
		for (int k = 0; k < 3; k++)
			if (out(fd, a, DGRAM) != DGRAM)
				itest_die("send (mapped)");
		for (int k = 0; k < 2; k++)   /* read their completions: released, kept read-only */
			if (out(fd, bufs[1], DGRAM) != DGRAM)
				itest_die("send");
		munmap(a, DGRAM + 4096);
		ro = mmap(a, DGRAM + 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);
		if (ro != a)
			itest_die("mmap at the same place");
		for (int k = 0; k < 4; k++) {   /* completions read, resolves run */
			memset(bufs[0], k, DGRAM);
			if (out(fd, bufs[0], DGRAM) != DGRAM)
				itest_die("send");
		}
		/* A read into it fails as it would without the shim, and does
		 * not make it writable. */
		{
			int z = open("/dev/zero", O_RDONLY);

			if (read(z, ro, 16) != -1 || errno != EFAULT) {
				fprintf(stderr, "udpsink: read() into a read-only mapping did not fail with EFAULT\n");
				return ITEST_CORRUPT;
			}
			close(z);
		}
		f = fopen("/proc/self/maps", "r");
		while (f && fgets(line, sizeof line, f)) {
			unsigned long lo, hi;

			if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo <= (unsigned long)ro &&
			    (unsigned long)ro < hi)
				break;
			perms[0] = '\0';
		}
		if (f)
			fclose(f);
		if (perms[1] != '-') {
			fprintf(stderr, "udpsink: the read-only mapping at %p is \"%s\"\n", (void *)ro, perms);
			return ITEST_CORRUPT;
		}
	}
	itest_dump_stats();
	return ITEST_OK;
}
