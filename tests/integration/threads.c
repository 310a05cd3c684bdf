/*
 * threads - Description: two threads, each writing into the buffer the
 * other thread has just sent, over and over.
 *
 * Any thread may write to a page another thread sent: the fault lands in
 * the writing thread, whose handler must find and wait for the other
 * thread's socket. Without the guard the writes reach the wire.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NMSG 10
#define MSGLEN (128 * 1024 + 999)

static pthread_barrier_t bar;
static char *bufs[2];
static int socks[2];

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg, other = !me;

	for (unsigned m = 0; m < NMSG; m++) {
		itest_fill(bufs[me], MSGLEN, m + 50u * (unsigned)me);
		if (itest_send_all(socks[me], bufs[me], MSGLEN))
			itest_die("send");
		pthread_barrier_wait(&bar);
		/* Scribble over what the other thread just sent. */
		memset(bufs[other], 0x5A + me, MSGLEN);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

int main(void)
{
	struct itest_rx *rx[2];
	pthread_t t[2];
	int rcv[2], bad = 0;

	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		bufs[i] = (char *)itest_pages(MSGLEN + 8192) + 64 + 1000 * i;
		itest_tcp_pair(&socks[i], &rcv[i]);
		rx[i] = itest_receiver_start(rcv[i], 200);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	itest_dump_stats();
	for (int i = 0; i < 2; i++) {
		unsigned char *got;
		size_t len;

		close(socks[i]);
		got = itest_receiver_join(rx[i], &len);
		/* Stream i carries messages 50*i .. 50*i+NMSG-1. */
		for (size_t p = 0; p < len && p < (size_t)NMSG * MSGLEN; p++)
			if (got[p] != itest_pat((unsigned)(p / MSGLEN) + 50u * (unsigned)i, p % MSGLEN)) {
				fprintf(stderr, "threads: stream %d byte %zu changed\n", i, p);
				bad = 1;
				break;
			}
		if (len != (size_t)NMSG * MSGLEN) {
			fprintf(stderr, "threads: stream %d got %zu bytes\n", i, len);
			bad = 1;
		}
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
