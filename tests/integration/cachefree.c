/*
 * cachefree - a cache's object lives: a buffer is filled once, sent many
 * times, freed, and the next object the allocator puts at the same
 * address goes the same way (varnish's malloc storage after a purge or an
 * eviction). Every byte the receiver gets is checked; the shell side
 * checks from the stats that the later lives still go out with zerocopy
 * (a free is no rewrite of the buffer: zc_policy_hot_freed).
 *
 * usage: cachefree LIVES SENDS [TRANSIENT]
 * TRANSIENT objects sent once each come first (a cache's uncacheable
 * replies), which make the addresses hot before the cached objects.
 * Exit 0 intact, 1 corruption, 2 error, 77 the allocator put most objects
 * at new addresses (the test would show nothing).
 */
#include "common.h"

#include <malloc.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE (256u << 10)

/* Sends of life l: the transient objects first, one send each. */
static unsigned sends_of(unsigned l, unsigned transient, unsigned sends)
{
	return l < transient ? 1 : sends;
}

int main(int argc, char **argv)
{
	unsigned lives = argc > 2 ? (unsigned)atoi(argv[1]) : 8;
	unsigned sends = argc > 2 ? (unsigned)atoi(argv[2]) : 100;
	unsigned transient = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	uintptr_t addr[64];
	unsigned distinct = 0, total = lives + transient;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen, want = 0, off = 0, bad = 0;
	int s, r;

	/* Blocks from the heap, not mmap: a freed block goes back to the
	 * top of the heap and the next one of its size starts there again. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (itest_tcp_pair(&s, &r))
		return ITEST_ERROR;
	rx = itest_receiver_start(r, 0);
	for (unsigned l = 0; l < total; l++) {
		unsigned char *p = malloc(SIZE);
		unsigned k = 0;

		if (!p)
			itest_die("malloc");
		/* (A block freed with sends in flight waits in the shim's
		 * quarantine: the next one may land elsewhere meanwhile.) */
		while (k < distinct && addr[k] != (uintptr_t)p)
			k++;
		if (k == distinct && distinct < 64)
			addr[distinct++] = (uintptr_t)p;
		itest_fill(p, SIZE, l);
		for (unsigned i = 0; i < sends_of(l, transient, sends); i++)
			if (itest_send_all(s, p, SIZE))
				itest_die("send");
		want += (size_t)sends_of(l, transient, sends) * SIZE;
		free(p);
	}
	shutdown(s, SHUT_WR);
	got = itest_receiver_join(rx, &gotlen);
	if (gotlen != want) {
		fprintf(stderr, "cachefree: %zu bytes arrived, want %zu\n", gotlen, want);
		return ITEST_CORRUPT;
	}
	for (unsigned l = 0; l < total; l++)
		for (unsigned i = 0; i < sends_of(l, transient, sends); i++, off += SIZE)
			for (size_t j = 0; j < SIZE; j++)
				if (got[off + j] != itest_pat(l, j) && !bad++)
					fprintf(stderr, "cachefree: life %u, send %u, byte %zu changed\n",
						l, i, j);
	itest_dump_stats();
	if (bad)
		return ITEST_CORRUPT;
	fprintf(stderr, "cachefree: %u lives at %u addresses\n", total, distinct);
	if (distinct * 2 > total)
		return ITEST_SKIP;   /* too few lives at an address before */
	return ITEST_OK;
}
