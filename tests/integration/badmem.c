/*
 * badmem - sends from memory the kernel cannot read fail as they do
 * without the shim. A file mapping truncated under the program: its pages
 * past the end of the file raise SIGBUS when read from user space, while
 * the kernel's read of them gives EFAULT. The shim must not read them
 * with loads (its bounce copy of a send's unaligned ends would die of
 * SIGBUS): it reads them through the kernel.
 *
 *   whole   send() of 60,000 bytes from inside the truncated part
 *   header  sendmsg() of a 100-byte header from the truncated part and a
 *           60 KiB body in anonymous memory (the header alone is bounced)
 *   tail    sendmsg() of a 60 KiB anonymous body and a 100-byte trailer
 *           from the truncated part
 *   kept    header's case with a body sent unchanged before (its sends go
 *           by the socket's ring, which copies the header itself)
 *   exe     the kept body with a trailer past the end of the program's
 *           own executable, mapped again (the executable's pages inside
 *           the file are read with loads; these must not be)
 *   reused  a buffer rewritten before each send (the shim copies it and
 *           now and then samples its content), then replaced by a
 *           truncated file mapping at the same address, sent from 2100
 *           times (across the samples)
 *   raw     a payload whose first page was unmapped with a raw munmap
 *           system call, which the shim does not see: its view of the
 *           mappings still has the page, so its bounce copy reads the bad
 *           pointer, under its fault probe
 *   args    a bad pointer among a call's arguments rather than in its
 *           payload: sendmsg()'s msghdr, its iovec array, its address;
 *           writev()'s iovec array; sendmmsg()'s vector; sendto()'s
 *           address; with a zerocopy socket open,
 *           select()'s and pselect()'s sets; and, with a send still
 *           guarded (the shim looks at where the kernel will write),
 *           readv()'s iovec array, recvmsg()'s msghdr, recvfrom()'s
 *           address length
 * Each must fail with EFAULT, and a datagram from good memory sent after
 * them must arrive intact (the shim still works). BADMEM_NO_BADPTR=1
 * leaves out raw and args (valgrind reports every read of their pointers).
 *
 * Without the shim every case passes too: the kernel says EFAULT. So under
 * the shim each case must also show, in the stats line dumped after it,
 * that it went the shim's way: the file mapping cases copied (the shim saw
 * the send, looked at the mapping and never read it: no probe fault), the
 * raw and args cases each handed back by exactly one fault probe
 * (probe_faults), and the good sends around them sent with zerocopy.
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
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define BODY 61440
#define MAPLEN (256 * 1024)

static int intact(const char *b, size_t n, unsigned m)
{
	for (size_t j = 0; j < n; j++)
		if ((unsigned char)b[j] != itest_pat(m, j))
			return 0;
	return 1;
}

static int expect_efault(const char *what, ssize_t r)
{
	if (r == -1 && errno == EFAULT)
		return 0;
	fprintf(stderr, "badmem: %s: returned %zd (%s), want -1 EFAULT as without the shim\n", what,
		r, r < 0 ? strerror(errno) : "no error");
	return 1;
}

/* Under the shim (BADMEM_SHIM=1, from badmem.sh): each case's path is
 * checked in the stats line the shim writes on SIGUSR1. */
static int shim;
static int adapt0;   /* ZCSHIM_ADAPT=0: every large send zerocopy */

struct counts {
	long long probe_faults, copy_sends, zc_sends;
};

/* The shim's counter key in the last line of its stats file; -1 if none. */
static long long last_stat(const char *key)
{
	static char text[1 << 20];
	const char *file = getenv("ZCSHIM_STATS_FILE"), *line, *at;
	char pat[64];
	FILE *f = file ? fopen(file, "r") : NULL;
	size_t n;

	if (!f)
		return -1;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	while (n && text[n - 1] == '\n')
		text[--n] = 0;
	line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	snprintf(pat, sizeof pat, "\"%s\":", key);
	at = strstr(line, pat);
	return at ? strtoll(at + strlen(pat), NULL, 10) : -1;
}

static void counts_now(struct counts *c)
{
	if (!shim)
		return;
	/* Without the shim's handler, SIGUSR1 ends the program (138). */
	itest_dump_stats();
	c->probe_faults = last_stat("probe_faults");
	c->copy_sends = last_stat("copy_sends");
	c->zc_sends = last_stat("zc_sends");
	if (c->probe_faults < 0 || c->copy_sends < 0 || c->zc_sends < 0) {
		fprintf(stderr, "badmem: no stats line from the shim in %s\n",
			getenv("ZCSHIM_STATS_FILE") ? getenv("ZCSHIM_STATS_FILE") : "(unset)");
		exit(ITEST_ERROR);
	}
}

