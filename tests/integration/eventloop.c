/*
 * eventloop - Description: an event loop that knows nothing of zerocopy
 * must not see its notifications.
 *
 * usage: eventloop poll|ppoll|select|epoll|epollet
 * After large sends whose completions are pending on the socket's error
 * queue (a raw ppoll system call, which the shim does not see, must find
 * POLLERR on the socket just before: else the wait would prove nothing),
 * waiting for input on the (idle) socket must time out with no
 * error reported; the program's own recvmsg(MSG_ERRQUEUE) finds nothing;
 * getsockopt(SO_ERROR) is 0. Then the peer resets the connection: that
 * error must be reported.
 */
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NMSG 4
#define MSGLEN (128 * 1024)

/* Wait for input on fd for ms; returns the events seen (0: timed out). */
static int wait_in(const char *how, int fd, int ms)
{
	if (!strcmp(how, "poll") || !strcmp(how, "ppoll")) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		int r = !strcmp(how, "poll") ? poll(&p, 1, ms) : ppoll(&p, 1, &ts, NULL);

		return r > 0 ? p.revents : r;
	}
	if (!strcmp(how, "select")) {
		fd_set rd;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		int r;

		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		r = select(fd + 1, &rd, NULL, NULL, &tv);
		return r > 0 ? POLLIN : r;
	} else {
		int ep = epoll_create1(0), r;
		struct epoll_event ev = { EPOLLIN, { .u64 = 0xfeedull } }, out;

		if (!strcmp(how, "epollet"))
			ev.events |= EPOLLET;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		r = epoll_wait(ep, &out, 1, ms);
		close(ep);
		if (r > 0 && out.data.u64 != 0xfeedull)
			return -2;
		return r > 0 ? (int)out.events : r;
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "poll";
	char *buf = itest_pages(MSGLEN);
	struct itest_rx *rx;
	struct linger lg = { 1, 0 };
	char ctl[256];
	struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof ctl };
	socklen_t el = sizeof(int);
	int s, r, ev, err = -1, bad = 0;
	double t0, waited;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 0);
	for (unsigned i = 0; i < NMSG; i++) {
		itest_fill(buf, MSGLEN, i);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
	}
	itest_wait_received(rx, (size_t)NMSG * MSGLEN);
	{
		/* Until the completions are queued (the kernel's own wait, not
		 * the shim's: a loaded machine queues them late). */
		struct pollfd p = { s, 0, 0 };
		struct timespec most = { 5, 0 };

		syscall(SYS_ppoll, &p, 1, &most, NULL, (size_t)8);
	}

	/* The control: the kernel reports an error condition on the socket
	 * right now (the notifications), as the program's wait begins. */
	{
		struct pollfd p = { s, 0, 0 };
		struct timespec zero = { 0, 0 };

		if (syscall(SYS_ppoll, &p, 1, &zero, NULL, (size_t)8) != 1 ||
		    !(p.revents & POLLERR)) {
			fprintf(stderr,
				"eventloop %s: no error condition pending before the wait (%#x): nothing to hide\n",
				how, p.revents);
			return ITEST_ERROR;
		}
	}
	t0 = now_ms();
	ev = wait_in(how, s, 300);
	waited = now_ms() - t0;
	if (ev != 0) {
		fprintf(stderr, "eventloop %s: an idle socket reported events %#x after %.0f ms\n",
			how, ev, waited);
		bad = 1;
	} else if (waited < 250) {
		fprintf(stderr, "eventloop %s: timed out after %.0f ms, not 300\n", how, waited);
		bad = 1;
	}
	if (recvmsg(s, &m, MSG_ERRQUEUE) != -1 || errno != EAGAIN) {
		fprintf(stderr, "eventloop: the program's error queue read found something\n");
		bad = 1;
	}
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) || err != 0) {
		fprintf(stderr, "eventloop: SO_ERROR is %d\n", err);
		bad = 1;
	}

	/* A real error: the peer resets the connection. */
	shutdown(r, SHUT_RD);             /* the reader thread sees end-of-file */
	itest_receiver_join(rx, &(size_t){ 0 });
	setsockopt(r, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(r);                         /* linger 0: a reset */
	usleep(20000);
	ev = wait_in(how, s, 2000);
	if (ev <= 0 || (strcmp(how, "select") && !(ev & (POLLERR | POLLHUP)))) {
		fprintf(stderr, "eventloop %s: the peer's reset was not reported (%#x)\n", how, ev);
		bad = 1;
	}
	itest_dump_stats();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
