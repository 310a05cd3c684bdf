/*
 * childsend - Description: a child that appears without the C library's
 * fork handlers (_Fork, a raw clone, vfork, clone(CLONE_VM), posix_spawn)
 * sends on a socket its parent has zerocopy sends in flight on.
 *
 * The kernel numbers zerocopy sends per socket. A child that sent with
 * zerocopy on the inherited socket would take an id its parent counts as
 * its own: the parent would release its next buffer on the child's
 * completion, and its rewrite would reach the wire. A vfork child that
 * closes the socket in its own fd table must not tear down the parent's
 * state either (the parent's completions would then show up as POLLERR),
 * nor may the socket it opens at the same number in its table take the
 * place of the parent's in the shim's: it connects to a second receiver
 * and sends CHILDLEN bytes of 0x43 there, which the parent then rewrites.
 *
 *   childsend MODE          MODE: _fork clone vfork clonevm spawn
 *                           _forklocked: _fork while another thread is
 *                           inside the shim (run with ZCSHIM_TEST_HOLD_US:
 *                           it holds the shim's lock most of the time)
 *   childsend --spawned FD  (spawn's child: send on FD, exit)
 *
 * The parent sends message 0, the child CHILDLEN bytes of 0x42, the parent
 * message 2. The receiver reads message 0 and the child's bytes only, then
 * waits: the completions of those arrive, and the parent rewrites message
 * 2's buffer, still in flight. Then the receiver reads the rest. Every
 * byte must be what was sent, and the parent's poll must see no POLLERR.
 */
#include "common.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSGLEN (256 * 1024)
#define CHILDLEN (128 * 1024)

extern char **environ;
pid_t _Fork(void);

static int sock;
static const char *mode, *self;   /* self: this program (argv[0]) */
static unsigned char *cbuf, *cbuf2;
static struct sockaddr_in addr2;
static int side_sock, side_stop, side_sends;

/* _forklocked: sends in a loop, so the shim's lock is often held by this
 * thread, which the child will not have. */
