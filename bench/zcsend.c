/*
 * zcsend - a UDP sender for measuring the shim: the same program runs
 * plain, under LD_PRELOAD=libzcshim.so, and (with --zc) as a hand-written
 * MSG_ZEROCOPY sender that reaps its completions and never touches a buffer
 * before the kernel released it: the reference for what zerocopy can give.
 *
 * With --zc-shape, the hand-written sender sends each datagram as the shim
 * does: the unaligned head and tail copied into a buffer of its own, and
 * sendmsg() of three pieces (what the guard's shape costs, apart from its
 * bookkeeping).
 *
 * usage: zcsend [--zc|--zc-shape] WORKLOAD SIZE COUNT [ADDRESS]
 *   stable  one buffer written once, sent again and again
 *   ring    256 MiB of buffers written once, sent round robin (cold cache):
 *           a content cache in steady state, timed after two untimed
 *           passes over the ring (ZCSEND_RING_MB sets the size)
 *   ring1m  the same with 2000 buffers 1 MiB apart in one mapping, each
 *           16 bytes into its first page, as an allocator's size class
 *           places large blocks (SIZE at most 1 MiB - 16)
 *   reuse   one buffer rewritten right before every send
 *   fresh   malloc, fill, send, free for every message
 * Sends COUNT messages of SIZE bytes to ADDRESS:9 (default 127.0.0.1, meant
 * for a namespace whose loopback drops at the qdisc). UDP datagrams hold at
 * most 64 KiB, so a larger message goes out as several 60 KiB datagrams
 * sent back to back from the same buffer.
 * Prints "WORKLOAD SIZE COUNT cpu_seconds GB_per_cpu_second".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define DGRAM_MAX 61440

static int zc;                 /* hand-written MSG_ZEROCOPY */
static int shape;              /* ... sent in the shim's three pieces */
static uint32_t next_id;       /* id of the next zerocopy call */
static uint32_t done_below;    /* every id below this is released */
static unsigned char *done;    /* released ids, circular, for out-of-order ranges */
#define WIN (1u << 16)

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Read every queued notification; mark the released ids. */
static void reap(int fd, int wait)
{
	for (;;) {
		char ctl[128];
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof ctl };
		struct cmsghdr *cm;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN && wait) {
				struct pollfd p = { fd, 0, 0 };

				poll(&p, 1, 100);
				wait = 0;
				continue;
			}
			break;
		}
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			struct sock_extended_err *ee = (void *)CMSG_DATA(cm);

			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			for (uint32_t id = ee->ee_info; id - ee->ee_info <= ee->ee_data - ee->ee_info; id++)
				done[id % WIN] = 1;
		}
		while (done_below != next_id && done[done_below % WIN]) {
			done[done_below % WIN] = 0;
			done_below++;
		}
		wait = 0;
	}
}

/* Wait until every call up to and including id is released. */
static void wait_for(int fd, uint32_t id)
{
	while ((int32_t)(done_below - id) <= 0)
		reap(fd, 1);
}

/* One datagram of n bytes from b as the shim sends it: the bytes before
 * the first page boundary and after the last one copied to a buffer of
 * their own, the whole pages in between from b. */
static ssize_t send_shaped(int fd, const char *b, size_t n)
{
	static char edge[2][4096];
	uintptr_t lo = ((uintptr_t)b + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)b + n) & ~(uintptr_t)4095;
	struct iovec v[3] = { { edge[0], lo - (uintptr_t)b }, { (void *)lo, hi - lo },
			      { edge[1], (uintptr_t)b + n - hi } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };

	memcpy(edge[0], b, v[0].iov_len);
	memcpy(edge[1], (const void *)hi, v[2].iov_len);
	return sendmsg(fd, &m, MSG_ZEROCOPY);
}

