/*
 * faults - Description: fault injection with data in flight. Each mode
 * must end with every byte intact (or, for the reset, with the error the
 * kernel gives without the shim), no hang and no crash.
 *
 * usage: faults MODE
 *   reset     the peer resets the connection while data is in flight; the
 *             sender then overwrites its buffer and sends again: it gets
 *             the kernel's ECONNRESET or EPIPE, nothing else, and no stall
 *             longer than the bounded one
 *   shutdown  shutdown(SHUT_WR) right after sending, then overwrite: the
 *             peer gets every byte, then end-of-file
 *   exit      a child connects, sends, overwrites and exits at once: the peer gets
 *             every byte
 *   nofile    no file descriptor left (RLIMIT_NOFILE reached): sends from
 *             new memory, the stats dump and the guard all still work or
 *             step aside
 *   mapcount  the process's mappings reach vm.max_map_count after a send:
 *             the copy-on-write of a late write is impossible, so the write
 *             waits for the completion instead
 *   maplimit  5000 sends while no mapping can be split (every guard fails
 *             and the send is copied), then the mappings freed: the next
 *             send goes out with zerocopy again (nothing leaked meanwhile)
 *   storm     three threads send and overwrite while a fourth sends the
 *             stats signal 3000 times
 *   forkfault one thread keeps writing into buffers in flight (the fault
 *             handler at work) while another forks and reaps children
 *   forkinhandler
 *             exactly that, made certain: the writer is seen waiting inside
 *             the fault handler (in its ppoll, with ZCSHIM_STALL_US long)
 *             when the other thread forks; the child finds the bytes in
 *             flight unchanged, writes its own copy of the buffer freely
 *             and exits; the parent's write then completes, nothing lost
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#define MSGLEN (200 * 1024 + 7)

/* Join the receiver and check what it got: nmsg messages. */
static int check(struct itest_rx *rx, unsigned nmsg)
{
	size_t len;
	unsigned char *got = itest_receiver_join(rx, &len);
	int bad = itest_verify(got, len, nmsg, MSGLEN) != 0;

	free(got);
	return bad;
}

static int mode_reset(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 11;
	struct linger lg = { 1, 0 };
	struct timespec t0, t1;
	int s, r, e = 0;
	ssize_t n;

	signal(SIGPIPE, SIG_IGN);
	itest_tcp_pair(&s, &r);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	setsockopt(r, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(r);                        /* unread data: a reset */
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(buf, 0xEE, MSGLEN);       /* in flight until the reset freed it */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < 4 && e == 0; i++) {
		n = send(s, buf, MSGLEN, 0);
		if (n < 0)
			e = errno;
	}
	if (e != ECONNRESET && e != EPIPE) {
		fprintf(stderr, "faults reset: send after the reset: %s (want ECONNRESET or EPIPE)\n",
			strerror(e));
		return ITEST_CORRUPT;
	}
	if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 1000) {
		fprintf(stderr, "faults reset: the overwrite waited over a second\n");
		return ITEST_CORRUPT;
	}
	close(s);
	/* The corruption check of this mode: a second connection. */
	{
		struct itest_rx *rx;
		itest_tcp_pair(&s, &r);
		rx = itest_receiver_start(r, 150);
		itest_fill(buf, MSGLEN, 0);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		memset(buf, 0xEE, MSGLEN);
		itest_dump_stats();
		close(s);
		return check(rx, 1) ? ITEST_CORRUPT : ITEST_OK;
	}
}

static int mode_shutdown(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 5;
	struct itest_rx *rx;
	int s, r;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	if (shutdown(s, SHUT_WR))
		itest_die("shutdown");
	memset(buf, 0xEE, MSGLEN);
	itest_dump_stats();
	r = check(rx, 1);   /* the reader stops at end-of-file */
	close(s);
	return r ? ITEST_CORRUPT : ITEST_OK;
}

/* The child connects a socket of its own: a socket inherited at fork is
 * never sent with zerocopy in the child (the parent could send on it too). */
static int mode_exit(void)
{
	struct sockaddr_in a;
	struct itest_rx *rx;
	int l = itest_listen(&a), s, r, status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		char *buf = (char *)itest_pages(MSGLEN + 8192) + 3;

		close(l);
		s = itest_connect(&a);
		if (s < 0)
			_exit(2);
		itest_fill(buf, MSGLEN, 0);
		if (itest_send_all(s, buf, MSGLEN))
			_exit(2);
		memset(buf, 0xEE, MSGLEN);
		itest_dump_stats();
		_exit(0);                /* with the data still in flight */
	}
	r = accept(l, NULL, NULL);
	if (r < 0)
		itest_die("accept");
	close(l);
	rx = itest_receiver_start(r, 200);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return ITEST_ERROR;
	return check(rx, 1) ? ITEST_CORRUPT : ITEST_OK;
}

