/*
 * deadstack - Description: the C library unmaps a joined thread's stack
 * itself (run with GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0, so it
 * does at once); nothing the shim knew about that stack may act on what
 * the program maps there later.
 *
 * Threads send zerocopy from buffers on their own stacks: some until their
 * buffers are released and kept read-only (a prompt receiver), some still
 * in flight when they exit (a receiver that starts late). Each is joined,
 * then the program maps memory at its buffer's address: PROT_NONE (a read
 * must fault and the mapping stay ---p), PROT_READ (a write must fault and
 * the mapping stay r--p), or read-write, sent from with zerocopy and
 * overwritten at once (the receiver must get the bytes as they were sent).
 *
 * Exit status: see common.h.
 */
#include "common.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MSGLEN (64 * 1024)

enum { KEPT, INFLIGHT };

struct job {
	int fd;
	struct itest_rx *rx;   /* KEPT: wait for it to read each send */
	size_t *expect;        /* KEPT: bytes it will have read */
	int mode;
	unsigned m;            /* the message it sends */
	uintptr_t lo, hi;      /* out: the whole pages its buffer held */
	pthread_t t;
	int done;              /* it has sent (under mu) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int all_done;

/* Every pair's stream, message by message, to check what arrived. */
struct stream {
	unsigned ids[64];
	unsigned n;
};
static struct stream s1, s2;

static void *sender(void *p)
{
	struct job *j = p;
	char buf[MSGLEN + 8192];
	char *b = (char *)(((uintptr_t)buf + 4095) & ~(uintptr_t)4095);
	int sends = j->mode == KEPT ? 3 : 1;

	itest_fill(b, MSGLEN, j->m);
	for (int k = 0; k < sends; k++) {
		if (itest_send_all(j->fd, b, MSGLEN))
			itest_die("send from a thread's stack");
		if (j->mode == KEPT) {
			/* Read by the receiver, so the next send reads its
			 * completion: the second one keeps the pages. */
			*j->expect += MSGLEN;
			itest_wait_received(j->rx, *j->expect);
		}
	}
	j->lo = (uintptr_t)b;
	j->hi = (uintptr_t)b + MSGLEN;
	/* Stay alive until every thread has sent: a thread started after
	 * this one is joined would take its stack's place. */
	pthread_mutex_lock(&mu);
	j->done = 1;
	pthread_cond_broadcast(&cv);
	while (!all_done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Start a thread and wait until it has sent (one sender at a time: a
 * second concurrent sender on a socket would be copied). */
static void run_thread(struct job *j)
{
	if (pthread_create(&j->t, NULL, sender, j))
		itest_die("thread");
	pthread_mutex_lock(&mu);
	while (!j->done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void join_all(struct job *j, int n)
{
	pthread_mutex_lock(&mu);
	all_done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		if (pthread_join(j[i].t, NULL))
			itest_die("join");
}

static sigjmp_buf jb;
static volatile sig_atomic_t faulted;

static void on_segv(int sig)
{
	(void)sig;
	faulted = 1;
	siglongjmp(jb, 1);
}

static int perms_of(uintptr_t a, char out[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, out) == 3 && lo <= a && a < hi) {
			fclose(f);
			return 0;
		}
	fclose(f);
	return -1;
}

/* Map prot at the dead buffer's pages (nothing else is there now). */
static char *map_at(const struct job *j, int prot)
{
	void *p = mmap((void *)j->lo, j->hi - j->lo, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != (void *)j->lo) {
		fprintf(stderr, "deadstack: cannot map at %#lx (%p): the stack is still mapped?\n",
			(unsigned long)j->lo, p);
		exit(ITEST_ERROR);
	}
	return p;
}

/* Touch a byte (write or read); 1 if it faulted, as it must. */
static int access_faults(volatile char *a, int write)
{
	faulted = 0;
	if (sigsetjmp(jb, 1) == 0) {
		if (write)
			a[100] = 1;
		else
			(void)a[100];
	}
	return faulted;
}

static int no_access(const char *what, const struct job *j, int prot)
{
	char *p = map_at(j, prot), perms[5] = "";
	const char *want = prot == PROT_NONE ? "---p" : "r--p";
	int bad = 0;

	/* Under valgrind (memcheck) each deliberate read of PROT_NONE memory
	 * is reported: DEADSTACK_NO_NONE_READ=1 leaves them out (the
	 * permissions are still checked). */
	const char *skip = getenv("DEADSTACK_NO_NONE_READ");

	for (uintptr_t a = j->lo; a < j->hi; a += 4 * 4096) {
		if (prot == PROT_NONE && skip && !strcmp(skip, "1"))
			break;
		if (!access_faults((char *)a, prot != PROT_NONE)) {
			fprintf(stderr, "deadstack: %s: a %s at %#lx went through\n", what,
				prot == PROT_NONE ? "read" : "write", (unsigned long)a);
			bad = 1;
			break;
		}
	}
	if (perms_of((uintptr_t)p, perms) || strcmp(perms, want)) {
		fprintf(stderr, "deadstack: %s: the mapping is %s, the program made it %s\n", what,
			perms, want);
		bad = 1;
	}
	return bad;
}

/* A read-write mapping at the dead buffer's pages: sent from with
 * zerocopy, then overwritten at once; the receiver checks the bytes. */
static void send_overwrite(const struct job *j, int fd, struct stream *st, unsigned m)
{
	char *p = map_at(j, PROT_READ | PROT_WRITE);

	itest_fill(p, MSGLEN, m);
	if (itest_send_all(fd, p, MSGLEN))
		itest_die("send from the new mapping");
	st->ids[st->n++] = m;
	memset(p, 0xEE, MSGLEN);
}

static size_t check(const char *what, struct itest_rx *rx, const struct stream *st)
{
	size_t len, bad = 0;
	unsigned char *got = itest_receiver_join(rx, &len);

	if (len != (size_t)st->n * MSGLEN) {
		fprintf(stderr, "deadstack: %s: %zu bytes arrived, want %zu\n", what, len,
			(size_t)st->n * MSGLEN);
		return 1;
	}
	for (unsigned k = 0; k < st->n; k++)
		for (size_t i = 0; i < MSGLEN; i++)
			if (got[(size_t)k * MSGLEN + i] != itest_pat(st->ids[k], i)) {
				if (!bad)
					fprintf(stderr, "deadstack: %s: message %u byte %zu changed in flight\n",
						what, k, i);
				bad++;
			}
	free(got);
	return bad;
}

int main(void)
{
	struct sigaction sa;
	struct job j[5], *kept = j, *fl = j + 3;
	struct itest_rx *rx1, *rx2;
	size_t got1 = 0;
	int a1, b1, a2, b2, bad = 0;
	unsigned m = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	itest_tcp_pair(&a1, &b1);   /* read at once: completions come back */
	itest_tcp_pair(&a2, &b2);   /* read late: calls stay in flight */
	rx1 = itest_receiver_start(b1, 0);
	rx2 = itest_receiver_start(b2, 1500);

	/* All threads first: one created later could take a stack's place. */
	for (int i = 0; i < 3; i++) {
		kept[i] = (struct job){ a1, rx1, &got1, KEPT, m, 0, 0, 0, 0 };
		for (int k = 0; k < 3; k++)
			s1.ids[s1.n++] = m;
		m++;
		run_thread(&kept[i]);
	}
	for (int i = 0; i < 2; i++) {
		fl[i] = (struct job){ a2, NULL, NULL, INFLIGHT, m, 0, 0, 0, 0 };
		s2.ids[s2.n++] = m++;
		run_thread(&fl[i]);
	}

	join_all(j, 5);

	/* Their stacks are gone (stack cache 0): map there. */
	bad |= no_access("PROT_NONE where a kept buffer was", &kept[0], PROT_NONE);
	bad |= no_access("PROT_READ where a kept buffer was", &kept[1], PROT_READ);
	bad |= no_access("PROT_NONE where a buffer in flight was", &fl[0], PROT_NONE);
	send_overwrite(&kept[2], a2, &s2, m++);
	send_overwrite(&fl[1], a2, &s2, m++);

	itest_dump_stats();
	close(a1);
	close(a2);
	if (check("prompt receiver", rx1, &s1) || check("late receiver", rx2, &s2))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
