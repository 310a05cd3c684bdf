/*
 * handleralloc.c - the process's first large send comes from a signal
 * handler that interrupted malloc().
 *
 * send() is async-signal-safe, so a program may send from a handler; the
 * allocator is not, and a handler may interrupt it. A shim that called
 * the allocator from such a send would wait for a lock the interrupted
 * call holds, in the same thread, for ever: with the userfaultfd guard,
 * pthread_create() for the guard's threads allocates the new thread's TLS
 * with the program's calloc().
 *
 * This program brings its own allocator (as programs built with tcmalloc
 * or their own do): malloc() and the rest are defined here, a bump
 * allocator on a static arena, with no lock (so the receiving thread can
 * allocate meanwhile). Inside it, the main thread raises SIGUSR2 once;
 * the handler sends message 0 from a 64 KiB buffer. An allocator call
 * made while the same thread is inside one is what would have hung: it
 * exits 1 instead, naming the case.
 *
 * Then the main thread sends messages 1 to NMSG-1 from the same buffer
 * outside any handler, rewriting it right after each send: the guard
 * (started by then) must keep every byte intact.
 *
 * The jump modes check the other half: a thread that left a handler by a
 * jump is outside it. Before any send, a SIGUSR2 handler leaves by
 *   longjmp    siglongjmp() (glibc's longjmp, the same code);
 *   altstack   siglongjmp() from a handler on a signal stack (SA_ONSTACK);
 *   chk        __longjmp_chk(), what _FORTIFY_SOURCE makes of longjmp();
 * then every message is sent outside handlers. A shim that still counted
 * the handler would take the thread for inside one, and never start the
 * guard's threads: every send copied (copy_guard_threads).
 *
 * Mode vmchild: the first large send that could be guarded is a
 * clone(CLONE_VM | CLONE_VFORK) child's (as posix_spawn makes), on the
 * parent's socket, which the parent used before (message 0, from shared
 * memory: copied). Threads started in the child would belong to it and
 * die with it, and the parent's rewrites would wait for them for ever: the
 * child's send (message 1) is copied, and the parent's after it guarded.
 * Mode vmchildfirst: the same child sends message 0, on a socket nobody
 * sent on before (the shim meets it first in the child).
 *
 * Exit: 0 intact, 1 corrupt or the allocator re-entered, 2 could not run.
 */
#include "common.h"

#include <errno.h>
#include <sched.h>
#include <malloc.h>   /* the allocator's prototypes: it defines them */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_LEN (64u * 1024u)
#define NMSG 17u

/* ---- the program's allocator ---- */

#define ARENA (256u << 20)
static unsigned char arena[ARENA] __attribute__((aligned(4096)));
static size_t arena_used;
static __thread int in_alloc;            /* this thread is inside the allocator */
static volatile sig_atomic_t raise_inside;   /* raise SIGUSR2 in the next malloc */

static void reentered(void)
{
	static const char msg[] = "handleralloc: the allocator was called from a signal handler "
				  "that interrupted it (a real allocator would deadlock here)\n";
	ssize_t r = write(2, msg, sizeof msg - 1);

	(void)r;
	_exit(ITEST_CORRUPT);
}

/* size bytes aligned to align (a power of two, at least 16), with the
 * block's size stored in the 16 bytes before it. */
static void *bump(size_t size, size_t align)
{
	size_t need, off, old;
	void *p;

	if (in_alloc)
		reentered();
	in_alloc = 1;
	if (align < 16)
		align = 16;
	need = ((size + 15) & ~(size_t)15) + align + 16;
	old = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
	if (old + need > ARENA || need < size) {
		in_alloc = 0;
		errno = ENOMEM;
		return NULL;
	}
	off = (old + 16 + align - 1) & ~(align - 1);
	p = arena + off;
	((size_t *)p)[-2] = size;
	if (raise_inside) {
		raise_inside = 0;
		raise(SIGUSR2);   /* the handler runs now, inside malloc() */
	}
	in_alloc = 0;
	return p;
}

static size_t block_size(const void *p)
{
	return ((const size_t *)p)[-2];
}

void *malloc(size_t n) { return bump(n, 16); }
void free(void *p) { (void)p; if (in_alloc) reentered(); }
void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = bump(n * size, 16);
	if (p)
		memset(p, 0, n * size);   /* the arena is never reused, but say so */
	return p;
}
void *realloc(void *old, size_t n)
{
	void *p = bump(n, 16);

	if (p && old)
		memcpy(p, old, block_size(old) < n ? block_size(old) : n);
	return p;
}
void *memalign(size_t align, size_t n) { return bump(n, align); }
void *aligned_alloc(size_t align, size_t n) { return bump(n, align); }
void *valloc(size_t n) { return bump(n, 4096); }
void *pvalloc(size_t n) { return bump((n + 4095) & ~(size_t)4095, 4096); }
int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = bump(n, align);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
size_t malloc_usable_size(void *p) { return p ? block_size(p) : 0; }

