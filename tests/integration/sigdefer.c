/*
 * sigdefer - Description: the program's signals arriving while the shim is
 * inside a critical section (run with ZCSHIM_TEST_HOLD_US, which keeps
 * every section open that long, so most signals meet one).
 *
 * usage: sigdefer MODE [ROUNDS]   (ROUNDS 200 unless given: the counts below)
 *   rt       3000 SIGRTMIN+1 with values 0..2999 queued while the program
 *            sends and overwrites: 0..1499 by a child to the process,
 *            1500..2999 by a thread to the main thread; the handler must
 *            see every value once, in order, with si_code SI_QUEUE, the
 *            sender's pid, and its sa_mask and the signal blocked; every 100th it sends a message of its own on a
 *            second socket and overwrites it (the shim entered from the
 *            handler)
 *   oneshot  200 times: a one-shot handler for SIGUSR2 (sysv_signal, or
 *            sigaction with SA_RESETHAND), SIGUSR2 sent by another thread
 *            while the program sends; it must run exactly once, not kill,
 *            and read back SIG_DFL afterwards
 *   longjmp  a 300 us interval timer whose SIGALRM handler siglongjmps out
 *            of whatever the program was doing (sending), 300 times; then
 *            a checked exchange on a new connection (a send jumped out of
 *            is abandoned: its socket copies from then on, so only the
 *            new connection shows zerocopy)
 *   api      what sigaction(), signal(), sysv_signal(), sigset() and
 *            siginterrupt() report: the same with and without the shim
 *   early    a SIGHUP handler installed by a library constructor that ran
 *            before the shim's (libearlysig, preloaded after it): 200
 *            SIGHUPs sent by another thread while the program sends all
 *            reach it
 * Every mode that sends checks each byte received.
 */
#include "common.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* sigset() and siginterrupt() are deprecated, and programs still call them. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define MSGLEN (16 * 1024 + 5)
#define MAXMSG 4000u

static int rounds = 200;   /* argv[2]: fewer under valgrind */
static char *buf;
static int sock;
static unsigned sent;
static volatile sig_atomic_t bad;

static void say(const char *what)
{
	fprintf(stderr, "sigdefer: %s\n", what);
	bad = 1;
}

/* One message of the checked stream, then overwrite the buffer while the
 * kernel may still hold it. */
