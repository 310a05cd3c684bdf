/*
 * forkchild - Description: fork() with data in flight.
 *
 * The child's memory is its own copy: it must be able to write the buffer
 * its parent has in flight at once (no guard, no stall), and send on the
 * inherited socket without zerocopy (the parent may be using it). The
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
#include <sys/wait.h>
#include <unistd.h>

#define MSGLEN (256 * 1024 + 9)
#define NMSG 4   /* with a fork each, then one more without */

static volatile int stop;

/* In the child: the inherited socket must be passed through. Send on it,
 * ask for the stats line and read this process's zc_sends back. */
static int child_sends_copied(int fd)
{
	const char *path = getenv("ZCSHIM_STATS_FILE");
	char *b = malloc(MSGLEN), line[4096], key[64];
	FILE *f;
	int ok = -1;

	if (!b || !path)
		return 0;
	memset(b, 0x42, MSGLEN);
	if (itest_send_all(fd, b, MSGLEN))
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
	int s, r, s2, r2, status, bad = 0;

	itest_tcp_pair(&s, &r);
	itest_tcp_pair(&s2, &r2);
	side_sock = s2;
	rx = itest_receiver_start(r, 200);
	side_rx = itest_receiver_start(r2, 0);
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
			if (m == 0 && child_sends_copied(side_sock)) {
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
	stop = 1;
	pthread_join(t, NULL);
	itest_dump_stats();
	close(s);
	close(s2);
	got = itest_receiver_join(rx, &len);
	free(itest_receiver_join(side_rx, &(size_t){ 0 }));
	if (itest_verify(got, len, NMSG + 1, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
