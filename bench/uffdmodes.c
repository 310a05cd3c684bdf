/*
 * uffdmodes - how a write-protect fault on a buffer in flight is best
 * served, measured without the shim: the userfaultfd guard's handler thread
 * against UFFD_FEATURE_SIGBUS, with a plain copying send and the mprotect
 * guard's SIGSEGV path as baselines.
 *
 * What the shim does, by hand: a UDP socket with SO_ZEROCOPY connected to
 * ADDRESS:9 (default 127.0.0.1, meant for a namespace whose loopback drops
 * at the qdisc, so completions come back without a copy), and buffers of
 * SIZE bytes (default 61440, 15 pages) in one anonymous mapping. Each
 * iteration protects the buffer's pages, sends it with MSG_ZEROCOPY, and
 * then touches it at once:
 *   reuse  memset() of the buffer (a user write, which faults)
 *   read   read() of SIZE bytes from a pipe into the buffer (a kernel
 *          write). The pipe is filled from a source buffer right before.
 * With --ring N, N buffers are sent round robin and the one touched is the
 * one to be sent next (sent N-1 iterations before); N=1 is one buffer
 * touched right after its own send.
 *
 * The modes (what protects, and what serves the fault):
 *   plain     no protection, a copying send: what a copy costs
 *   mprotect  mprotect(PROT_READ); a SIGSEGV handler waits for the
 *             completion and makes the buffer writable again. A kernel
 *             write would get EFAULT, so under read the buffer is resolved
 *             (completion read, then unprotected) before read() is called.
 *   thread    userfaultfd (kernel-fault rights: no UFFD_USER_MODE_ONLY)
 *             registered MODE_WP, UFFDIO_WRITEPROTECT; a handler thread
 *             polls the userfaultfd, reads the fault, waits for the
 *             completion and unprotects (which wakes the writer). Under
 *             read, read() faults in the kernel and waits the same way.
 *   sigbus    the same userfaultfd opened with UFFD_FEATURE_SIGBUS: the
 *             write raises SIGBUS in the writing thread, whose handler
 *             waits for the completion, unprotects and returns (the write
 *             is retried). Under read, read() would get EFAULT, so the
 *             buffer is resolved before read() is called, as under
 *             mprotect.
 * "Waits for the completion": poll() and recvmsg(MSG_ERRQUEUE) on the
 * socket until the kernel has released the buffer's last send. Completions
 * are read only there (every iteration of a zerocopy mode resolves once).
 *
 * usage: uffdmodes [--ring N] MODE WORKLOAD ITERATIONS [SIZE [ADDRESS]]
 *   prints "MODE WORKLOAD ITERATIONS cpu_us wall_us faults copied":
 *   microseconds per iteration of the process's CPU time (getrusage,
 *   every thread) and of wall time, over ITERATIONS timed iterations after
 *   ITERATIONS/10 untimed ones; faults served; completions the kernel
 *   marked as copied.
 *        uffdmodes probe
 *   checks what this kernel does (one line each, "ok" or "FAILED"): a user
 *   write to a page write-protected through a SIGBUS-mode userfaultfd
 *   raises SIGBUS at that address; read() into it gets EFAULT; the same
 *   with SIGBUS blocked kills the process; read() into a page protected
 *   through a userfaultfd with kernel-fault rights waits for the handler
 *   thread and succeeds; with UFFD_USER_MODE_ONLY it gets EFAULT; read()
 *   into an mprotect'ed page gets EFAULT.
 * Needs root (or CAP_SYS_PTRACE) for a userfaultfd with kernel-fault rights.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

enum mode { PLAIN, MPROTECT, THREAD, SIGBUS_MODE };

static enum mode mode;
static int sock = -1, uffd = -1;
static char *base;              /* the buffers, one mapping */
static size_t size, stride;     /* bytes sent; bytes from one buffer to the next */
static unsigned nbuf = 1;
/* Per buffer: the id of its last zerocopy send (+1; 0: never sent). */
static uint32_t *last_send;
static uint32_t next_id;        /* id of the next zerocopy send */
/* Every id below done_below is released. UDP completions come in order
 * here (one socket, a sink that frees at once); written by whoever reaps,
 * read by the others: one writer at a time (see reap). */
static volatile uint32_t done_below;
static volatile unsigned long faults, copied;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Read the completions that are there; with wait, until id is released.
 * Async-signal-safe (poll, recvmsg): the SIGSEGV and SIGBUS handlers call
 * it. Only one thread reaps at a time: the handler thread while the writer
 * is held in a fault, the writer itself otherwise. */
