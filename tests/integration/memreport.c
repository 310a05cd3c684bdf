/*
 * memreport - Description: memory that changes behind the shim's back
 * while a send from it is in flight, and the guard's own resources.
 *
 * usage: memreport unmap|remap|dontneed|fork|closefd|idlecopy|kwrite|kept N|churn N
 *   unmap     a raw munmap of a buffer in flight, new memory mapped at the
 *             same address, filled, sent and overwritten at once: the new
 *             send must be guarded (no record of the old memory may say
 *             it is);
 *   remap     a raw mremap moves a buffer in flight to another address,
 *             and the program writes there at once: the bytes in flight
 *             are the same pages, and must not change;
 *   dontneed  MADV_DONTNEED (raw) over a buffer in flight, then the buffer
 *             is filled, sent and overwritten again;
 *   fork      a child writes a buffer the parent has in flight: it must
 *             not wait for the parent's guard, and the parent's bytes must
 *             not change;
 *   kwrite    the kernel writes into a buffer in flight for a call no
 *             wrapper sees (getrandom): under the userfaultfd guard with
 *             kernel-fault rights it waits and succeeds; elsewhere it may
 *             fail with EFAULT (prints "getrandom N ERRNO");
 *   closefd   the program closes every descriptor it did not open (as
 *             daemons do) with the buffer in flight, then overwrites it;
 *   idlecopy  the second half of a buffer, sent twice (so kept read-only),
 *             then the whole buffer, written at its first page while in
 *             flight (private copies of all its pages), then sent again
 *             and overwritten at once: what kept the second half
 *             read-only must not still claim its new pages are guarded;
 *   kept N    N buffers sent once each and kept: prints the lines of
 *             /proc/self/maps before and after ("maps BEFORE AFTER");
 *   churn N   N buffers kept in a random order, then rewritten by halves
 *             and sent again, three times: each holds what was last
 *             written (prints "churn REWRITES").
 * The receiver reads slowly, so that the bytes stay in flight; it checks
 * every message. Exit 0: intact; 1: changed on the wire.
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSGLEN (64 * 4096)
#define PAGES (MSGLEN / 4096 + 2)

static int maps_lines(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		itest_die("maps");
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A UDP socket *tx connected to *rx, on loopback. */
static void udp_loop(int *rx, int *tx)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;

	*rx = socket(AF_INET, SOCK_DGRAM, 0);
	*tx = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*rx < 0 || *tx < 0 || bind(*rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(*rx, (struct sockaddr *)&a, &alen) || connect(*tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp");
}

static int mode_kept(int n)
{
	int rx, tx;
	/* Two pages per buffer and a page between: no two buffers touch. */
	char *region = mmap(NULL, (size_t)n * 3 * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int before, after;

	if (region == MAP_FAILED)
		itest_die("mmap");
	udp_loop(&rx, &tx);
	for (int i = 0; i < n; i++)
		memset(region + (size_t)i * 3 * 4096, i, 2 * 4096);
	before = maps_lines();
	/* Twice: a buffer sent again is the one a content cache keeps. */
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < n; i++) {
			char junk[64];

			if (send(tx, region + (size_t)i * 3 * 4096, 2 * 4096, 0) != 2 * 4096)
				itest_die("send");
			while (recv(rx, junk, sizeof junk, MSG_DONTWAIT) > 0)
				;
		}
	after = maps_lines();
	itest_dump_stats();
	printf("maps %d %d\n", before, after);
	return ITEST_OK;
}

static uint32_t churn_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Send every buffer twice, in a random order (a cache's clients ask in
 * no order: the guard keeps them as they come). */
static void send_shuffled(int tx, int rx, char *region, int n, uint32_t *seed, int *order)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(churn_rand(seed) % (uint32_t)(i + 1)), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < n; i++) {
			char junk[64];

			if (send(tx, region + (size_t)order[i] * 3 * 4096, 2 * 4096, 0) != 2 * 4096)
				itest_die("send");
			while (recv(rx, junk, sizeof junk, MSG_DONTWAIT) > 0)
				;
		}
}

