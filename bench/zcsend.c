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
 * usage: zcsend [--threads N] [--zc|--zc-shape] WORKLOAD SIZE COUNT [ADDRESS]
 *   stable  one buffer written once, sent again and again
 *   ring    256 MiB of buffers written once, sent round robin (cold cache):
 *           a content cache in steady state, timed after two untimed
 *           passes over the ring (ZCSEND_RING_MB sets the size)
 *   ring1m  the same with 2000 buffers 1 MiB apart in one mapping, each
 *           16 bytes into its first page, as an allocator's size class
 *           places large blocks (SIZE at most 1 MiB - 16)
 *   reuse   one buffer rewritten right before every send
 *   fresh   malloc, fill, send, free for every message
 *   mcstable  a memcached-shaped reply: ONE sendmsg() of three iovecs, a
 *           ~30-byte "VALUE ... BYTES\r\n" header on a page made read-only
 *           after it was written, the item's body (malloc'd, written once,
 *           sent again and again as in stable) and "END\r\n" from .rodata;
 *           SIZE is the whole reply, header and END included
 *           (ZCSEND_MC_END=heap: END from malloc'd memory instead)
 *   mcring  the same over a ring of bodies, as ring (ZCSEND_RING_MB, two
 *           untimed passes)
 * Sends COUNT messages of SIZE bytes to ADDRESS:9 (default 127.0.0.1, meant
 * for a namespace whose loopback drops at the qdisc). UDP datagrams hold at
 * most 64 KiB, so a larger message goes out as several 60 KiB datagrams
 * sent back to back from the same buffer (a memcached-shaped reply: the
 * first carries the header, the last the END).
 *
 * With --threads N, N threads each send COUNT / N messages on a socket of
 * their own (each with its own buffers, as the workload makes them), all
 * starting together once every one is set up; the CPU time is the whole
 * process's (getrusage RUSAGE_SELF: every thread's).
 * With ZCSEND_STATS set, it raises SIGUSR1 (the shim's stats signal) right
 * before the timed part and after it.
 * Prints "WORKLOAD SIZE COUNT cpu_seconds GB_per_cpu_second".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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
/* Each sending thread has a socket of its own and reaps its own ids. */
static __thread uint32_t next_id;       /* id of the next zerocopy call */
static __thread uint32_t done_below;    /* every id below this is released */
static __thread unsigned char *done;    /* released ids, circular, for out-of-order ranges */
#define WIN (1u << 16)

/* The memcached-shaped reply's ends: the header on a page of its own made
 * read-only once written (memory the shim cannot guard, so it copies it),
 * the trailer a string literal in .rodata. */
static const char mc_end[] = "END\r\n";
#define MC_END_LEN (sizeof mc_end - 1)
static const char *mc_hdr, *mc_end_at = mc_end;
static size_t mc_hlen;

/* A zerocopy datagram holds one fragment per page piece, at most 17
 * (MAX_SKB_FRAGS; the kernel says EMSGSIZE beyond). A 60 KiB reply of a
 * header page, a body 16 pages long wherever malloc placed it, and END
 * needs 18: the hand-written sender then copies the header and the body's
 * bytes up to its first page boundary into a page of its own, a slot it
 * reuses only once the kernel released the call that sent it. */
#define FRAGS_MAX 17
#define SLOTS 256
static __thread char *slot;             /* SLOTS pages */
static __thread uint32_t slot_id[SLOTS];
static __thread uint32_t slot_next;

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

/* One datagram of the pieces p[0..np) as the shim sends it: the whole
 * pages inside each piece from the program's memory, every other byte (the
 * unaligned head and tail of a piece, a piece without a whole page) copied
 * into a buffer of its own, adjacent copied bytes sharing one iovec. */
static ssize_t send_shaped(int fd, const struct iovec *p, int np)
{
	static __thread char edge[3 * 4096 + 1024];
	struct iovec v[9];
	size_t used = 0;
	int nv = 0, copied = 0;     /* v[nv - 1] is copied bytes */

	for (int i = 0; i < np; i++) {
		uintptr_t b = (uintptr_t)p[i].iov_base, e = b + p[i].iov_len;
		uintptr_t lo = (b + 4095) & ~(uintptr_t)4095, hi = e & ~(uintptr_t)4095;
		/* [b,lo) copied, [lo,hi) sent as it is, [hi,e) copied; a piece
		 * without a whole page is copied whole. */
		uintptr_t cut[4] = { b, lo, hi, e };

		if (hi <= lo)
			cut[1] = cut[2] = e;
		for (int k = 0; k < 3; k++) {
			size_t n = cut[k + 1] - cut[k];

			if (!n)
				continue;
			if (k == 1) {
				v[nv++] = (struct iovec){ (void *)cut[1], n };
				copied = 0;
				continue;
			}
			memcpy(edge + used, (const void *)cut[k], n);
			if (copied)
				v[nv - 1].iov_len += n;
			else
				v[nv++] = (struct iovec){ edge + used, n };
			used += n;
			copied = 1;
		}
	}
	struct msghdr m = { .msg_iov = v, .msg_iovlen = nv };

	return sendmsg(fd, &m, MSG_ZEROCOPY);
}

/* The bytes [off, off + n) of the message made of the pieces p[0..np), as
 * iovecs in out (at most np); returns how many. */
static int slice(const struct iovec *p, int np, size_t off, size_t n, struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < np && n; i++) {
		if (off >= p[i].iov_len) {
			off -= p[i].iov_len;
			continue;
		}
		size_t take = p[i].iov_len - off < n ? p[i].iov_len - off : n;

		out[k++] = (struct iovec){ (char *)p[i].iov_base + off, take };
		n -= take;
		off = 0;
	}
	return k;
}