static void reap_until(uint32_t id_plus_one)
{
	char control[128];

	while ((int32_t)(done_below - id_plus_one) < 0) {
		struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof control };
		struct cmsghdr *cm;

		if (recvmsg(sock, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			struct pollfd p = { .fd = sock, .events = 0 };

			if (errno != EAGAIN && errno != EINTR)
				_exit(3);
			poll(&p, 1, 100);
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err *ee = (void *)CMSG_DATA(cm);

			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno)
				continue;
			if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				copied += ee->ee_data - ee->ee_info + 1;
			if ((int32_t)(ee->ee_data + 1 - done_below) > 0)
				done_below = ee->ee_data + 1;
		}
	}
}

static void wp(char *p, size_t n, int on)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)p, .len = n },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	while (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) < 0)
		if (errno != EAGAIN)
			_exit(4);
}

static size_t span(void)        /* the pages a buffer covers */
{
	return (size + 4095) & ~(size_t)4095;
}

static void protect(unsigned b)
{
	if (mode == MPROTECT) {
		if (mprotect(base + b * stride, span(), PROT_READ))
			die("mprotect");
	} else if (mode != PLAIN) {
		wp(base + b * stride, span(), 1);
	}
}

/* Wait for buffer b's last send to be released, then make it writable.
 * Async-signal-safe (reap_until, mprotect, ioctl). */
static void resolve(unsigned b)
{
	reap_until(last_send[b]);
	if (mode == MPROTECT)
		mprotect(base + b * stride, span(), PROT_READ | PROT_WRITE);
	else
		wp(base + b * stride, span(), 0);
}

static unsigned buffer_at(uintptr_t addr)
{
	uintptr_t off = addr - (uintptr_t)base;

	if (addr < (uintptr_t)base || off >= nbuf * stride)
		_exit(5);                   /* a fault the benchmark did not cause */
	return off / stride;
}

/* SIGSEGV (mprotect) and SIGBUS (userfaultfd SIGBUS mode): async-signal-
 * safe only; errno is kept for the interrupted code. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)sig; (void)uc;
	faults++;
	resolve(buffer_at((uintptr_t)si->si_addr));
	errno = saved;
}

static void *handler_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg m;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(6);
		}
		if (read(uffd, &m, sizeof m) != sizeof m) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			_exit(7);
		}
		if (m.event != UFFD_EVENT_PAGEFAULT || !(m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			_exit(8);
		faults++;
		resolve(buffer_at(m.arg.pagefault.address));
	}
	return NULL;
}

static int open_uffd(int features, int flags)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api))
		return -1;
	return fd;
}

static void register_wp(int fd, char *p, size_t n)
{
	struct uffdio_register r = {
		.range = { .start = (uintptr_t)p, .len = n },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &r))
		die("UFFDIO_REGISTER (MODE_WP)");
}

static void catch(int sig)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		die("sigaction");
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int pipefd[2];
static char *source;

static void iteration(int reading, unsigned i)
{
	unsigned b = i % nbuf, next = (i + 1) % nbuf;
	char *p = base + b * stride, *q = base + next * stride;
	ssize_t r;

	protect(b);
	do
		r = send(sock, p, size, mode == PLAIN ? 0 : MSG_ZEROCOPY);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)size)
		die("send");
	if (mode != PLAIN)
		last_send[b] = ++next_id;   /* ids count from 0; stored +1 */
	if (!reading) {
		memset(q, (int)i, size);
		return;
	}
	if (write(pipefd[1], source, size) != (ssize_t)size)
		die("write (pipe)");
	/* A kernel write into a protected page: EFAULT under mprotect and
	 * SIGBUS mode, so those resolve first; the handler thread serves it
	 * in the kernel's copy. */
	if ((mode == MPROTECT || mode == SIGBUS_MODE) && last_send[next]) {
		resolve(next);
		faults++;
	}
	if (read(pipefd[0], q, size) != (ssize_t)size)
		die("read (pipe)");
}

static void setup_socket(const char *address)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	int one = 1;

	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || inet_pton(AF_INET, address, &to.sin_addr) != 1)
		die("socket");
	if (setsockopt(sock, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one))
		die("SO_ZEROCOPY");
	if (connect(sock, (struct sockaddr *)&to, sizeof to))
		die("connect");
}

