/*
 * livesend.c - a sender whose live stats page the tests read (livestats.sh).
 *
 *   livesend N SECS           N sends of 64 KiB, print "pid P", stay SECS
 *   livesend N SECS fork      then fork: the child sends 2N on its own
 *   livesend N SECS _fork     socket, prints "child C", stays SECS and
 *                             exits; _fork: with _Fork (no fork handlers)
 *   livesend 0 SECS loop      send for SECS seconds, then exit
 *   livesend N SECS _exit     as the first, then _exit (no exit mark)
 *   livesend N 0 forks        N children one after the other, each
 *                             exiting at once (the directory's bound)
 *   livesend N SECS _forkalloc  N malloc(40000)s (aligned_allocs, with
 *                             ZCSHIM_ALIGN=1), then a _Fork child makes 5
 *                             more and _exits before any other call into
 *                             the shim; prints "parent P", stays SECS
 *
 * Each process prints its line after its sends went out, so the test reads
 * the page knowing what it must hold.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t _Fork(void);

#define MSG (64u * 1024u)

static void *drain(void *arg)
{
	static char buf[1 << 16];
	int fd = *(int *)arg;

	while (read(fd, buf, sizeof buf) > 0)
		;
	return NULL;
}

/* Send n messages (or for secs seconds if n is 0) on a fresh TCP pair. */
static void send_some(unsigned n, double secs)
{
	unsigned char *buf = itest_pages(MSG);
	struct timespec t0, t;
	pthread_t th;
	int snd, rcv;

	itest_tcp_pair(&snd, &rcv);
	if (pthread_create(&th, NULL, drain, &rcv))
		itest_die("pthread_create");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0;; i++) {
		if (n && i == n)
			break;
		if (!n) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > secs)
				break;
		}
		itest_fill(buf, MSG, i);
		if (itest_send_all(snd, buf, MSG))
			itest_die("send");
	}
	shutdown(snd, SHUT_WR);
	pthread_join(th, NULL);
	close(snd);
	close(rcv);
}

static void say(const char *what)
{
	printf("%s %d\n", what, (int)getpid());
	fflush(stdout);
}

static void stay(double secs)
{
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	unsigned n;
	double secs;
	const char *mode = argc > 3 ? argv[3] : "";
	pid_t c;

	if (argc < 3) {
		fprintf(stderr, "usage: livesend N SECS [fork|_fork|loop|_exit]\n");
		return 2;
	}
	n = (unsigned)atoi(argv[1]);
	secs = atof(argv[2]);
	if (!strcmp(mode, "_forkalloc")) {
		for (unsigned i = 0; i < n; i++)
			if (!malloc(40000))
				itest_die("malloc");
		c = _Fork();
		if (c < 0)
			itest_die("_Fork");
		if (c == 0) {
			for (int i = 0; i < 5; i++)
				if (!malloc(40000))
					_exit(1);
			_exit(0);
		}
		if (waitpid(c, NULL, 0) != c)
			itest_die("waitpid");
		say("parent");
		stay(secs);
		return 0;
	}
	if (!strcmp(mode, "forks")) {
		for (unsigned i = 0; i < n; i++) {
			c = fork();
			if (c < 0)
				itest_die("fork");
			if (c == 0)
				exit(0);
			if (waitpid(c, NULL, 0) != c)
				itest_die("waitpid");
		}
		say("pid");
		return 0;
	}
	if (!strcmp(mode, "loop")) {
		say("pid");
		send_some(0, secs);
		return 0;
	}
	send_some(n, 0);
	if (strcmp(mode, "fork") && strcmp(mode, "_fork")) {
		say("pid");
		stay(secs);
		if (!strcmp(mode, "_exit"))
			_exit(0);
		return 0;
	}
	c = !strcmp(mode, "fork") ? fork() : _Fork();
	if (c < 0)
		itest_die("fork");
	if (c == 0) {
		send_some(2 * n, 0);
		say("child");
		stay(secs);
		exit(0);
	}
	say("parent");
	if (waitpid(c, NULL, 0) != c)
		itest_die("waitpid");
	stay(secs);
	return 0;
}