static void send_one(void)
{
	if (sent >= MAXMSG)
		itest_die("too many messages: the signals never arrived");
	itest_fill(buf, MSGLEN, sent);
	if (itest_send_all(sock, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	sent++;
}

static struct itest_rx *open_stream(void)
{
	int r;

	buf = (char *)itest_pages(MSGLEN + 8192) + 11;
	itest_tcp_pair(&sock, &r);
	sent = 0;
	return itest_receiver_start(r, 20);
}

static void close_stream(struct itest_rx *rx)
{
	unsigned char *got;
	size_t len;

	close(sock);
	got = itest_receiver_join(rx, &len);
	if (itest_verify(got, len, sent, MSGLEN))
		bad = 1;
	free(got);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---------------------------------------------------------------- rt */
#define NRT (15 * rounds)

static volatile sig_atomic_t rt_next, rt_mask_wrong;
static pid_t rt_child;
static int side_sock;
static char *side_buf;
static unsigned side_sent;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if (si->si_code != SI_QUEUE ||
	    si->si_pid != (si->si_value.sival_int < NRT / 2 ? rt_child : getpid()))
		bad = 1;
	if (si->si_value.sival_int != rt_next) {
		static const char m[] = "sigdefer: a queued value arrived out of order\n";
		ssize_t w = write(2, m, sizeof m - 1);

		(void)w;
		bad = 1;
	}
	rt_next = si->si_value.sival_int + 1;
	/* The mask the kernel gives a handler: its sa_mask and itself. */
	{
		sigset_t cur;

		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		if (sigismember(&cur, SIGWINCH) != 1 || sigismember(&cur, SIGRTMIN + 1) != 1)
			rt_mask_wrong = 1;
	}
	if (si->si_value.sival_int % 100 == 0) {
		itest_fill(side_buf, MSGLEN, side_sent + 1000);
		if (itest_send_all(side_sock, side_buf, MSGLEN))
			bad = 1;
		memset(side_buf, 0xDD, MSGLEN);   /* a guard fault inside the handler */
		side_sent++;
	}
	errno = saved;
}

static pthread_t main_thread;

static void *rt_thread_sender(void *arg)
{
	(void)arg;
	for (int i = NRT / 2; i < NRT; i++) {
		union sigval v = { .sival_int = i };

		while (pthread_sigqueue(main_thread, SIGRTMIN + 1, v))
			sleep_us(100);
		if (i % 4 == 0)
			sleep_us(200);
	}
	return NULL;
}

static void mode_rt(void)
{
	struct sigaction a;
	struct itest_rx *rx, *side_rx;
	unsigned char *got;
	sigset_t rt_only;
	pthread_t t;
	size_t len;
	int r, status;

	memset(&a, 0, sizeof a);
	a.sa_sigaction = on_rt;
	a.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGWINCH);
	sigaction(SIGRTMIN + 1, &a, NULL);
	/* Only the main thread takes it (the receivers' threads inherit the
	 * block): one handler at a time, so the order it sees is the order
	 * of delivery. */
	sigemptyset(&rt_only);
	sigaddset(&rt_only, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &rt_only, NULL);
	side_buf = (char *)itest_pages(MSGLEN + 8192) + 7;
	itest_tcp_pair(&side_sock, &r);
	side_rx = itest_receiver_start(r, 20);
	rx = open_stream();

	/* Still blocked across fork(): the child's first signals must not
	 * reach the handler before rt_child holds the child's pid. */
	rt_child = fork();
	if (rt_child < 0)
		itest_die("fork");
	pthread_sigmask(SIG_UNBLOCK, &rt_only, NULL);
	if (rt_child == 0) {
		pid_t parent = getppid();

		for (int i = 0; i < NRT / 2; i++) {
			union sigval v = { .sival_int = i };

			while (sigqueue(parent, SIGRTMIN + 1, v))
				if (errno != EAGAIN)
					_exit(2);
				else
					sleep_us(100);
			if (i % 4 == 0)   /* paced: the program sends in between */
				sleep_us(200);
		}
		_exit(0);
	}
	while (rt_next < NRT / 2)
		send_one();
	if (waitpid(rt_child, &status, 0) != rt_child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		say("the child could not queue its signals");
	/* The second half from a thread, to this thread: a signal deferred
	 * is queued again behind those already pending for the thread. */
	main_thread = pthread_self();
	pthread_create(&t, NULL, rt_thread_sender, NULL);
	while (rt_next < NRT)
		send_one();
	pthread_join(t, NULL);
	if (bad)
		say("a queued signal arrived wrong (order, si_code or si_pid)");
	if (rt_mask_wrong)
		say("the handler ran without its mask (sa_mask and the signal blocked)");
	close_stream(rx);
	close(side_sock);
	got = itest_receiver_join(side_rx, &len);
	for (unsigned m = 0; m < side_sent; m++)
		for (size_t j = 0; j < MSGLEN && m * MSGLEN + j < len; j++)
			if (got[m * MSGLEN + j] != itest_pat(m + 1000, j)) {
				say("the handler's own stream changed in flight");
				m = side_sent;
				break;
			}
	if (len != side_sent * (size_t)MSGLEN)
		say("the handler's own stream lost bytes");
	free(got);
	fprintf(stderr, "sigdefer: rt: %d signals in order, %u messages, %u from the handler\n",
		(int)rt_next, sent, side_sent);
}

/* A thread that sends the main thread a signal each time the main thread
 * starts a round (at a random moment of its sending), once per round. */
static int round_no;
static pthread_t shooter_thread;

static void *shooter(void *arg)
{
	int sig = (int)(intptr_t)arg;

	for (int k = 1; k <= rounds; k++) {
		while (__atomic_load_n(&round_no, __ATOMIC_ACQUIRE) < k)
			sleep_us(50);
		sleep_us(rand() % 400);
		pthread_kill(main_thread, sig);
	}
	return NULL;
}

static void start_round(int k)
{
	__atomic_store_n(&round_no, k + 1, __ATOMIC_RELEASE);
}

static void start_shooter(int sig)
{
	main_thread = pthread_self();
	pthread_create(&shooter_thread, NULL, shooter, (void *)(intptr_t)sig);
}

/* ---------------------------------------------------------------- oneshot */
static volatile sig_atomic_t shot_runs;

static void on_shot(int sig)
{
	(void)sig;
	shot_runs++;
}

static void mode_oneshot(void)
{
	struct itest_rx *rx = open_stream();

	start_shooter(SIGUSR2);
	for (int k = 0; k < rounds; k++) {
		struct sigaction now;

		if (k % 2) {
			sysv_signal(SIGUSR2, on_shot);   /* SA_RESETHAND | SA_NODEFER */
		} else {
			struct sigaction a;

			memset(&a, 0, sizeof a);
			a.sa_handler = on_shot;
			a.sa_flags = SA_RESETHAND;
			sigemptyset(&a.sa_mask);
			sigaction(SIGUSR2, &a, NULL);
		}
		start_round(k);
		while (shot_runs == k)
			send_one();
		sigaction(SIGUSR2, NULL, &now);
		if (shot_runs != k + 1 || now.sa_handler != SIG_DFL) {
			fprintf(stderr, "sigdefer: one-shot %d ran %d times, then %s\n", k,
				(int)shot_runs - k, now.sa_handler == SIG_DFL ? "SIG_DFL" : "not reset");
			bad = 1;
			break;
		}
	}
	pthread_join(shooter_thread, NULL);
	close_stream(rx);
	fprintf(stderr, "sigdefer: oneshot: %d one-shot handlers, %u messages\n", (int)shot_runs,
		sent);
}

/* ---------------------------------------------------------------- longjmp */
static sigjmp_buf jump_back;
static volatile sig_atomic_t jumps;

static void on_alarm(int sig)
{
	(void)sig;
	jumps++;
	siglongjmp(jump_back, 1);
}

static void mode_longjmp(void)
{
	struct itest_rx *rx;
	struct itimerval it = { { 0, 300 }, { 0, 300 } }, off = { { 0, 0 }, { 0, 0 } };
	int r, s, loops = 0;
	sigset_t alrm;
	unsigned char *got;
	size_t len;
	char *jbuf = (char *)itest_pages(MSGLEN + 8192) + 3;

	/* The jumping part: where each send stops is unknown, so this
	 * stream is drained, not checked. */
	/* SIGALRM is the process's: only the main thread may take it (a
	 * receiver's thread would jump onto the main thread's stack). */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 0);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	sigsetjmp(jump_back, 1);
	while (jumps < 3 * rounds / 2 && loops++ < 200000) {
		memset(jbuf, loops & 0xff, MSGLEN);
		if (send(s, jbuf, MSGLEN, 0) < 0 && errno != EINTR)
			itest_die("send");
	}
	setitimer(ITIMER_REAL, &off, NULL);
	if (jumps < 3 * rounds / 2)
		say("the timer's handler did not run often enough");
	close(s);
	got = itest_receiver_join(rx, &len);
	free(got);

	/* After the jumps out of the shim's callers: still sends, guards
	 * and releases. */
	rx = open_stream();
	for (int m = 0; m < 8; m++)
		send_one();
	close_stream(rx);
	fprintf(stderr, "sigdefer: longjmp: %d jumps, then %u checked messages\n", (int)jumps,
		sent);
}

/* ---------------------------------------------------------------- api */
static void h1(int sig) { (void)sig; }
static void h2(int sig) { (void)sig; }
static void h3(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; }

/* sigaction(sig, p, p): allowed, and a different restrict-free path. */
static int same_struct(int sig, struct sigaction *p)
{
	int (*volatile fn)(int, const struct sigaction *, struct sigaction *) = sigaction;

	return fn(sig, p, p);
}

#define WANT(cond, what) do { if (!(cond)) say("api: " what); } while (0)
#define FLAGS (SA_RESTART | SA_SIGINFO | SA_NODEFER | SA_RESETHAND | SA_ONSTACK)

static void mode_api(void)
{
	struct sigaction a, o;
	sigset_t m;

	memset(&a, 0, sizeof a);
	a.sa_handler = h1;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGHUP);
	a.sa_flags = SA_RESTART;
	WANT(sigaction(SIGUSR2, &a, &o) == 0, "sigaction failed");
	WANT(o.sa_handler == SIG_DFL, "the first disposition is not SIG_DFL");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_handler == h1, "handler not read back");
	WANT((o.sa_flags & FLAGS) == SA_RESTART, "flags not read back");
	WANT(sigismember(&o.sa_mask, SIGHUP) == 1 && sigismember(&o.sa_mask, SIGINT) == 0,
	     "mask not read back");

	a.sa_sigaction = h3;
	a.sa_flags = SA_SIGINFO | SA_NODEFER;
	o = a;   /* act and old the same struct */
	WANT(same_struct(SIGUSR2, &o) == 0 && o.sa_handler == h1, "act == old");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_sigaction == h3 &&
	     (o.sa_flags & FLAGS) == (SA_SIGINFO | SA_NODEFER), "SA_SIGINFO handler not read back");

	WANT(signal(SIGUSR2, h2) == o.sa_handler, "signal() returned the wrong handler");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_handler == h2 &&
	     (o.sa_flags & FLAGS) == SA_RESTART && sigismember(&o.sa_mask, SIGUSR2) == 1,
	     "signal() is not BSD semantics");
	WANT(siginterrupt(SIGUSR2, 1) == 0, "siginterrupt failed");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_handler == h2 && !(o.sa_flags & SA_RESTART),
	     "siginterrupt(1) kept SA_RESTART");
	WANT(signal(SIGUSR2, h1) == h2, "signal() after siginterrupt");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && !(o.sa_flags & SA_RESTART),
	     "signal() after siginterrupt(1) restarts");
	WANT(siginterrupt(SIGUSR2, 0) == 0 && signal(SIGUSR2, h2) == h1 &&
	     sigaction(SIGUSR2, NULL, &o) == 0 && (o.sa_flags & SA_RESTART),
	     "siginterrupt(0) did not bring SA_RESTART back");

	WANT(sysv_signal(SIGUSR2, h1) == h2, "sysv_signal() returned the wrong handler");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_handler == h1 &&
	     (o.sa_flags & FLAGS) == (SA_RESETHAND | SA_NODEFER), "sysv_signal() semantics");

	WANT(sigset(SIGUSR2, SIG_HOLD) == h1, "sigset(SIG_HOLD) returned the wrong handler");
	sigprocmask(SIG_BLOCK, NULL, &m);
	WANT(sigismember(&m, SIGUSR2) == 1, "sigset(SIG_HOLD) did not block");
	WANT(sigset(SIGUSR2, h2) == SIG_HOLD, "sigset() on a held signal is not SIG_HOLD");
	sigprocmask(SIG_BLOCK, NULL, &m);
	WANT(sigismember(&m, SIGUSR2) == 0, "sigset() did not unblock");
	WANT(sigset(SIGUSR2, SIG_IGN) == h2, "sigset() returned the wrong handler");
	WANT(sigaction(SIGUSR2, NULL, &o) == 0 && o.sa_handler == SIG_IGN, "SIG_IGN not read back");
	WANT(signal(SIGUSR2, SIG_DFL) == SIG_IGN, "signal() from SIG_IGN");

	errno = 0;
	WANT(signal(SIGKILL, h1) == SIG_ERR && errno == EINVAL, "signal(SIGKILL)");
	errno = 0;
	WANT(signal(0, h1) == SIG_ERR && errno == EINVAL, "signal(0)");
	errno = 0;
	WANT(sigaction(_NSIG, &a, NULL) == -1 && errno == EINVAL, "sigaction(_NSIG)");
	errno = 0;
	WANT(sigaction(SIGSTOP, &a, NULL) == -1 && errno == EINVAL, "sigaction(SIGSTOP)");
	WANT(sigaction(SIGKILL, NULL, &o) == 0 && o.sa_handler == SIG_DFL, "query SIGKILL");

	/* A handler set and then delivered: runs, with its mask. */
	a.sa_handler = h1;
	a.sa_flags = 0;
	sigaction(SIGUSR2, &a, NULL);
	raise(SIGUSR2);
	signal(SIGUSR2, SIG_DFL);
	fprintf(stderr, "sigdefer: api: %s\n", bad ? "wrong" : "as libc");
}