static int bench(int argc, char **argv)
{
	const char *address = "127.0.0.1";
	unsigned long n, warm;
	int reading;
	double c0, w0, c1, w1;

	if (argc >= 3 && !strcmp(argv[1], "--ring")) {
		nbuf = strtoul(argv[2], NULL, 10);
		argc -= 2, argv += 2;
	}
	if (argc < 4 || nbuf < 1)
		return 2;
	if (!strcmp(argv[1], "plain")) mode = PLAIN;
	else if (!strcmp(argv[1], "mprotect")) mode = MPROTECT;
	else if (!strcmp(argv[1], "thread")) mode = THREAD;
	else if (!strcmp(argv[1], "sigbus")) mode = SIGBUS_MODE;
	else return 2;
	if (!strcmp(argv[2], "reuse")) reading = 0;
	else if (!strcmp(argv[2], "read")) reading = 1;
	else return 2;
	n = strtoul(argv[3], NULL, 10);
	size = argc > 4 ? strtoul(argv[4], NULL, 10) : 61440;
	if (argc > 5)
		address = argv[5];
	if (size < 1 || size > 61440)
		return 2;
	stride = span();

	setup_socket(address);
	base = mmap(NULL, nbuf * stride, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	source = malloc(size);
	last_send = calloc(nbuf, sizeof *last_send);
	if (base == MAP_FAILED || !source || !last_send)
		die("memory");
	memset(base, 1, nbuf * stride);    /* populated: WP covers present pages */
	memset(source, 2, size);
	if (pipe(pipefd) || fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20) < 0)
		die("pipe");

	if (mode == THREAD || mode == SIGBUS_MODE) {
		uffd = open_uffd(mode == SIGBUS_MODE ? UFFD_FEATURE_SIGBUS : 0, 0);
		if (uffd < 0)
			die("userfaultfd (kernel-fault rights need root or CAP_SYS_PTRACE)");
		register_wp(uffd, base, nbuf * stride);
	}
	if (mode == THREAD) {
		pthread_t t;
		sigset_t all, old;

		/* The handler thread takes no signals, as the shim's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&t, NULL, handler_thread, NULL))
			die("pthread_create");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (mode == MPROTECT)
		catch(SIGSEGV);
	if (mode == SIGBUS_MODE)
		catch(SIGBUS);

	warm = n / 10 + 1;
	for (unsigned long i = 0; i < warm; i++)
		iteration(reading, i);
	faults = 0;
	c0 = cpu_us(), w0 = now_us();
	for (unsigned long i = warm; i < warm + n; i++)
		iteration(reading, i);
	c1 = cpu_us(), w1 = now_us();
	printf("%s %s %lu %.2f %.2f %lu %lu\n", argv[1], argv[2], n,
	       (c1 - c0) / n, (w1 - w0) / n, (unsigned long)faults, (unsigned long)copied);
	return 0;
}

/* ---- probe: what this kernel does ---- */

static volatile sig_atomic_t probe_sig, probe_code;
static void *volatile probe_addr;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	probe_sig = sig;
	probe_code = si->si_code;
	probe_addr = si->si_addr;
	wp(base, 4096, 0);
}

static void *probe_thread(void *arg)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg m;

	(void)arg;
	if (poll(&p, 1, 5000) != 1 || read(uffd, &m, sizeof m) != sizeof m)
		return (void *)1;
	faults = m.arg.pagefault.flags;
	usleep(20000);                  /* the reader must really wait */
	wp(base, 4096, 0);
	return NULL;
}

static int report(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAILED", what);
	return ok ? 0 : 1;
}