static void *side_sender(void *arg)
{
	unsigned char *b = itest_pages(MSGLEN);

	(void)arg;
	memset(b, 0x17, MSGLEN);
	while (!__atomic_load_n(&side_stop, __ATOMIC_ACQUIRE)) {
		if (itest_send_all(side_sock, b, MSGLEN))
			break;
		__atomic_fetch_add(&side_sends, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* waitpid, but a child stuck (on a lock its parent's thread held) is
 * reported and killed rather than waited for. */
static pid_t wait_child(pid_t pid, int *status)
{
	for (int i = 0; i < 10000; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);
		struct timespec ts = { 0, 1000000 };

		if (r != 0)
			return r;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "childsend %s: the child is stuck after 10 s\n", mode);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

/* A receiver that reads in two phases, each started by the main thread. */
static struct {
	int fd;
	size_t want1, len, cap;
	unsigned char *buf;
	int go1, done1, go2;
} rx;

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void wait_flag(int *f)
{
	while (!__atomic_load_n(f, __ATOMIC_ACQUIRE))
		nap_ms(1);
}

static void *rx_main(void *arg)
{
	(void)arg;
	wait_flag(&rx.go1);
	for (int phase = 1; phase <= 2; phase++) {
		for (;;) {
			size_t room = rx.cap - rx.len;
			ssize_t r;

			if (phase == 1 && rx.len + room > rx.want1)
				room = rx.want1 - rx.len;
			if (phase == 1 && !room)
				break;
			r = recv(rx.fd, rx.buf + rx.len, room, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			__atomic_store_n(&rx.len, rx.len + (size_t)r, __ATOMIC_RELEASE);
		}
		if (phase == 1) {
			__atomic_store_n(&rx.done1, 1, __ATOMIC_RELEASE);
			wait_flag(&rx.go2);
		}
	}
	return NULL;
}

/* The child's part, whatever made it: send, and (vfork, clone(CLONE_VM):
 * the fd table is the child's own) close the socket in its table. */
static int child_main(void *arg)
{
	(void)arg;
	if (itest_send_all(sock, cbuf, CHILDLEN))
		_exit(3);
	/* Its own stats line (a process of its own: not vfork's). kill(),
	 * not raise(): after a raw clone the C library's thread id is the
	 * parent's. */
	if (!strcmp(mode, "_fork") || !strcmp(mode, "_forklocked") || !strcmp(mode, "clone"))
		kill(getpid(), SIGUSR1);
	if (!strcmp(mode, "vfork") || !strcmp(mode, "clonevm")) {
		int fd;

		close(sock);
		fd = itest_connect(&addr2);   /* the lowest free number: sock's */
		if (fd < 0 || (fd != sock && dup2(fd, sock) != sock))
			_exit(4);
		if (itest_send_all(sock, cbuf2, CHILDLEN))
			_exit(5);
	}
	_exit(0);
}

/* The child's stats line (under the shim): it sent nothing with zerocopy,
 * and one made without fork's handlers says it reset itself. */
static int child_stats_ok(pid_t pid)
{
	const char *path = getenv("ZCSHIM_STATS_FILE");
	char line[8192], key[64];
	int found = 0, ok = 1;
	FILE *f;

	if (!path || !getenv("LD_PRELOAD") || !strstr(getenv("LD_PRELOAD"), "libzcshim") ||
	    !strcmp(mode, "vfork") || !strcmp(mode, "clonevm"))
		return 1;   /* (those two share the parent's memory, stats too) */
	snprintf(key, sizeof key, "{\"pid\":%d,", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		found = 1;
		ok = strstr(line, "\"zc_sends\":0,") != NULL;
		if ((!strcmp(mode, "_fork") || !strcmp(mode, "_forklocked") ||
		     !strcmp(mode, "clone")) &&
		    !strstr(line, "\"forks_unseen\":1"))
			ok = 0;
		if (!ok)
			fprintf(stderr, "childsend %s: the child's stats: %s", mode, line);
	}
	fclose(f);
	if (!found)
		fprintf(stderr, "childsend %s: no stats line from the child\n", mode);
	return found && ok;
}

static pid_t start_child(void)
{
	pid_t pid = -1;

	if (!strcmp(mode, "_fork") || !strcmp(mode, "_forklocked")) {
		pid = _Fork();
		if (pid == 0)
			child_main(NULL);
	} else if (!strcmp(mode, "clone")) {
		/* fork by a raw system call: no handler of the C library runs. */
		pid = (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, NULL, NULL, 0L);
		if (pid == 0)
			child_main(NULL);
	} else if (!strcmp(mode, "vfork")) {
		pid = vfork();
		if (pid == 0)
			child_main(NULL);
	} else if (!strcmp(mode, "clonevm")) {
		static char stack[256 * 1024] __attribute__((aligned(16)));

		pid = clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	} else if (!strcmp(mode, "spawn")) {
		char fdarg[16];
		char *argv[] = { "childsend", "--spawned", fdarg, NULL };

		snprintf(fdarg, sizeof fdarg, "%d", sock);
		if (posix_spawn(&pid, self, NULL, NULL, argv, environ))
			pid = -1;
	}
	return pid;
}

int main(int argc, char **argv)
{
	unsigned char *buf0, *buf2;
	pthread_t t;
	struct pollfd p;
	struct itest_rx *rx2 = NULL, *side_rx = NULL;
	pthread_t side;
	int r, l2 = -1, status = 0, bad = 0;
	pid_t pid;

	if (argc == 3 && !strcmp(argv[1], "--spawned")) {
		sock = atoi(argv[2]);
		cbuf = itest_pages(CHILDLEN);
		memset(cbuf, 0x42, CHILDLEN);
		if (itest_send_all(sock, cbuf, CHILDLEN))
			return 3;
		itest_dump_stats();
		return 0;
	}
	if (argc != 2)
		return ITEST_ERROR;
	mode = argv[1];
	self = argv[0];   /* (not /proc/self/exe: valgrind's, under valgrind) */
	buf0 = (unsigned char *)itest_pages(MSGLEN + 8192) + 5;
	buf2 = (unsigned char *)itest_pages(MSGLEN + 8192) + 5;
	cbuf = itest_pages(CHILDLEN);
	memset(cbuf, 0x42, CHILDLEN);
	cbuf2 = itest_pages(CHILDLEN);
	memset(cbuf2, 0x43, CHILDLEN);
	itest_tcp_pair(&sock, &r);
	if (!strcmp(mode, "vfork") || !strcmp(mode, "clonevm"))
		l2 = itest_listen(&addr2);
	rx.fd = r;
	rx.want1 = MSGLEN + CHILDLEN;
	rx.cap = 2 * MSGLEN + CHILDLEN + 1;
	rx.buf = malloc(rx.cap);
	if (!rx.buf || pthread_create(&t, NULL, rx_main, NULL))
		itest_die("receiver");

	itest_fill(buf0, MSGLEN, 0);
	if (itest_send_all(sock, buf0, MSGLEN))
		itest_die("send");
	if (!strcmp(mode, "_forklocked")) {
		int sr;

		itest_tcp_pair(&side_sock, &sr);
		side_rx = itest_receiver_start(sr, 0);
		if (pthread_create(&side, NULL, side_sender, NULL))
			itest_die("pthread_create");
		while (__atomic_load_n(&side_sends, __ATOMIC_ACQUIRE) < 2)
			nap_ms(1);
	}
	pid = start_child();
	if (side_rx) {
		__atomic_store_n(&side_stop, 1, __ATOMIC_RELEASE);
		pthread_join(side, NULL);
		close(side_sock);
	}
	if (pid < 0 || wait_child(pid, &status) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "childsend %s: child failed (status %#x)\n", mode, status);
		return ITEST_CORRUPT;   /* (a stuck child is the shim's failure) */
	}
	if (side_rx)   /* (the child had the socket too: its end comes now) */
		free(itest_receiver_join(side_rx, &(size_t){ 0 }));
	if (!child_stats_ok(pid))
		bad = 1;
	if (l2 >= 0) {
		int r2 = accept(l2, NULL, NULL);

		if (r2 < 0)
			itest_die("accept");
		/* The child's second socket is closed; its bytes may still be
		 * on their way from cbuf2. */
		memset(cbuf2, 0xEE, CHILDLEN);
		rx2 = itest_receiver_start(r2, 0);
	}
	itest_fill(buf2, MSGLEN, 2);
	if (itest_send_all(sock, buf2, MSGLEN))
		itest_die("send");

	/* Message 0 and the child's bytes are read: their completions come. */
	__atomic_store_n(&rx.go1, 1, __ATOMIC_RELEASE);
	wait_flag(&rx.done1);
	nap_ms(100);
	memset(buf0, 0xEE, MSGLEN);
	memset(buf2, 0xEE, MSGLEN);   /* message 2 is still in flight */
	__atomic_store_n(&rx.go2, 1, __ATOMIC_RELEASE);

	/* Everything is read now, or soon: every completion comes. The
	 * program never asked for them: no POLLERR. */
	for (int i = 0; i < 2000 && __atomic_load_n(&rx.len, __ATOMIC_RELAXED) <
						   2 * (size_t)MSGLEN + CHILDLEN; i++)
		nap_ms(1);
	nap_ms(100);
	p.fd = sock;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) < 0 || (p.revents & POLLERR)) {
		fprintf(stderr, "childsend %s: the parent's poll reports POLLERR (revents %#x)\n",
			mode, p.revents);
		bad = 1;
	}
	itest_dump_stats();
	close(sock);
	pthread_join(t, NULL);

	if (rx2) {
		size_t len2;
		unsigned char *got2 = itest_receiver_join(rx2, &len2);

		for (size_t j = 0; j < CHILDLEN && len2 == CHILDLEN; j++)
			if (got2[j] != 0x43) {
				len2 = j;
				break;
			}
		if (len2 != CHILDLEN) {
			fprintf(stderr, "childsend %s: the child's second socket: %zu good bytes "
				"of %zu\n", mode, len2, (size_t)CHILDLEN);
			bad = 1;
		}
		free(got2);
	}
	if (rx.len != 2 * (size_t)MSGLEN + CHILDLEN) {
		fprintf(stderr, "childsend %s: received %zu bytes, expected %zu\n", mode, rx.len,
			2 * (size_t)MSGLEN + CHILDLEN);
		bad = 1;
	}
	for (size_t j = 0; j < rx.len; j++) {
		unsigned char e;
		const char *what;

		if (j < MSGLEN) {
			e = itest_pat(0, j);
			what = "message 0";
		} else if (j < MSGLEN + CHILDLEN) {
			e = 0x42;
			what = "the child's bytes";
		} else {
			e = itest_pat(2, j - MSGLEN - CHILDLEN);
			what = "message 2";
		}
		if (rx.buf[j] != e) {
			fprintf(stderr, "childsend %s: byte %zu (%s) is 0x%02x, expected 0x%02x\n",
				mode, j, what, rx.buf[j], e);
			bad = 1;
			break;
		}
	}
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