/* ---------------------------------------------------------------- early */
static void mode_early(void)
{
	volatile int *count = dlsym(RTLD_DEFAULT, "earlysig_count");
	void (*handler)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "earlysig_handler");
	struct sigaction o;
	struct itest_rx *rx;

	if (!count || !handler)
		itest_die("libearlysig.so is not preloaded");
	if (sigaction(SIGHUP, NULL, &o) || o.sa_handler != handler)
		say("early: the library's SIGHUP handler does not read back");
	rx = open_stream();
	start_shooter(SIGHUP);
	for (int k = 0; k < rounds; k++) {
		start_round(k);
		while (*count == k)
			send_one();
	}
	pthread_join(shooter_thread, NULL);
	close_stream(rx);
	if (*count != rounds)
		say("early: SIGHUP did not reach the library's handler once per round");
	fprintf(stderr, "sigdefer: early: %d SIGHUPs handled, %u messages\n", *count, sent);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (argc > 2 && atoi(argv[2]) >= 2)
		rounds = atoi(argv[2]);

	if (!strcmp(mode, "rt"))
		mode_rt();
	else if (!strcmp(mode, "oneshot"))
		mode_oneshot();
	else if (!strcmp(mode, "longjmp"))
		mode_longjmp();
	else if (!strcmp(mode, "api"))
		mode_api();
	else if (!strcmp(mode, "early"))
		mode_early();
	else
		itest_die("usage: sigdefer rt|oneshot|longjmp|api|early");
	itest_dump_stats();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
