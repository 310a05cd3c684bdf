/*
 * oneshot - Description: a one-shot epoll registration (EPOLLONESHOT) on a
 * socket the shim sends zerocopy on still reports the program's events.
 *
 * The program sends, then waits for the peer's reply with EPOLLIN |
 * EPOLLONESHOT. The completions of its sends arrive during the wait: the
 * kernel reports them (EPOLLERR), which uses up the one shot; the shim
 * hides that report. The reply must still be reported, with the program's
 * data, and only once (the program's one shot is then used up: a second
 * wait sees nothing, although the reply is still unread).
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NMSG 8
#define MSGLEN (128 * 1024)
#define DATA 0x0e5b07ull

static struct itest_rx *rx;
static int peer;

/* The peer's reply, once it has read everything and the completions are
 * back on the sender's error queue. */
static void *replier(void *arg)
{
	(void)arg;
	itest_wait_received(rx, (size_t)NMSG * MSGLEN);
	usleep(300000);
	if (write(peer, "r", 1) != 1)
		itest_die("reply");
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void)
{
	char *buf = itest_pages(MSGLEN);
	struct epoll_event ev = { EPOLLIN | EPOLLONESHOT, { .u64 = DATA } }, out[4];
	unsigned char *got;
	pthread_t t;
	size_t len;
	int s, ep, r, bad = 0, seen = 0;
	double t0;
	char c;

	itest_tcp_pair(&s, &peer);
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev))
		itest_die("epoll");
	/* The reader starts late: the completions come while the program
	 * waits below. */
	rx = itest_receiver_start(peer, 100);
	for (unsigned i = 0; i < NMSG; i++) {
		itest_fill(buf, MSGLEN, i);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
	}
	pthread_create(&t, NULL, replier, NULL);
	t0 = now_ms();
	while (!seen && now_ms() - t0 < 5000) {
		r = epoll_wait(ep, out, 4, 5000 - (int)(now_ms() - t0));
		if (r < 0 && errno != EINTR)
			itest_die("epoll_wait");
		for (int i = 0; i < r; i++) {
			if (out[i].data.u64 != DATA || (out[i].events & EPOLLERR)) {
				fprintf(stderr, "oneshot: reported events %#x data %#llx\n",
					out[i].events, (unsigned long long)out[i].data.u64);
				bad = 1;
			}
			if (out[i].events & EPOLLIN)
				seen = 1;
		}
	}
	pthread_join(t, NULL);
	if (!seen) {
		fprintf(stderr, "oneshot: the peer's reply was never reported (%.0f ms)\n",
			now_ms() - t0);
		bad = 1;
	} else if ((r = epoll_wait(ep, out, 4, 200)) != 0) {
		fprintf(stderr, "oneshot: %d more reports after the one shot (events %#x)\n", r,
			r > 0 ? out[0].events : 0);
		bad = 1;
	}
	if (read(s, &c, 1) != 1 || c != 'r') {
		fprintf(stderr, "oneshot: the reply is not there\n");
		bad = 1;
	}
	itest_dump_stats();
	shutdown(s, SHUT_WR);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, NMSG, MSGLEN))
		bad = 1;
	close(s);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