/* Under the shim: since *c, the case took dprobe fault probes, dcopy
 * copied sends and dzc zerocopy sends (-1: any number). *c moves on. */
static int went(const char *what, struct counts *c, long long dprobe, long long dcopy,
		long long dzc)
{
	struct counts n;
	int bad;

	if (!shim)
		return 0;
	counts_now(&n);
	bad = (dprobe >= 0 && n.probe_faults - c->probe_faults != dprobe) ||
	      (dcopy >= 0 && n.copy_sends - c->copy_sends != dcopy) ||
	      (dzc >= 0 && n.zc_sends - c->zc_sends != dzc);
	if (bad)
		fprintf(stderr,
			"badmem: %s: probe_faults +%lld, copy_sends +%lld, zc_sends +%lld; want +%lld, +%lld, +%lld (-1: any)\n",
			what, n.probe_faults - c->probe_faults, n.copy_sends - c->copy_sends,
			n.zc_sends - c->zc_sends, dprobe, dcopy, dzc);
	*c = n;
	return bad;
}

/* A pointer no call can read (the first page is never mapped); volatile,
 * so that the compiler does not see it. */
static void *volatile badptr = (void *)16;
#define BADPTR badptr

/* A call the kernel answers with EFAULT for a bad pointer among its
 * arguments, which the shim reads in one fault probe window and hands
 * back unsent. */
#define PROBED(what, call)                                   \
	do {                                                 \
		errno = 0;                                   \
		bad |= expect_efault(what, call);            \
		bad |= went(what, c, 1, 0, 0);               \
	} while (0)

static int bad_args(int tx, int rx, char *body, struct counts *c)
{
	struct iovec v = { body + 4096, BODY };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	socklen_t len = sizeof to;
	int bad = 0;

	getsockname(rx, (struct sockaddr *)&to, &len);
	PROBED("args: sendmsg's msghdr", sendmsg(tx, BADPTR, 0));
	m.msg_iov = BADPTR;
	PROBED("args: sendmsg's iovecs", sendmsg(tx, &m, 0));
	m.msg_iov = &v;
	m.msg_name = BADPTR;
	m.msg_namelen = sizeof to;
	PROBED("args: sendmsg's address", sendmsg(tx, &m, 0));
	PROBED("args: writev's iovecs", writev(tx, BADPTR, 2));
	PROBED("args: sendmmsg's vector", sendmmsg(tx, BADPTR, 2, 0));
	PROBED("args: sendto's address", sendto(tx, body + 4096, BODY, 0, BADPTR, sizeof to));
	{
		struct timeval tv = { 0, 0 };
		struct timespec ts = { 0, 0 };

		PROBED("args: select's set", select(rx + 1, BADPTR, NULL, NULL, &tv));
		PROBED("args: pselect's set", pselect(rx + 1, NULL, BADPTR, NULL, &ts, NULL));
	}

	/* A zerocopy send whose pages stay guarded until its completion is
	 * read (by the next send): the read family now looks at where the
	 * kernel will write. Sent twice: by default (ZCSHIM_ADAPT) a
	 * buffer's first send is copied, its next one guarded and kept. */
	for (int k = 0; k < 2; k++)
		if (send(tx, body + 4096, BODY, 0) != BODY)
			itest_die("send (args)");
	if (shim) {
		long long zc = c->zc_sends;

		bad |= went("args: the guarded sends", c, 0, -1, -1);
		if (c->zc_sends == zc) {
			fprintf(stderr, "badmem: args: neither send went out with zerocopy\n");
			bad = 1;
		}
	}
	PROBED("args: readv's iovecs", readv(rx, BADPTR, 2));
	PROBED("args: recvmsg's msghdr", recvmsg(rx, BADPTR, MSG_DONTWAIT));
	PROBED("args: recvfrom's address length",
	       recvfrom(rx, body + 4096, BODY, MSG_DONTWAIT, (struct sockaddr *)&to, BADPTR));
	return bad;
}

