/*
 * kept - Description: a buffer sent twelve times unchanged, each
 * received before the next send (so that its pages are kept read-only and
 * its later sends go by the socket's ring, without the global lock), then
 * changed right after the last while the receiver holds off (the kernel
 * still has its pages); the receiver checks every byte.
 *
 * usage: kept overwrite|reply|remap|threads|close [OFFSET]
 *   overwrite  the program writes the buffer right after its last send;
 *   reply      as overwrite, each send shaped as a memcached reply: one
 *              sendmsg() of a 30-byte header from a heap buffer rewritten
 *              for every send, the buffer's bytes between, and "END\r\n"
 *              from read-only data (the kept buffer is the middle iovec,
 *              the other two are copied);
 *   remap      it unmaps the buffer's memory and maps new memory at the
 *              same address, then fills that;
 *   threads    two threads, each with its own socket and buffer, overwrite
 *              at once (one's write fault moves the other's kept sends
 *              back to the locked path while they are being made);
 *   close      as overwrite, but the last round closes the socket before
 *              the write (its calls out are the close's to settle).
 * OFFSET: where the buffer starts in its first page (default 0). An
 * unaligned buffer's first and last pages are kept only where the guard
 * sends edges in place (the userfaultfd guard with kernel faults covered);
 * elsewhere its whole pages are, and its edges' bytes are copied.
 * Without the guard, the change reaches bytes still in the sender's queue.
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 12
#define SENDS 12   /* of each round's content: more than the shim lets out before it reads completions */
#define LEN (64 * 1024)
#define REGION (LEN + 2 * 4096 + 100)
#define HDR 30    /* reply: the header's bytes, then the buffer's, then END */

static const char end_line[] = "END\r\n";
#define END_LEN (sizeof end_line - 1)

struct stream {
	const char *mode;
	size_t offset;
	int snd, rcv;
	char *region[ROUNDS];   /* a buffer per round (remap: the first, always) */
	char *hdr;            /* reply: the header's buffer */
	unsigned char *got;
	size_t gotlen;        /* received (atomic) */
	size_t allowed;       /* the receiver reads up to here (atomic) */
	pthread_t rx;
	int bad;
};

/* A receiver that reads only what the sender allows: the bytes of the
 * third send stay in the sender's queue, their pages the kernel's, while
 * the program changes the buffer. */