/* churn N: N buffers kept in a random order, then three times a random
 * half of them rewritten (each write meets a kept buffer's protection)
 * and all sent again in a random order. Every buffer must hold what was
 * last written to it. Prints "churn REWRITES". */
static int mode_churn(int n)
{
	int rx, tx;
	char *region = mmap(NULL, (size_t)n * 3 * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned char *last = calloc((size_t)n, 1);
	int *order = malloc((size_t)n * sizeof *order), rewrites = 0;
	uint32_t seed = 99;

	if (region == MAP_FAILED || !last || !order)
		itest_die("memory");
	udp_loop(&rx, &tx);
	for (int i = 0; i < n; i++) {
		order[i] = i;
		last[i] = (unsigned char)(i % 251);
		memset(region + (size_t)i * 3 * 4096, last[i], 2 * 4096);
	}
	send_shuffled(tx, rx, region, n, &seed, order);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++)
			if (churn_rand(&seed) % 2) {
				last[i] = (unsigned char)(last[i] + 1 + round);
				memset(region + (size_t)i * 3 * 4096, last[i], 2 * 4096);
				rewrites++;
			}
		send_shuffled(tx, rx, region, n, &seed, order);
	}
	for (int i = 0; i < n; i++)
		for (size_t b = 0; b < 2 * 4096; b += 512)
			if ((unsigned char)region[(size_t)i * 3 * 4096 + b] != last[i]) {
				fprintf(stderr, "buffer %d byte %zu is %#x, want %#x\n", i, b,
					(unsigned char)region[(size_t)i * 3 * 4096 + b], last[i]);
				return ITEST_CORRUPT;
			}
	itest_dump_stats();
	printf("churn %d\n", rewrites);
	return ITEST_OK;
}

/* The userfaultfd the shim holds, if any: closed as a daemon closes what
 * it did not open. */
static int close_others(int keep1, int keep2)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[256], n = 0, closed = 0;

	if (!d)
		itest_die("/proc/self/fd");
	while ((e = readdir(d)) && n < 256) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd > 2 && fd != keep1 && fd != keep2 && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		char link[64], to[128];
		ssize_t l;

		snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
		l = readlink(link, to, sizeof to - 1);
		to[l > 0 ? l : 0] = '\0';
		/* Only what the shim might hold: not the test's own files. */
		if (!strstr(to, "userfaultfd"))
			continue;
		errno = 0;
		if (close(fds[i]) == 0 || errno != EBADF) {
			fprintf(stderr, "close(%d) of %s: %s, want EBADF (nothing the program opened)\n",
				fds[i], to, strerror(errno));
			return -1;
		}
		closed++;
	}
	return closed;
}