static int mode_nofile(void)
{
	struct rlimit rl;
	struct itest_rx *rx;
	int s, r, fd, ndup = 0, dups[1024];

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	/* Use up every descriptor. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 64;
	setrlimit(RLIMIT_NOFILE, &rl);
	while (ndup < 1024 && (fd = dup(0)) >= 0)
		dups[ndup++] = fd;
	for (unsigned m = 0; m < 3; m++) {
		/* New memory each time: the shim's look at /proc/self/maps
		 * needs a descriptor it cannot get. */
		char *buf = (char *)itest_pages(MSGLEN + 8192) + 9;

		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send with no descriptor left");
		memset(buf, 0xEE, MSGLEN);
	}
	itest_dump_stats();              /* cannot open its file: reported, survives */
	while (ndup)
		close(dups[--ndup]);
	itest_dump_stats();              /* and now it can */
	close(s);
	return check(rx, 3) ? ITEST_CORRUPT : ITEST_OK;
}

static int mode_mapcount(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 21;
	struct itest_rx *rx;
	size_t n = 0, cap = 1 << 17;
	char **maps = calloc(cap, sizeof *maps);
	int s, r;

	itest_tcp_pair(&s, &r);
	/* The reader waits 2 s: filling the mapping table below took more
	 * than 400 ms on a loaded machine, and a reader that had drained the
	 * bytes by then left the unguarded run nothing to corrupt. */
	rx = itest_receiver_start(r, 2000);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	/* Now fill the mapping table: single pages, alternately read-only
	 * and read-write so that none merge. */
	while (n < cap) {
		char *p = mmap(NULL, 4096, n % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		maps[n++] = p;
	}
	memset(buf, 0xEE, MSGLEN);       /* no copy possible: waits for the reader */
	while (n)
		munmap(maps[--n], 4096);
	free(maps);
	itest_dump_stats();
	close(s);
	return check(rx, 1) ? ITEST_CORRUPT : ITEST_OK;
}

static int mode_maplimit(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	size_t n = 0, cap = 1 << 17;
	char **maps = calloc(cap, sizeof *maps);
	/* Guarded pages in the middle of a mapping: protecting them splits it. */
	char *region = itest_pages(64 * 1024), *buf = region + 4096;
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rx, (struct sockaddr *)&a, sizeof a) || getsockname(rx, (struct sockaddr *)&a, &alen) ||
	    connect(tx, (struct sockaddr *)&a, sizeof a))
		itest_die("udp");
	memset(region, 1, 64 * 1024);
	while (n < cap) {
		char *p = mmap(NULL, 4096, n % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		maps[n++] = p;
	}
	for (int i = 0; i < 5000; i++)
		if (send(tx, buf, 32 * 1024, 0) != 32 * 1024)
			itest_die("send with no mapping left");
	while (n)
		munmap(maps[--n], 4096);
	free(maps);
	for (int i = 0; i < 3; i++)
		if (send(tx, buf, 32 * 1024, 0) != 32 * 1024)
			itest_die("send");
	itest_dump_stats();
	return ITEST_OK;
}

static volatile int stop;
static int socks[3];

static void *storm_sender(void *arg)
{
	int me = (int)(intptr_t)arg;
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 100 * me;

	for (unsigned m = 0; m < 6; m++) {
		itest_fill(buf, MSGLEN, m + 10u * (unsigned)me);
		if (itest_send_all(socks[me], buf, MSGLEN))
			itest_die("send");
		memset(buf, 0xEE, MSGLEN);
	}
	return NULL;
}

static void *storm_signaller(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3000 && !stop; i++)
		kill(getpid(), SIGUSR1);
	return NULL;
}

static int mode_storm(void)
{
	struct itest_rx *rx[3];
	pthread_t t[3], sig;
	int r, bad = 0;

	for (int i = 0; i < 3; i++) {
		itest_tcp_pair(&socks[i], &r);
		rx[i] = itest_receiver_start(r, 100);
	}
	pthread_create(&sig, NULL, storm_signaller, NULL);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, storm_sender, (void *)(intptr_t)i);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	stop = 1;
	pthread_join(sig, NULL);
	itest_dump_stats();
	for (int i = 0; i < 3; i++) {
		unsigned char *got;
		size_t len;

		close(socks[i]);
		got = itest_receiver_join(rx[i], &len);
		for (size_t p = 0; p < len; p++)
			if (got[p] != itest_pat((unsigned)(p / MSGLEN) + 10u * (unsigned)i, p % MSGLEN)) {
				bad = 1;
				break;
			}
		bad |= len != 6u * MSGLEN;
		free(got);
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}

static void *forker(void *arg)
{
	(void)arg;
	while (!stop) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	return NULL;
}

