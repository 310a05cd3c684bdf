/*
 * cachefree - a cache's object lives: a buffer is filled once, sent many
 * times, freed, and the next object the allocator puts at the same
 * address goes the same way (varnish's malloc storage after a purge or an
 * eviction). Every byte the receiver gets is checked; the shell side
 * checks from the stats that the later lives still go out with zerocopy
 * (a free is no rewrite of the buffer: zc_policy_hot_freed).
 *
 * usage: cachefree LIVES SENDS
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

int main(int argc, char **argv)
{
	unsigned lives = argc > 2 ? (unsigned)atoi(argv[1]) : 8;
	unsigned sends = argc > 2 ? (unsigned)atoi(argv[2]) : 100;
	uintptr_t addr[64];
	unsigned distinct = 0;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen, bad = 0;
	int s, r;

	/* Blocks from the heap, not mmap: a freed block goes back to the
	 * top of the heap and the next one of its size starts there again. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (itest_tcp_pair(&s, &r))
		return ITEST_ERROR;
	rx = itest_receiver_start(r, 0);
	for (unsigned l = 0; l < lives; l++) {
		unsigned char *p = malloc(SIZE);

		if (!p)
			itest_die("malloc");
		/* (A block freed with sends in flight waits in the shim's
		 * quarantine: the next one may land elsewhere meanwhile.) */
		unsigned k = 0;

		while (k < distinct && addr[k] != (uintptr_t)p)
			k++;
		if (k == distinct && distinct < 64)
			addr[distinct++] = (uintptr_t)p;
		itest_fill(p, SIZE, l);
		for (unsigned i = 0; i < sends; i++)
			if (itest_send_all(s, p, SIZE))
				itest_die("send");
		free(p);
	}
	shutdown(s, SHUT_WR);
	got = itest_receiver_join(rx, &gotlen);
	if (gotlen != (size_t)lives * sends * SIZE) {
		fprintf(stderr, "cachefree: %zu bytes arrived, want %zu\n", gotlen,
			(size_t)lives * sends * SIZE);
		return ITEST_CORRUPT;
	}
	for (size_t k = 0; k < gotlen; k++)
		if (got[k] != itest_pat((unsigned)(k / ((size_t)sends * SIZE)), k % SIZE) && !bad++)
			fprintf(stderr, "cachefree: byte %zu changed\n", k);
	itest_dump_stats();
	if (bad)
		return ITEST_CORRUPT;
	fprintf(stderr, "cachefree: %u lives at %u addresses\n", lives, distinct);
	if (distinct * 2 > lives)
		return ITEST_SKIP;   /* too few lives at an address before */
	return ITEST_OK;
}