static int mode_idlecopy(void)
{
	char *a = itest_pages(MSGLEN + 4096);
	char *half = a + MSGLEN / 2;   /* the second half of A, page-aligned */
	struct itest_rx *rx, *rx1;
	unsigned char *got;
	size_t gotlen, want = 0;
	int s, r, s1, r1, bad = 0;

	/* The second half of A alone, twice (as the rest of a partial send
	 * would go), on a connection read at once: its pages are kept
	 * read-only after. */
	itest_tcp_pair(&s1, &r1);
	rx1 = itest_receiver_start(r1, 0);
	for (unsigned m = 0; m < 2; m++) {
		memset(half, 0x40 + (int)m, MSGLEN / 2);
		if (itest_send_all(s1, half, MSGLEN / 2))
			itest_die("send half");
		want += MSGLEN / 2;
		itest_wait_received(rx1, want);
	}
	/* Its completions read: a third large send on s1 reaps them (from a
	 * buffer of its own). */
	usleep(20000);
	{
		char *other = itest_pages(MSGLEN / 2);

		memset(other, 0x42, MSGLEN / 2);
		for (int k = 0; k < 3; k++) {
			if (itest_send_all(s1, other, MSGLEN / 2))
				itest_die("send other");
			want += MSGLEN / 2;
			itest_wait_received(rx1, want);
			usleep(10000);
		}
	}
	if (getenv("MEMREPORT_STATS"))
		itest_dump_stats();
	close(s1);
	got = itest_receiver_join(rx1, &gotlen);
	for (size_t i = 0; i < 5 * (size_t)MSGLEN / 2 && i < gotlen; i++)
		if (got[i] != (i < MSGLEN / 2 ? 0x40 : i < MSGLEN ? 0x41 : 0x42)) {
			fprintf(stderr, "byte %zu of the half sends changed\n", i);
			bad = 1;
			break;
		}
	free(got);
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 300);
	/* Message 0: all of A; written at its first page while in flight
	 * (a private copy of all of A's pages). Message 1: A again,
	 * overwritten at once: every page must be guarded again. */
	for (unsigned m = 0; m < 2; m++) {
		itest_fill(a, MSGLEN, m);
		if (itest_send_all(s, a, MSGLEN))
			itest_die("send a");
		if (m == 0)
			a[0] = (char)0xEE;
		/* The second half first: its pages fault only if guarded. */
		memset(half, 0xEE, MSGLEN / 2);
		memset(a, 0xEE, MSGLEN);
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	if (itest_verify(got, gotlen, 2, MSGLEN))
		bad = 1;
	free(got);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "unmap";
	char *region, *buf;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	unsigned nmsg = 2;
	int s, r, bad = 0;

	if (!strcmp(mode, "idlecopy"))
		return mode_idlecopy();
	if (!strcmp(mode, "kept"))
		return mode_kept(argc > 2 ? atoi(argv[2]) : 1000);
	if (!strcmp(mode, "churn"))
		return mode_churn(argc > 2 ? atoi(argv[2]) : 1000);
	region = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		itest_die("mmap");
	buf = region + 100;
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 300);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send 0");
	if (!strcmp(mode, "unmap")) {
		/* The old pages stay the kernel's until sent; the address is
		 * given new memory, which must be guarded on its own send. */
		if (syscall(SYS_munmap, region, PAGES * 4096))
			itest_die("munmap");
		if (mmap(region, PAGES * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != region)
			itest_die("mmap again");
	} else if (!strcmp(mode, "remap")) {
		char *to = mmap(NULL, PAGES * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (to == MAP_FAILED ||
		    (char *)syscall(SYS_mremap, region, PAGES * 4096, PAGES * 4096,
				    MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
			itest_die("mremap");
		/* The pages in flight, at their new address. */
		memset(to + 100, 0xEE, MSGLEN);
		region = to;
		buf = region + 100;
	} else if (!strcmp(mode, "dontneed")) {
		if (syscall(SYS_madvise, region, PAGES * 4096, MADV_DONTNEED))
			itest_die("madvise");
	} else if (!strcmp(mode, "fork")) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			itest_die("fork");
		if (pid == 0) {
			alarm(20);   /* a write that waited for the parent's guard */
			memset(buf, 0xCC, MSGLEN);
			for (size_t i = 0; i < MSGLEN; i += 4096)
				if ((unsigned char)buf[i] != 0xCC)
					_exit(3);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "the child's writes failed (status %#x)\n", st);
			bad = 1;
		}
	} else if (!strcmp(mode, "kwrite")) {
		ssize_t n;

		errno = 0;
		n = getrandom(buf + 8192, 4096, 0);
		printf("getrandom %zd %d\n", n, n < 0 ? errno : 0);
	} else if (!strcmp(mode, "closefd")) {
		int n = close_others(s, r);

		if (n < 0)
			bad = 1;
		printf("closed %d\n", n);
	} else {
		itest_die("usage: memreport unmap|remap|dontneed|fork|closefd|idlecopy|kwrite|kept N|churn N");
	}
	/* A second message from the same address, overwritten at once. */
	itest_fill(buf, MSGLEN, 1);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send 1");
	memset(buf, 0xEE, MSGLEN);
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	if (itest_verify(got, gotlen, nmsg, MSGLEN))
		bad = 1;
	free(got);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