static int mode_forkfault(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 33;
	struct itest_rx *rx;
	pthread_t t;
	int s, r;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 100);
	pthread_create(&t, NULL, forker, NULL);
	for (unsigned m = 0; m < 12; m++) {
		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		memset(buf, 0xEE, MSGLEN);
	}
	stop = 1;
	pthread_join(t, NULL);
	itest_dump_stats();
	close(s);
	return check(rx, 12) ? ITEST_CORRUPT : ITEST_OK;
}

/*
 * forkinhandler. The writer is the main thread (tid == pid). Inside the
 * fault handler it waits in ppoll for the completion; the program itself
 * never calls ppoll, so seeing the main thread in that syscall
 * (/proc/self/task/TID/syscall) means it is inside the handler.
 */
static char *fh_buf;
static volatile int fh_child_status = -1, fh_seen;

static int in_ppoll(pid_t tid)
{
	char path[64], line[64];
	FILE *f;
	int nr = -1;

	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof line, f))
		sscanf(line, "%d", &nr);
	fclose(f);
	return nr == SYS_ppoll;
}

/* Whether the mapping holding p is writable, per /proc/self/maps. */
static int writable(const void *p)
{
	char line[512], perm[8];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "r");
	int w = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 &&
		    lo <= (unsigned long)p && (unsigned long)p < hi)
			w = perm[1] == 'w';
	fclose(f);
	return w;
}

static void *fh_forker(void *arg)
{
	pid_t writer = getpid(), pid;
	struct timespec ts = { 0, 1000000 };
	int st;

	(void)arg;
	for (int i = 0; i < 5000 && !in_ppoll(writer); i++)
		nanosleep(&ts, NULL);
	if (!in_ppoll(writer))
		return NULL;        /* never saw it: fh_seen stays 0, the test fails */
	fh_seen = 1;
	pid = fork();
	if (pid == 0) {
		/* The child: only this thread exists. Its copy of the buffer
		 * holds message 0 (the parent's write is still waiting); it
		 * is the child's own memory, so writing it must just work. */
		alarm(10);          /* a hang here kills the child: the test fails */
		if (!writable(fh_buf))
			_exit(5);   /* the parent's guard leaked into the child */
		for (size_t j = 0; j < MSGLEN; j++)
			if ((unsigned char)fh_buf[j] != itest_pat(0, j))
				_exit(3);
		memset(fh_buf, 0x55, MSGLEN);
		for (size_t j = 0; j < MSGLEN; j++)
			if ((unsigned char)fh_buf[j] != 0x55)
				_exit(4);
		_exit(0);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid)
		fh_child_status = st;
	return NULL;
}

static int mode_forkinhandler(void)
{
	struct itest_rx *rx;
	pthread_t t;
	int s, r, bad;

	fh_buf = (char *)itest_pages(MSGLEN + 8192) + 4096;
	itest_tcp_pair(&s, &r);
	/* The receiver starts late: until then most of message 0 waits in
	 * the send queue and its completion cannot come. */
	rx = itest_receiver_start(r, 1500);
	itest_fill(fh_buf, MSGLEN, 0);
	if (itest_send_all(s, fh_buf, MSGLEN))
		itest_die("send");
	pthread_create(&t, NULL, fh_forker, NULL);
	memset(fh_buf, 0xEE, MSGLEN);       /* faults; waits in the handler */
	pthread_join(t, NULL);
	itest_fill(fh_buf, MSGLEN, 1);
	if (itest_send_all(s, fh_buf, MSGLEN))
		itest_die("send");
	memset(fh_buf, 0xEE, MSGLEN);
	itest_dump_stats();
	close(s);
	bad = check(rx, 2);
	if (!fh_seen) {
		fprintf(stderr, "faults: the writer was never seen inside the fault handler\n");
		return ITEST_ERROR;
	}
	if (!WIFEXITED(fh_child_status) || WEXITSTATUS(fh_child_status) != 0) {
		fprintf(stderr, "faults: the child forked during the handler ended with status %#x\n",
			fh_child_status);
		bad = 1;
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	if (!strcmp(m, "reset"))
		return mode_reset();
	if (!strcmp(m, "shutdown"))
		return mode_shutdown();
	if (!strcmp(m, "exit"))
		return mode_exit();
	if (!strcmp(m, "nofile"))
		return mode_nofile();
	if (!strcmp(m, "mapcount"))
		return mode_mapcount();
	if (!strcmp(m, "maplimit"))
		return mode_maplimit();
	if (!strcmp(m, "storm"))
		return mode_storm();
	if (!strcmp(m, "forkfault"))
		return mode_forkfault();
	if (!strcmp(m, "forkinhandler"))
		return mode_forkinhandler();
	fprintf(stderr, "usage: faults reset|shutdown|exit|nofile|mapcount|maplimit|storm|forkfault|"
		"forkinhandler\n");
	return ITEST_ERROR;
}