static size_t pages_of(const struct iovec *v, int n)
{
	size_t k = 0;

	for (int i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)v[i].iov_base;

		k += (b + v[i].iov_len + 4095) / 4096 - b / 4096;
	}
	return k;
}

static void wait_for(int fd, uint32_t id);

/* v[0] whole and v[1] up to its first page boundary into a slot of their
 * own, as one piece (see FRAGS_MAX). */
static int fold_head(int fd, struct iovec *v, int n)
{
	uintptr_t b = (uintptr_t)v[1].iov_base, lo = (b + 4095) & ~(uintptr_t)4095;
	size_t head = lo - b, len = v[0].iov_len + head;
	uint32_t s = slot_next++ % SLOTS;
	char *d;

	if (n < 2 || head >= v[1].iov_len || len > 4096)
		return n;
	if (!slot)
		slot = mmap(NULL, SLOTS * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (slot_next > SLOTS)
		wait_for(fd, slot_id[s]);
	d = slot + s * 4096;
	memcpy(d, v[0].iov_base, v[0].iov_len);
	memcpy(d + v[0].iov_len, v[1].iov_base, head);
	slot_id[s] = next_id;
	v[0] = (struct iovec){ d, len };
	v[1] = (struct iovec){ (void *)lo, v[1].iov_len - head };
	return n;
}

/* Send one message of size bytes from b (with mc, as a memcached reply:
 * header, b as its body, END); returns the last call's id. */
static uint32_t send_msg(int fd, const char *b, size_t size, int mc)
{
	struct iovec p[3] = { { (void *)b, size } };
	int np = 1;

	if (mc) {
		p[0] = (struct iovec){ (void *)mc_hdr, mc_hlen };
		p[1] = (struct iovec){ (void *)b, size - mc_hlen - MC_END_LEN };
		p[2] = (struct iovec){ (void *)mc_end_at, MC_END_LEN };
		np = 3;
	}
	for (size_t off = 0; off < size;) {
		size_t n = size - off < DGRAM_MAX ? size - off : DGRAM_MAX;
		struct iovec v[3];
		struct msghdr m = { .msg_iov = v };
		ssize_t r;

		m.msg_iovlen = slice(p, np, off, n, v);
		if (mc && zc && !shape && pages_of(v, (int)m.msg_iovlen) > FRAGS_MAX)
			m.msg_iovlen = fold_head(fd, v, (int)m.msg_iovlen);
		if (shape)
			r = send_shaped(fd, v, (int)m.msg_iovlen);
		else if (!mc)
			r = send(fd, b + off, n, zc ? MSG_ZEROCOPY : 0);
		else
			r = sendmsg(fd, &m, zc ? MSG_ZEROCOPY : 0);
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

/* "VALUE key flags bytes\r\n" for a reply of size bytes in all, on a page
 * of its own made read-only once written. */
static int mc_header(size_t size)
{
	char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t body = size, n = 0;

	if (pg == MAP_FAILED)
		return perror("mmap"), -1;
	/* The body's length is in the header: settle both. */
	do {
		body = size - n - MC_END_LEN;
		n = (size_t)snprintf(pg, 4096, "VALUE bench:item:0001 0 %zu\r\n", body);
	} while (size != n + body + MC_END_LEN && size > n + MC_END_LEN);
	if (size <= n + MC_END_LEN + 4096)
		return fprintf(stderr, "zcsend: SIZE too small for a memcached reply\n"), -1;
	if (mprotect(pg, 4096, PROT_READ))
		return perror("mprotect"), -1;
	mc_hdr = pg;
	mc_hlen = n;
	/* ZCSEND_MC_END=heap: END from malloc'd memory instead, to tell what
	 * the .rodata piece costs from what the shape does. */
	if (getenv("ZCSEND_MC_END") && !strcmp(getenv("ZCSEND_MC_END"), "heap")) {
		char *e = malloc(MC_END_LEN);

		memcpy(e, mc_end, MC_END_LEN);
		mc_end_at = e;
	}
	return 0;
}

struct job {
	const char *w;
	size_t size;
	unsigned long count;
	struct sockaddr_in to;
	pthread_barrier_t *go;  /* threads: set up, then all start together */
	double t;               /* single thread: CPU seconds of the timed part */
	int err;
};

/* One sender: its socket, its buffers, the untimed passes, the timed sends. */
static void *sender(void *arg)
{
	struct job *j = arg;
	const char *w = j->w;
	size_t size = j->size, nbuf = 1, blen = size;
	unsigned long count = j->count;
	uint32_t *last = NULL;
	char **bufs = NULL, *stride = NULL;
	double t0;
	int fd, one = 1, ring, mc, fresh, reuse;

	mc = !strncmp(w, "mc", 2);
	ring = !strcmp(w, "ring") || !strcmp(w, "ring1m") || !strcmp(w, "mcring");
	fresh = !strcmp(w, "fresh");
	reuse = !strcmp(w, "reuse");
	if (mc)
		blen = size - mc_hlen - MC_END_LEN;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&j->to, sizeof j->to)) {
		perror("socket");
		j->err = 2;
		goto ready;
	}
	if (zc && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one)) {
		perror("SO_ZEROCOPY");
		j->err = 2;
		goto ready;
	}
	done = calloc(WIN, 1);
	if (!strcmp(w, "ring") || !strcmp(w, "mcring")) {
		const char *mb = getenv("ZCSEND_RING_MB");
		size_t bytes = (size_t)(mb ? strtoul(mb, NULL, 10) : 256) << 20;

		nbuf = bytes / size + 1;
	}
	if (!strcmp(w, "ring1m")) {
		if (size > (1u << 20) - 16) {
			fprintf(stderr, "zcsend: ring1m: SIZE above 1 MiB - 16\n");
			j->err = 2;
			goto ready;
		}
		nbuf = 2000;
		stride = mmap(NULL, nbuf << 20, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (stride == MAP_FAILED) {
			perror("mmap");
			j->err = 2;
			goto ready;
		}
	}
	bufs = calloc(nbuf, sizeof *bufs);
	last = calloc(nbuf, sizeof *last);
	for (size_t i = 0; i < nbuf; i++)
		last[i] = UINT32_MAX;
	for (size_t i = 0; i < nbuf && !fresh; i++) {
		bufs[i] = stride ? stride + (i << 20) + 16 : malloc(blen);
		memset(bufs[i], (int)i, blen);
	}
	/* ring: two passes before the clock starts (the shim keeps a buffer's
	 * pages read-only from its second completion on; a plain sender only
	 * warms nothing, the ring being larger than any cache). */
	if (ring)
		for (size_t p = 0; p < 2 * nbuf; p++) {
			last[p % nbuf] = send_msg(fd, bufs[p % nbuf], size, mc);
			if (zc && p % 8 == 7)
				reap(fd, 0);
		}
ready:
	if (j->go) {
		/* Twice: once all are set up (the main thread reads the clock
		 * then), once to start together. */
		pthread_barrier_wait(j->go);
		pthread_barrier_wait(j->go);
	}
	if (j->err)
		return NULL;
	if (!j->go && getenv("ZCSEND_STATS"))
		raise(SIGUSR1);   /* the counters before the timed part */
	t0 = cpu_seconds();
	for (unsigned long n = 0; n < count; n++) {
		size_t k = n % nbuf;
		char *b;

		if (fresh) {
			b = malloc(blen);
			memset(b, (int)n, blen);
		} else {
			b = bufs[k];
			if (reuse) {
				/* A correct zerocopy sender waits for the release
				 * before it rewrites. */
				if (zc && last[k] != UINT32_MAX)
					wait_for(fd, last[k]);
				memset(b, (int)n, blen);
			}
		}
		last[k] = send_msg(fd, b, size, mc);
		if (zc && n % 8 == 7)
			reap(fd, 0);
		if (fresh) {
			if (zc)
				wait_for(fd, last[k]);   /* free only what was released */
			free(b);
		}
	}
	if (zc)
		wait_for(fd, next_id - 1);
	j->t = cpu_seconds() - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct job j = { .to = { .sin_family = AF_INET, .sin_port = htons(9) } };
	unsigned long threads = 0;
	double t;
	int a = 1;

	if (argc > a + 1 && !strcmp(argv[a], "--threads")) {
		threads = strtoul(argv[a + 1], NULL, 10);
		if (threads < 1 || threads > 256)
			return fprintf(stderr, "zcsend: --threads takes 1 to 256\n"), 2;
		a += 2;
	}
	if (argc > a && !strcmp(argv[a], "--zc"))
		zc = 1, a++;
	else if (argc > a && !strcmp(argv[a], "--zc-shape"))
		zc = shape = 1, a++;
	if (argc < a + 3) {
		fprintf(stderr, "usage: zcsend [--threads N] [--zc|--zc-shape] "
			"stable|ring|ring1m|reuse|fresh|mcstable|mcring SIZE COUNT [ADDRESS]\n");
		return 2;
	}
	j.w = argv[a];
	j.size = strtoul(argv[a + 1], NULL, 10);
	j.count = strtoul(argv[a + 2], NULL, 10);
	j.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > a + 3 && inet_pton(AF_INET, argv[a + 3], &j.to.sin_addr) != 1)
		return 2;
	if (!strncmp(j.w, "mc", 2) && mc_header(j.size))
		return 2;
	if (!threads) {
		sender(&j);
		if (j.err)
			return j.err;
		t = j.t;
	} else {
		pthread_barrier_t go;
		pthread_t *tid = calloc(threads, sizeof *tid);
		struct job *js = calloc(threads, sizeof *js);
		double t0;

		pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
		for (unsigned long i = 0; i < threads; i++) {
			js[i] = j;
			js[i].count = j.count / threads;
			js[i].go = &go;
			if (pthread_create(&tid[i], NULL, sender, &js[i]))
				return perror("pthread_create"), 2;
		}
		pthread_barrier_wait(&go);
		if (getenv("ZCSEND_STATS"))
			raise(SIGUSR1);
		t0 = cpu_seconds();
		pthread_barrier_wait(&go);
		for (unsigned long i = 0; i < threads; i++) {
			pthread_join(tid[i], NULL);
			if (js[i].err)
				return js[i].err;
		}
		t = cpu_seconds() - t0;
		j.count = j.count / threads * threads;
	}
	/* Under the shim, the counters once more: scripts/bench-alloc reads
	 * these (the whole run), scripts/bench the difference from those
	 * before the timed part. */
	if (getenv("ZCSEND_STATS"))
		raise(SIGUSR1);
	printf("%s %zu %lu %.3f %.2f\n", j.w, j.size, j.count, t, (double)j.size * j.count / 1e9 / t);
	return 0;
}