static void *gated_rx(void *arg)
{
	struct stream *st = arg;
	size_t cap = (size_t)ROUNDS * SENDS * LEN + 32768;   /* room to see extra bytes */
	struct timespec ts = { 0, 200000 };

	st->got = malloc(cap);
	if (!st->got)
		itest_die("malloc");
	while (st->gotlen < cap) {
		size_t lim = __atomic_load_n(&st->allowed, __ATOMIC_ACQUIRE), want;
		ssize_t r;

		if (lim > cap)
			lim = cap;
		if (st->gotlen >= lim) {
			nanosleep(&ts, NULL);
			continue;
		}
		want = lim - st->gotlen;
		r = recv(st->rcv, st->got + st->gotlen, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			itest_die("recv");
		if (r == 0)
			break;
		__atomic_store_n(&st->gotlen, st->gotlen + (size_t)r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void fill(char *buf, unsigned round)
{
	for (size_t j = 0; j < LEN; j++)
		buf[j] = (char)itest_pat(round, j);
}

/* A connection whose receiver takes little at a time (a small receive
 * buffer) and whose sender queues a whole send at once (a large send
 * buffer): what the receiver has not read stays in the sender's queue. */
static void narrow_pair(int *snd, int *rcv)
{
	struct sockaddr_in a;
	int small = 4096, big = 4 << 20;
	int l = itest_listen(&a);

	if (setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small))
		itest_die("SO_RCVBUF");
	*snd = socket(AF_INET, SOCK_STREAM, 0);
	if (*snd < 0 || setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big) ||
	    connect(*snd, (struct sockaddr *)&a, sizeof a))
		itest_die("connect");
	*rcv = accept(l, NULL, NULL);
	if (*rcv < 0)
		itest_die("accept");
	close(l);
}

/* One memcached-shaped reply of round's content, LEN bytes in all: the
 * header written now, the buffer's bytes after the header's, END. */
static int send_reply(struct stream *st, const char *buf, unsigned round)
{
	struct iovec v[3] = { { st->hdr, HDR },
			      { (char *)buf + HDR, LEN - HDR - END_LEN },
			      { (char *)end_line, END_LEN } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };
	size_t left = LEN;

	for (size_t j = 0; j < HDR; j++)
		st->hdr[j] = (char)itest_pat(round, j);
	while (left) {
		ssize_t r = sendmsg(st->snd, &m, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		left -= (size_t)r;
		while (r > 0) {   /* (a partial send: on from where it stopped) */
			size_t l = m.msg_iov->iov_len < (size_t)r ? m.msg_iov->iov_len : (size_t)r;

			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + l;
			m.msg_iov->iov_len -= l;
			r -= (ssize_t)l;
			if (!m.msg_iov->iov_len) {
				m.msg_iov++;
				m.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Let the receiver read everything sent so far, and wait until it has. */
static void drain(struct stream *st, size_t sent)
{
	struct timespec ts = { 0, 100000 };

	__atomic_store_n(&st->allowed, sent, __ATOMIC_RELEASE);
	for (int i = 0; i < 100000 && __atomic_load_n(&st->gotlen, __ATOMIC_ACQUIRE) < sent; i++)
		nanosleep(&ts, NULL);
}

static void *sender(void *arg)
{
	struct stream *st = arg;
	int remap = !strcmp(st->mode, "remap");
	size_t sent = 0;

	fill(st->region[0] + st->offset, 0);
	for (unsigned k = 0; k < ROUNDS; k++) {
		/* A buffer written while the
		 * kernel has it is not kept read-only again (the shim expects
		 * the program to rewrite it): each round sends a new one. */
		char *buf = st->region[remap ? 0 : k] + st->offset;

		for (int i = 0; i < SENDS; i++) {
			if (i)
				drain(st, sent);   /* its completion is in before the next send */
			if (st->hdr ? send_reply(st, buf, k) : itest_send_all(st->snd, buf, LEN))
				itest_die("send");
			sent += LEN;
		}
		if (remap) {
			/* New memory at the same address: what was kept there
			 * is gone, and the next sends must read the new. */
			if (munmap(st->region[0], REGION) ||
			    mmap(st->region[0], REGION, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != st->region[0])
				itest_die("remap");
			fill(buf, k + 1);
		} else {
			if (!strcmp(st->mode, "close") && k + 1 == ROUNDS) {
				close(st->snd);   /* the kernel still sends what is queued */
				st->snd = -1;
			}
			memset(buf, 0xEE, LEN);   /* the program reuses its buffer */
			if (st->hdr)
				memset(st->hdr, 0xEE, HDR);   /* and its header's */
			if (k + 1 < ROUNDS)
				fill(st->region[k + 1] + st->offset, k + 1);
		}
		drain(st, sent);
	}
	__atomic_store_n(&st->allowed, (size_t)-1, __ATOMIC_RELEASE);
	return NULL;
}

static size_t verify(const struct stream *st)
{
	size_t want = (size_t)ROUNDS * SENDS * LEN, bad = 0;

	if (st->gotlen != want) {
		fprintf(stderr, "kept: received %zu bytes, expected %zu\n", st->gotlen, want);
		bad++;
	}
	for (size_t p = 0; p < st->gotlen && p < want; p++) {
		unsigned m = (unsigned)(p / LEN);
		size_t o = p % LEN;
		unsigned char e = st->hdr && o >= LEN - END_LEN ? (unsigned char)end_line[o - (LEN - END_LEN)]
								 : itest_pat(m / SENDS, o);

		if ((unsigned char)st->got[p] != e) {
			if (!bad++)
				fprintf(stderr, "kept: byte %zu (round %u, send %u, offset %zu) is 0x%02x, expected 0x%02x\n",
					p, m / SENDS, m % SENDS, p % LEN, st->got[p], e);
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "overwrite";
	int n = !strcmp(mode, "threads") ? 2 : 1;
	struct stream st[2];
	pthread_t t[2];
	size_t bad = 0;

	if (strcmp(mode, "overwrite") && strcmp(mode, "reply") && strcmp(mode, "remap") &&
	    strcmp(mode, "threads") && strcmp(mode, "close")) {
		fprintf(stderr, "usage: kept overwrite|reply|remap|threads|close [OFFSET]\n");
		return 2;
	}
	memset(st, 0, sizeof st);
	for (int i = 0; i < n; i++) {
		st[i].mode = mode;
		if (!strcmp(mode, "reply") && !(st[i].hdr = malloc(HDR)))
			itest_die("malloc");
		st[i].offset = argc > 2 ? strtoul(argv[2], NULL, 10) % 4096 : 0;
		for (int k = 0; k < ROUNDS; k++)
			st[i].region[k] = itest_pages(REGION);
		narrow_pair(&st[i].snd, &st[i].rcv);
		if (pthread_create(&st[i].rx, NULL, gated_rx, &st[i]))
			itest_die("pthread_create");
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, sender, &st[i]))
			itest_die("pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	itest_dump_stats();
	for (int i = 0; i < n; i++) {
		if (st[i].snd >= 0)
			close(st[i].snd);
		pthread_join(st[i].rx, NULL);
		bad += verify(&st[i]);
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