/* ---- the program ---- */

static int snd = -1;
static unsigned char *buf;
static volatile sig_atomic_t handler_rc = -1;

static void on_usr2(int sig)
{
	(void)sig;
	handler_rc = itest_send_all(snd, buf, MSG_LEN) ? ITEST_ERROR : 0;
}

/* The jump modes. */
extern void __longjmp_chk(sigjmp_buf env, int val) __attribute__((noreturn));
static sigjmp_buf back;
static int use_chk;

static void jump_out(int sig)
{
	(void)sig;
	if (use_chk)
		__longjmp_chk(back, 1);
	siglongjmp(back, 1);
}

/* Leave a SIGUSR2 handler by a jump (mode: longjmp, altstack, chk). */
static int jump_from_handler(const char *mode)
{
	static unsigned char altstack[64 * 1024];
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = jump_out;
	sigemptyset(&sa.sa_mask);
	if (!strcmp(mode, "altstack")) {
		stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };

		if (sigaltstack(&ss, NULL))
			return -1;
		sa.sa_flags |= SA_ONSTACK;
	} else if (!strcmp(mode, "chk")) {
		use_chk = 1;
	} else if (strcmp(mode, "longjmp")) {
		return -1;
	}
	if (sigaction(SIGUSR2, &sa, NULL))
		return -1;
	if (!sigsetjmp(back, 1)) {
		raise(SIGUSR2);
		return -1;   /* the handler did not jump */
	}
	return 0;
}

/* Mode vmchild: message 0 from a child sharing this memory. */
static int vm_child(void *arg)
{
	(void)arg;
	return itest_send_all(snd, buf, MSG_LEN) ? 1 : 0;
}

static int send_from_vm_child(int first)
{
	static unsigned char stack[256 * 1024] __attribute__((aligned(16)));
	unsigned char *shared = mmap(NULL, MSG_LEN, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int st;
	pid_t pid;

	if (shared == MAP_FAILED)
		return -1;
	if (!first) {
		itest_fill(shared, MSG_LEN, 0);
		if (itest_send_all(snd, shared, MSG_LEN))
			return -1;
	}
	itest_fill(buf, MSG_LEN, first ? 0 : 1);
	pid = clone(vm_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	memset(buf, 0xEE, MSG_LEN);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "malloc";
	struct sigaction sa;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	unsigned first = 1;
	int rcv;
	void *p;

	if (itest_tcp_pair(&snd, &rcv))
		return ITEST_ERROR;
	buf = mmap(NULL, MSG_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return ITEST_ERROR;
	rx = itest_receiver_start(rcv, 200);
	if (!rx)
		return ITEST_ERROR;
	if (!strcmp(mode, "vmchild") || !strcmp(mode, "vmchildfirst")) {
		int child_first = !strcmp(mode, "vmchildfirst");

		if (send_from_vm_child(child_first)) {
			fprintf(stderr, "handleralloc: %s: the child's send failed\n", mode);
			return ITEST_ERROR;
		}
		first = child_first ? 1 : 2;
	} else if (strcmp(mode, "malloc")) {
		if (jump_from_handler(mode)) {
			fprintf(stderr, "handleralloc: %s: could not leave a handler by a jump\n", mode);
			return ITEST_ERROR;
		}
		first = 0;   /* every message from here, outside handlers */
	} else {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr2;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR2, &sa, NULL))
			return ITEST_ERROR;

		/* Message 0, from the handler, inside malloc(). */
		itest_fill(buf, MSG_LEN, 0);
		raise_inside = 1;
		p = malloc(100);
		if (!p || handler_rc != 0) {
			fprintf(stderr, "handleralloc: the handler's send failed (%d)\n",
				(int)handler_rc);
			return ITEST_ERROR;
		}
		memset(buf, 0xEE, MSG_LEN);
	}

	/* The rest, outside handlers, each rewritten at once. */
	for (unsigned m = first; m < NMSG; m++) {
		itest_fill(buf, MSG_LEN, m);
		if (itest_send_all(snd, buf, MSG_LEN))
			return ITEST_ERROR;
		memset(buf, 0xEE, MSG_LEN);
	}
	itest_dump_stats();
	close(snd);
	got = itest_receiver_join(rx, &gotlen);
	return itest_verify(got, gotlen, NMSG, MSG_LEN) ? ITEST_CORRUPT : ITEST_OK;
}
