/*
 * threads16 - Description: 16 threads, each with its own connection,
 * sending from buffers they share: each thread sends its slice of a
 * common arena, then writes over the slice of the next thread. Every
 * stream must arrive intact.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NT 16
#define NMSG 6
#define MSGLEN (64 * 1024 + 4097)

static char *arena;
static int socks[NT];
static pthread_barrier_t bar;

static char *slice(int i)
{
	return arena + (size_t)i * (MSGLEN + 8192) + 100;
}

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (unsigned m = 0; m < NMSG; m++) {
		itest_fill(slice(me), MSGLEN, m + 10u * (unsigned)me);
		if (itest_send_all(socks[me], slice(me), MSGLEN))
			itest_die("send");
		pthread_barrier_wait(&bar);
		memset(slice((me + 1) % NT), 0xA0 + me, MSGLEN);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

int main(void)
{
	struct itest_rx *rx[NT];
	pthread_t t[NT];
	int rcv, bad = 0;

	arena = itest_pages((size_t)NT * (MSGLEN + 8192));
	pthread_barrier_init(&bar, NULL, NT);
	for (int i = 0; i < NT; i++) {
		itest_tcp_pair(&socks[i], &rcv);
		rx[i] = itest_receiver_start(rcv, 300);
	}
	for (int i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	itest_dump_stats();
	for (int i = 0; i < NT; i++) {
		unsigned char *got;
		size_t len;

		close(socks[i]);
		got = itest_receiver_join(rx[i], &len);
		if (len != (size_t)NMSG * MSGLEN)
			bad = 1;
		for (size_t p = 0; p < len && !bad; p++)
			if (got[p] != itest_pat((unsigned)(p / MSGLEN) + 10u * (unsigned)i, p % MSGLEN)) {
				fprintf(stderr, "threads16: stream %d byte %zu changed\n", i, p);
				bad = 1;
			}
		free(got);
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