/* Send one message of size bytes from b; returns the last call's id. */
static uint32_t send_msg(int fd, const char *b, size_t size)
{
	for (size_t off = 0; off < size;) {
		size_t n = size - off < DGRAM_MAX ? size - off : DGRAM_MAX;
		ssize_t r = shape ? send_shaped(fd, b + off, n) : send(fd, b + off, n, zc ? MSG_ZEROCOPY : 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && zc && errno == ENOBUFS) {
			reap(fd, 1);
			continue;
		}
		if (r != (ssize_t)n) {
			fprintf(stderr, "zcsend: send: %s\n", strerror(errno));
			exit(1);
		}
		if (zc)
			next_id++;
		off += n;
	}
	return next_id - 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	const char *w;
	size_t size, nbuf = 1;
	unsigned long count;
	uint32_t *last;
	char **bufs, *stride = NULL;
	double t0, t;
	int fd, a = 1, one = 1, ring;

	if (argc > 1 && !strcmp(argv[1], "--zc"))
		zc = 1, a = 2;
	else if (argc > 1 && !strcmp(argv[1], "--zc-shape"))
		zc = shape = 1, a = 2;
	if (argc < a + 3) {
		fprintf(stderr, "usage: zcsend [--zc|--zc-shape] stable|ring|ring1m|reuse|fresh SIZE COUNT "
			"[ADDRESS]\n");
		return 2;
	}
	w = argv[a];
	ring = !strcmp(w, "ring") || !strcmp(w, "ring1m");
	size = strtoul(argv[a + 1], NULL, 10);
	count = strtoul(argv[a + 2], NULL, 10);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > a + 3 && inet_pton(AF_INET, argv[a + 3], &to.sin_addr) != 1)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to))
		return perror("socket"), 2;
	if (zc && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one))
		return perror("SO_ZEROCOPY"), 2;
	done = calloc(WIN, 1);
	if (!strcmp(w, "ring")) {
		const char *mb = getenv("ZCSEND_RING_MB");
		size_t bytes = (size_t)(mb ? strtoul(mb, NULL, 10) : 256) << 20;

		nbuf = bytes / size + 1;
	}
	if (!strcmp(w, "ring1m")) {
		if (size > (1u << 20) - 16)
			return fprintf(stderr, "zcsend: ring1m: SIZE above 1 MiB - 16\n"), 2;
		nbuf = 2000;
		stride = mmap(NULL, nbuf << 20, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (stride == MAP_FAILED)
			return perror("mmap"), 2;
	}
	bufs = calloc(nbuf, sizeof *bufs);
	last = calloc(nbuf, sizeof *last);
	for (size_t i = 0; i < nbuf; i++)
		last[i] = UINT32_MAX;
	for (size_t i = 0; i < nbuf && strcmp(w, "fresh"); i++) {
		bufs[i] = stride ? stride + (i << 20) + 16 : malloc(size);
		memset(bufs[i], (int)i, size);
	}
	/* ring: two passes before the clock starts (the shim keeps a buffer's
	 * pages read-only from its second completion on; a plain sender only
	 * warms nothing, the ring being larger than any cache). */
	if (ring)
		for (size_t p = 0; p < 2 * nbuf; p++) {
			last[p % nbuf] = send_msg(fd, bufs[p % nbuf], size);
			if (zc && p % 8 == 7)
				reap(fd, 0);
		}
	t0 = cpu_seconds();
	for (unsigned long n = 0; n < count; n++) {
		size_t k = n % nbuf;
		char *b;

		if (!strcmp(w, "fresh")) {
			b = malloc(size);
			memset(b, (int)n, size);
		} else {
			b = bufs[k];
			if (!strcmp(w, "reuse")) {
				/* A correct zerocopy sender waits for the release
				 * before it rewrites. */
				if (zc && last[k] != UINT32_MAX)
					wait_for(fd, last[k]);
				memset(b, (int)n, size);
			}
		}
		last[k] = send_msg(fd, b, size);
		if (zc && n % 8 == 7)
			reap(fd, 0);
		if (!strcmp(w, "fresh")) {
			if (zc)
				wait_for(fd, last[k]);   /* free only what was released */
			free(b);
		}
	}
	if (zc)
		wait_for(fd, next_id - 1);
	t = cpu_seconds() - t0;
	/* Under the shim, scripts/bench-alloc reads its counters for the run. */
	if (getenv("ZCSEND_STATS"))
		raise(SIGUSR1);
	printf("%s %zu %lu %.3f %.2f\n", w, size, count, t, (double)size * count / 1e9 / t);
	return 0;
}