int main(void)
{
	char path[] = "/tmp/zcshim-badmem.XXXXXX";
	int f = mkstemp(path), tx, rx, bad = 0;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	char *map, *body, *got;
	struct iovec v[2];
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	const char *nb = getenv("BADMEM_NO_BADPTR"), *sh = getenv("BADMEM_SHIM");
	int nobad = nb && !strcmp(nb, "1");
	struct counts c = { 0 };
	ssize_t r;

	shim = sh && !strcmp(sh, "1");
	adapt0 = getenv("ZCSHIM_ADAPT") && !strcmp(getenv("ZCSHIM_ADAPT"), "0");
	if (f < 0)
		itest_die("mkstemp");
	unlink(path);
	if (ftruncate(f, MAPLEN))
		itest_die("ftruncate");
	map = mmap(NULL, MAPLEN, PROT_READ, MAP_SHARED, f, 0);
	if (map == MAP_FAILED)
		itest_die("mmap");
	if (ftruncate(f, 4096))   /* every page but the first now lies past the end */
		itest_die("ftruncate");

	rx = socket(AF_INET, SOCK_DGRAM, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(rx, (struct sockaddr *)&a, &al) ||
	    connect(tx, (struct sockaddr *)&a, sizeof a))
		itest_die("sockets");
	body = itest_pages(BODY + 8192);
	got = malloc(BODY + 200);
	if (!got)
		itest_die("malloc");
	counts_now(&c);

	/* The file mapping cases: the shim sees each send, finds that part of
	 * it lies in a file mapping (whose pages past the end it must not
	 * load from). 60,000 bytes there: the call is copied, that is handed
	 * to the kernel as it is. A 100-byte header or trailer there goes to
	 * bounce memory, read through the kernel (process_vm_readv), which
	 * says EFAULT where a load would raise SIGBUS: one probe fault, and
	 * the call handed to the kernel as it is. */
	errno = 0;
	bad |= expect_efault("whole", send(tx, map + 8192 + 100, 60000, 0));
	bad |= went("whole", &c, 0, 1, 0);

	v[0] = (struct iovec){ map + 8192 + 100, 100 };
	v[1] = (struct iovec){ body + 4096, BODY };
	errno = 0;
	bad |= expect_efault("header", sendmsg(tx, &m, 0));
	/* (With ZCSHIM_ADAPT=1 the cost model may copy this first send of
	 * the body before anything is read: no probe fault then.) */
	bad |= went("header", &c, -1, 1, 0);

	v[0] = (struct iovec){ body + 4096, BODY };
	v[1] = (struct iovec){ map + 8192 + 100, 100 };
	errno = 0;
	bad |= expect_efault("tail", sendmsg(tx, &m, 0));
	bad |= went("tail", &c, 1, 1, 0);

	/* A kept body (sent unchanged and received, so that its pages stay
	 * read-only and its next sends go by its socket's ring) beside a
	 * 100-byte header: one from the heap arrives intact, one from past
	 * the file's end gives EFAULT, not SIGBUS (the ring's copy reads it
	 * through the kernel too). badmem.sh checks kept_sends. */
	{
		char *hdr = malloc(100);

		if (!hdr)
			itest_die("malloc");
		/* (Sixteen sends: its pages are kept once the shim has read
		 * the completions of the first, a batch at a time.) */
		itest_fill(body + 4096, BODY, 5);
		for (int k = 0; k < 16; k++) {
			if (send(tx, body + 4096, BODY, 0) != BODY)
				itest_die("send (kept)");
			recv(rx, got, BODY + 200, 0);
		}
		memset(hdr, 'h', 100);
		v[0] = (struct iovec){ hdr, 100 };
		v[1] = (struct iovec){ body + 4096, BODY };
		/* (Twice: the first may find the shim's view of the mappings
		 * out of date, which the locked path reads again.) */
		for (int k = 0; k < 2; k++) {
			if (sendmsg(tx, &m, 0) != 100 + BODY)
				itest_die("sendmsg (kept, heap header)");
			r = recv(rx, got, BODY + 200, 0);
			if (r != 100 + BODY || memcmp(got, hdr, 100) || !intact(got + 100, BODY, 5)) {
				fprintf(stderr, "badmem: kept body with a heap header arrived as %zd bytes, %s\n",
					r, r == 100 + BODY ? "changed" : "wrong length");
				bad = 1;
			}
		}
		/* Right after, with no stats dump between (reading the stats
		 * file allocates, which may change the mappings): the ring's
		 * copy reads the header through the kernel and fails, then
		 * the locked path's does, and the call goes to the kernel. */
		v[0] = (struct iovec){ map + 8192 + 100, 100 };
		errno = 0;
		bad |= expect_efault("kept", sendmsg(tx, &m, 0));
		bad |= went("kept", &c, adapt0 ? 2 : -1, -1, -1);
		free(hdr);
	}

	/* The program's own executable. A constant of its .rodata (where
	 * memcached keeps "END\r\n") after the kept body arrives intact
	 * (loads may read it: the file cannot shrink while the program
	 * runs). The same file mapped again with two pages past its end: a
	 * trailer from there gives EFAULT, not SIGBUS (only pages inside the
	 * file are loaded; these are read through the kernel). */
	{
		static const char end_marker[] = "END\r\n";
		int ef = open("/proc/self/exe", O_RDONLY);
		struct stat st;
		size_t in;
		char *em;

		if (ef < 0 || fstat(ef, &st))
			itest_die("open /proc/self/exe");
		in = ((size_t)st.st_size + 4095) / 4096 * 4096;
		em = mmap(NULL, in + 8192, PROT_READ, MAP_PRIVATE, ef, 0);
		if (em == MAP_FAILED)
			itest_die("mmap the executable");
		v[0] = (struct iovec){ body + 4096, BODY };
		v[1] = (struct iovec){ (void *)end_marker, 5 };
		for (int k = 0; k < 2; k++) {
			if (sendmsg(tx, &m, 0) != BODY + 5)
				itest_die("sendmsg (exe, .rodata trailer)");
			r = recv(rx, got, BODY + 200, 0);
			if (r != BODY + 5 || !intact(got, BODY, 5) || memcmp(got + BODY, "END\r\n", 5)) {
				fprintf(stderr, "badmem: kept body with a .rodata trailer arrived as %zd bytes, %s\n",
					r, r == BODY + 5 ? "changed" : "wrong length");
				bad = 1;
			}
		}
		v[1] = (struct iovec){ em + in + 100, 100 };
		errno = 0;
		bad |= expect_efault("exe", sendmsg(tx, &m, 0));
		bad |= went("exe", &c, adapt0 ? 2 : -1, -1, -1);
		munmap(em, in + 8192);
		close(ef);
	}

	{
		char *b = mmap(NULL, BODY + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *fm;
		unsigned n;

		if (b == MAP_FAILED)
			itest_die("mmap");
		for (n = 0; n < 200; n++) {
			memset(b, (int)n, BODY);
			if (send(tx, b, BODY, 0) != BODY)
				itest_die("send (reused)");
			recv(rx, got, BODY + 200, MSG_DONTWAIT);
		}
		bad |= went("reused: the rewritten buffer", &c, 0, -1, -1);
		if (ftruncate(f, 0))
			itest_die("ftruncate");
		fm = mmap(b, BODY + 4096, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0);
		if (fm != b)
			itest_die("mmap over the buffer");
		for (n = 0; n < 2100; n++) {
			errno = 0;
			if (expect_efault("reused", send(tx, b, BODY, 0))) {
				bad = 1;
				break;
			}
		}
		bad |= went("reused", &c, 0, 2100, 0);
		munmap(b, BODY + 4096);
	}
	if (!nobad) {
		char *b = itest_pages(4 * 4096);

		/* Sent twice: the shim knows the mapping and the buffer. */
		itest_fill(b, 4 * 4096, 3);
		for (int k = 0; k < 2; k++)
			if (send(tx, b + 100, 3 * 4096, 0) != 3 * 4096)
				itest_die("send (raw)");
		bad |= went("raw: the sends before", &c, 0, -1, -1);
		if (syscall(SYS_munmap, b, 4096))
			itest_die("munmap");
		errno = 0;
		bad |= expect_efault("raw", send(tx, b + 100, 3 * 4096, 0));
		/* Its bounce copy faulted: copied, that is handed back.
		 * Under the userfaultfd guard with the adaptive policy the
		 * shim may copy it before any bounce copy (the kernel's
		 * unmap report reached it first), and a buffer sent again
		 * unchanged has its first page sent in place, not bounced
		 * (an edge: the kernel's own read fails): no probe then,
		 * same EFAULT (BADMEM_RAW_ANY): the guard refuses to protect
		 * the hole, and the call is copied. */
		bad |= went("raw", &c, getenv("BADMEM_RAW_ANY") ? -1 : 1, 1, 0);
	}
	if (!nobad)
		bad |= bad_args(tx, rx, body, &c);
	while (recv(rx, got, BODY + 200, MSG_DONTWAIT) > 0)
		;

	/* Good memory afterwards: sent, and received intact. */
	itest_fill(body + 4096 + 17, 50000, 7);
	r = send(tx, body + 4096 + 17, 50000, 0);
	if (r != 50000)
		itest_die("send (good memory)");
	r = recv(rx, got, BODY + 200, 0);
	if (r != 50000 || !intact(got, 50000, 7)) {
		fprintf(stderr, "badmem: the datagram from good memory arrived as %zd bytes, %s\n", r,
			r == 50000 ? "changed" : "wrong length");
		bad = 1;
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