static int probe(void)
{
	struct sigaction sa = { .sa_sigaction = probe_handler, .sa_flags = SA_SIGINFO };
	char data[64] = "bytes from the pipe";
	int bad = 0, status;
	ssize_t r;
	pid_t pid;
	pthread_t t;
	void *tr;
	double t0;

	base = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || pipe(pipefd))
		die("probe setup");
	memset(base, 1, 4096);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	/* 1. SIGBUS mode, user write to a write-protected page. */
	uffd = open_uffd(UFFD_FEATURE_SIGBUS, 0);
	if (uffd < 0)
		die("userfaultfd (SIGBUS mode)");
	register_wp(uffd, base, 4096);
	wp(base, 4096, 1);
	*(volatile char *)(base + 100) = 7;
	bad |= report(probe_sig == SIGBUS && probe_addr == base + 100 && base[100] == 7,
		      "UFFD_FEATURE_SIGBUS: a user write to a write-protected page raises SIGBUS "
		      "at its address, and the write is retried after the handler unprotects");
	printf("    signal %d, si_code %d (BUS_ADRERR is %d), si_addr %s the written byte\n", (int)probe_sig,
	       (int)probe_code, BUS_ADRERR, probe_addr == base + 100 ? "is" : "is not");

	/* 2. SIGBUS mode, kernel write (read() from a pipe). */
	probe_sig = 0;
	wp(base, 4096, 1);
	if (write(pipefd[1], data, sizeof data) != sizeof data)
		die("write");
	r = read(pipefd[0], base, sizeof data);
	bad |= report(r < 0 && errno == EFAULT && !probe_sig,
		      "UFFD_FEATURE_SIGBUS: read() into a write-protected page gets EFAULT, no signal");
	if (r < 0 && read(pipefd[0], data, sizeof data) != sizeof data)   /* drain */
		die("read");

	wp(base, 4096, 0);
	close(uffd);

	/* 3. SIGBUS mode with SIGBUS blocked: the kernel forces the signal.
	 * In a child of its own (a fork drops the parent's registration, so
	 * the child opens its own userfaultfd). */
	pid = fork();
	if (pid == 0) {
		sigset_t s;

		uffd = open_uffd(UFFD_FEATURE_SIGBUS, 0);
		if (uffd < 0)
			_exit(2);
		register_wp(uffd, base, 4096);
		wp(base, 4096, 1);
		sigemptyset(&s);
		sigaddset(&s, SIGBUS);
		sigprocmask(SIG_BLOCK, &s, NULL);
		base[200] = 9;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	bad |= report(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
		      "UFFD_FEATURE_SIGBUS with SIGBUS blocked (a handler installed): "
		      "the write kills the process with SIGBUS");

	/* 4. Handler thread, kernel-fault rights: read() waits and succeeds. */
	uffd = open_uffd(0, 0);
	if (uffd < 0)
		die("userfaultfd (kernel-fault rights need root or CAP_SYS_PTRACE)");
	register_wp(uffd, base, 4096);
	wp(base, 4096, 1);
	if (write(pipefd[1], data, sizeof data) != sizeof data)
		die("write");
	pthread_create(&t, NULL, probe_thread, NULL);
	t0 = now_us();
	r = read(pipefd[0], base, sizeof data);
	t0 = now_us() - t0;
	pthread_join(t, &tr);
	bad |= report(r == sizeof data && !tr && (faults & UFFD_PAGEFAULT_FLAG_WP) &&
		      !memcmp(base, data, sizeof data) && t0 >= 20000,
		      "handler thread, kernel-fault rights: read() into a write-protected page "
		      "waits for the handler and succeeds");
	close(uffd);

	/* 5. Handler thread opened with UFFD_USER_MODE_ONLY: read() gets EFAULT. */
	uffd = open_uffd(0, UFFD_USER_MODE_ONLY);
	if (uffd < 0) {
		printf("skipped: UFFD_USER_MODE_ONLY (%s)\n", strerror(errno));
	} else {
		register_wp(uffd, base, 4096);
		wp(base, 4096, 1);
		if (write(pipefd[1], data, sizeof data) != sizeof data)
			die("write");
		r = read(pipefd[0], base, sizeof data);
		bad |= report(r < 0 && errno == EFAULT,
			      "UFFD_USER_MODE_ONLY: read() into a write-protected page gets EFAULT");
		if (r < 0 && read(pipefd[0], data, sizeof data) != sizeof data)
			die("read");
		wp(base, 4096, 0);
		close(uffd);
	}

	/* 6. mprotect: read() gets EFAULT. */
	mprotect(base, 4096, PROT_READ);
	if (write(pipefd[1], data, sizeof data) != sizeof data)
		die("write");
	r = read(pipefd[0], base, sizeof data);
	bad |= report(r < 0 && errno == EFAULT, "mprotect: read() into a read-only page gets EFAULT");
	return bad;
}

int main(int argc, char **argv)
{
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "probe"))
		return probe();
	r = bench(argc, argv);
	if (r == 2)
		fprintf(stderr, "usage: uffdmodes [--ring N] plain|mprotect|thread|sigbus "
			"reuse|read ITERATIONS [SIZE [ADDRESS]]\n       uffdmodes probe\n");
	return r;
}
