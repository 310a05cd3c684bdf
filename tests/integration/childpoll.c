/*
 * childpoll - Description: a child polls a socket it inherited while its
 * parent's zerocopy completions arrive on it.
 *
 * The child shares the socket, and so its error queue, with the parent.
 * Without the shim there would be no notifications at all: the child's
 * poll must never report POLLERR. The parent must lose nothing but time:
 * its rewrite of the buffer in flight must not reach the wire, and its own
 * poll must not report POLLERR either.
 *
 *   childpoll MODE            MODE: fork _fork exec epoll (a fork child
 *                             waiting in epoll_wait)
 *   childpoll --poller FD MS  (exec's child: poll FD for MS milliseconds)
 */
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSGLEN (256 * 1024)
#define POLL_MS 1500

pid_t _Fork(void);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Poll fd for ms milliseconds, as an event loop would: 0 if it never
 * reports an error. */
static int poller(int fd, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	int calls = 0;

	for (uint64_t t; (t = now_ms()) < end;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(end - t));

		calls++;
		if (r < 0 && errno != EINTR)
			return 2;
		if (r > 0 && (p.revents & (POLLERR | POLLIN))) {
			fprintf(stderr, "childpoll: the child's poll reports revents %#x "
				"(call %d, %u ms in)\n", p.revents, calls,
				(unsigned)(ms - (end - now_ms())));
			return 1;
		}
	}
	return 0;
}

/* Under the shim: the child's stats line says it read its parent's
 * notifications (so the test cannot pass because none came). */
static int child_read_theirs(pid_t pid, const char *mode)
{
	const char *path = getenv("ZCSHIM_STATS_FILE"), *pre = getenv("LD_PRELOAD");
	char line[8192], key[64];
	int ok = 0;
	FILE *f;

	if (!path || !pre || !strstr(pre, "libzcshim"))
		return 1;
	snprintf(key, sizeof key, "{\"pid\":%d,", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)))
			ok = strstr(line, "\"inherited_notifications\":0") == NULL &&
			     strstr(line, "\"inherited_notifications\":") != NULL;
	fclose(f);
	if (!ok)
		fprintf(stderr, "childpoll %s: the child's stats line does not show the "
			"parent's notifications read\n", mode);
	return ok;
}

/* The same with epoll, level-triggered, the socket's data a tag. */
static int epoller(int fd, unsigned ms)
{
	struct epoll_event ev = { EPOLLIN, { .u64 = 0x5eed } };
	uint64_t end = now_ms() + ms;
	int ep = epoll_create1(0);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return 2;
	for (uint64_t t; (t = now_ms()) < end;) {
		int r = epoll_wait(ep, &ev, 1, (int)(end - t));

		if (r < 0 && errno != EINTR)
			return 2;
		if (r > 0) {
			fprintf(stderr, "childpoll: the child's epoll_wait reports events %#x "
				"(data %#llx)\n", ev.events, (unsigned long long)ev.data.u64);
			return 1;
		}
	}
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	const char *mode;
	struct pollfd p;
	int s, r, status, bad = 0;
	pid_t pid;

	if (argc == 4 && !strcmp(argv[1], "--poller")) {
		r = poller(atoi(argv[2]), (unsigned)atoi(argv[3]));
		itest_dump_stats();
		return r;
	}
	if (argc != 2)
		return ITEST_ERROR;
	mode = argv[1];
	buf = (unsigned char *)itest_pages(MSGLEN + 8192) + 5;
	itest_tcp_pair(&s, &r);
	/* Starts reading once the child polls: the completions come then. */
	rx = itest_receiver_start(r, 300);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");

	if (!strcmp(mode, "_fork"))
		pid = _Fork();
	else
		pid = fork();
	if (pid == 0) {
		if (!strcmp(mode, "exec")) {
			char fdarg[16], msarg[16];

			snprintf(fdarg, sizeof fdarg, "%d", s);
			snprintf(msarg, sizeof msarg, "%d", POLL_MS);
			/* argv[0], not /proc/self/exe (valgrind's, under it) */
			execl(argv[0], "childpoll", "--poller", fdarg, msarg, (char *)NULL);
			_exit(2);
		}
		r = !strcmp(mode, "epoll") ? epoller(s, POLL_MS) : poller(s, POLL_MS);
		if (getenv("ZCSHIM_STATS_FILE"))
			kill(getpid(), SIGUSR1);   /* its own stats line */
		_exit(r);
	}
	/* The parent stays out of the shim meanwhile: its completions wait
	 * on the socket's error queue, where the child's poll sees them. */
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fprintf(stderr, "childpoll %s: no child\n", mode);
		return ITEST_ERROR;
	}
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "childpoll %s: the child saw an error condition (exit %d)\n", mode,
			WEXITSTATUS(status));
		bad = 1;
	}
	if (!child_read_theirs(pid, mode))
		bad = 1;
	/* Still the parent's guard: message 0 was read, but the shim may
	 * not know (the child read its notifications): it must wait, not
	 * release on a guess. Then message 1, rewritten in flight. */
	memset(buf, 0xEE, MSGLEN);
	itest_fill(buf, MSGLEN, 1);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	itest_wait_received(rx, 2 * (size_t)MSGLEN);
	{
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
	p.fd = s;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) < 0 || (p.revents & POLLERR)) {
		fprintf(stderr, "childpoll %s: the parent's poll reports POLLERR (revents %#x)\n",
			mode, p.revents);
		bad = 1;
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, 2, MSGLEN))
		bad = 1;
	free(got);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
