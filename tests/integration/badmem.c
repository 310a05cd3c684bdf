/*
 * badmem - sends from memory the kernel cannot read fail as they do
 * without the shim. A file mapping truncated under the program: its pages
 * past the end of the file raise SIGBUS when read from user space, while
 * the kernel's read of them gives EFAULT. The shim must not read them
 * itself (its bounce copy of a send's unaligned ends would die of SIGBUS).
 *
 *   whole   send() of 60,000 bytes from inside the truncated part
 *   header  sendmsg() of a 100-byte header from the truncated part and a
 *           60 KiB body in anonymous memory (the header alone is bounced)
 *   tail    sendmsg() of a 60 KiB anonymous body and a 100-byte trailer
 *           from the truncated part
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
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

/* A pointer no call can read (the first page is never mapped); volatile,
 * so that the compiler does not see it. */
static void *volatile badptr = (void *)16;
#define BADPTR badptr

static int bad_args(int tx, int rx, char *body)
{
	struct iovec v = { body + 4096, BODY };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	socklen_t len = sizeof to;
	int bad = 0;

	getsockname(rx, (struct sockaddr *)&to, &len);
	errno = 0;
	bad |= expect_efault("args: sendmsg's msghdr", sendmsg(tx, BADPTR, 0));
	m.msg_iov = BADPTR;
	errno = 0;
	bad |= expect_efault("args: sendmsg's iovecs", sendmsg(tx, &m, 0));
	m.msg_iov = &v;
	m.msg_name = BADPTR;
	m.msg_namelen = sizeof to;
	errno = 0;
	bad |= expect_efault("args: sendmsg's address", sendmsg(tx, &m, 0));
	errno = 0;
	bad |= expect_efault("args: writev's iovecs", writev(tx, BADPTR, 2));
	errno = 0;
	bad |= expect_efault("args: sendmmsg's vector", sendmmsg(tx, BADPTR, 2, 0));
	errno = 0;
	bad |= expect_efault("args: sendto's address",
			     sendto(tx, body + 4096, BODY, 0, BADPTR, sizeof to));
	{
		struct timeval tv = { 0, 0 };
		struct timespec ts = { 0, 0 };

		errno = 0;
		bad |= expect_efault("args: select's set", select(rx + 1, BADPTR, NULL, NULL, &tv));
		errno = 0;
		bad |= expect_efault("args: pselect's set",
				     pselect(rx + 1, NULL, BADPTR, NULL, &ts, NULL));
	}

	/* A zerocopy send whose pages stay guarded until its completion is
	 * read (by the next send): the read family now looks at where the
	 * kernel will write. */
	if (send(tx, body + 4096, BODY, 0) != BODY)
		itest_die("send (args)");
	errno = 0;
	bad |= expect_efault("args: readv's iovecs", readv(rx, BADPTR, 2));
	errno = 0;
	bad |= expect_efault("args: recvmsg's msghdr", recvmsg(rx, BADPTR, MSG_DONTWAIT));
	errno = 0;
	bad |= expect_efault("args: recvfrom's address length",
			     recvfrom(rx, body + 4096, BODY, MSG_DONTWAIT, (struct sockaddr *)&to,
				      BADPTR));
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
	const char *nb = getenv("BADMEM_NO_BADPTR");
	int nobad = nb && !strcmp(nb, "1");
	ssize_t r;

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

	errno = 0;
	bad |= expect_efault("whole", send(tx, map + 8192 + 100, 60000, 0));

	v[0] = (struct iovec){ map + 8192 + 100, 100 };
	v[1] = (struct iovec){ body + 4096, BODY };
	errno = 0;
	bad |= expect_efault("header", sendmsg(tx, &m, 0));

	v[0] = (struct iovec){ body + 4096, BODY };
	v[1] = (struct iovec){ map + 8192 + 100, 100 };
	errno = 0;
	bad |= expect_efault("tail", sendmsg(tx, &m, 0));

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
		munmap(b, BODY + 4096);
	}
	if (!nobad) {
		char *b = itest_pages(4 * 4096);

		/* Sent twice: the shim knows the mapping and the buffer. */
		itest_fill(b, 4 * 4096, 3);
		for (int k = 0; k < 2; k++)
			if (send(tx, b + 100, 3 * 4096, 0) != 3 * 4096)
				itest_die("send (raw)");
		if (syscall(SYS_munmap, b, 4096))
			itest_die("munmap");
		errno = 0;
		bad |= expect_efault("raw", send(tx, b + 100, 3 * 4096, 0));
	}
	if (!nobad)
		bad |= bad_args(tx, rx, body);
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
