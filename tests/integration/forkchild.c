/*
 * forkchild - Description: fork() with data in flight.
 *
 * The child's memory is its own copy: it must be able to write the buffer
 * its parent has in flight at once (no guard, no stall), and send on the
 * inherited sockets without zerocopy (the parent may be using them): one
 * the parent sends on, one the parent only uses after the child is gone
 * (so the shim had not looked at it before the fork). The
 * parent's guard stays: its overwrite after the fork must not reach the
 * wire. A thread sending in a loop while the main thread forks must not
 * deadlock either. The child also execs a program without the shim.
 */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSGLEN (256 * 1024 + 9)
#define NMSG 4   /* with a fork each, then one more without */

static volatile int stop;

/* In the child: inherited sockets must be passed through. Send on each,
 * ask for the stats line and read this process's zc_sends back. */
static int child_sends_copied(int fd, int fd2)
{
	const char *path = getenv("ZCSHIM_STATS_FILE");
	char *b = malloc(MSGLEN), line[4096], key[64];
	FILE *f;
	int ok = -1;

	if (!b || !path)
		return 0;
	memset(b, 0x42, MSGLEN);
	if (itest_send_all(fd, b, MSGLEN) || itest_send_all(fd2, b, MSGLEN))
		return -1;
	raise(SIGUSR1);
	snprintf(key, sizeof key, "{\"pid\":%d,", (int)getpid());
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)))
			ok = strstr(line, "\"zc_sends\":0,") ? 0 : -1;
	fclose(f);
	return ok;
}
static int side_sock;

static void *sender(void *arg)
{
	char *b = itest_pages(MSGLEN);

	(void)arg;
	while (!stop) {
		itest_fill(b, MSGLEN, 7);
		if (itest_send_all(side_sock, b, MSGLEN))
			break;
	}
	return NULL;
}

int main(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 5;
	struct itest_rx *rx, *side_rx;
	unsigned char *got;
	size_t len;
	pthread_t t;
	struct itest_rx *late_rx;
	int s, r, s2, r2, s3, r3, status, bad = 0;

	itest_tcp_pair(&s, &r);
	itest_tcp_pair(&s2, &r2);
	side_sock = s2;
	rx = itest_receiver_start(r, 200);
	side_rx = itest_receiver_start(r2, 0);
	itest_tcp_pair(&s3, &r3);
	late_rx = itest_receiver_start(r3, 0);
	pthread_create(&t, NULL, sender, NULL);

	for (unsigned m = 0; m < NMSG; m++) {
		pid_t pid;

		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		pid = fork();
		if (pid == 0) {
			/* Child: its copy of the buffer is writable at once. */
			memset(buf, 0x11, MSGLEN);
			if (m == 0 && child_sends_copied(side_sock, s3)) {
				fprintf(stderr, "forkchild: the child sent zerocopy on an inherited socket\n");
				_exit(4);
			}
			if (m == NMSG - 1) {
				/* exec: nothing of the shim's state follows. */
				unsetenv("LD_PRELOAD");
				execl("/bin/true", "true", (char *)NULL);
				_exit(3);
			}
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "forkchild: child %u failed (status %#x)\n", m, status);
			bad = 1;
		}
		memset(buf, 0xEE, MSGLEN);   /* the parent's guard still holds */
	}
	/* A fork write-protects the parent's pages itself, so the kernel
	 * would keep those bytes even without the guard: one more message
	 * without a fork lets a run without the guard show corruption. */
	itest_fill(buf, MSGLEN, NMSG);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	/* The socket only the child used: still the parent's to send zerocopy
	 * on (the shim turns SO_ZEROCOPY on for it now, not before). */
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s3, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	if (getenv("ZCSHIM_TEST_NO_GUARD") == NULL) {
		int zc = 0;
		socklen_t zl = sizeof zc;

		if (getsockopt(s3, SOL_SOCKET, SO_ZEROCOPY, &zc, &zl) || !zc) {
			fprintf(stderr, "forkchild: no zerocopy for the parent on the socket the child used\n");
			bad = 1;
		}
	}
	stop = 1;
	pthread_join(t, NULL);
	itest_dump_stats();
	close(s);
	close(s2);
	close(s3);
	got = itest_receiver_join(rx, &len);
	free(itest_receiver_join(side_rx, &(size_t){ 0 }));
	{
		size_t late_len;
		unsigned char *late = itest_receiver_join(late_rx, &late_len);
		int late_bad = late_len != 2u * MSGLEN;

		/* The child's 0x42 message, then the parent's message 0. */
		for (size_t j = 0; !late_bad && j < MSGLEN; j++)
			if (late[j] != 0x42 || late[MSGLEN + j] != itest_pat(0, j))
				late_bad = 1;
		if (late_bad) {
			fprintf(stderr, "forkchild: the socket shared with the child got %zu bytes, "
				"not the child's then the parent's message (%zu each)\n", late_len,
				(size_t)MSGLEN);
			bad = 1;
		}
		free(late);
	}
	if (itest_verify(got, len, NMSG + 1, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
