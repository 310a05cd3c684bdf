/*
 * hooks_thread.c - a thread's stack outlives none of the shim's records.
 *
 * The C library unmaps (or caches, then unmaps) a finished thread's stack
 * itself, with no call the shim can see. A record about pages of that
 * stack (a send from a stack buffer still in flight, a buffer kept
 * read-only) would outlive the memory and later act on whatever the
 * program maps there. So every thread starts through a trampoline that
 * pushes a cleanup handler: on return from the start routine, on
 * pthread_exit and on cancellation (all three run it, before the C library
 * may free the stack), the guarded pages of the thread's stack, thread
 * locals included, are resolved as a write would resolve them: kept pages
 * become writable, pages in flight wait up to ZCSHIM_STALL_US for their
 * completion and then get a private copy (the kernel keeps the originals).
 * What a thread created another way (a raw clone) leaves is caught by the
 * kernel checks before any record is acted on (kcheck.h).
 */
#include "guard.h"
#include "shim.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
/* Under valgrind a stack of one's own must be declared, or every switch to
 * it is reported (a no-op natively). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef VALGRIND_STACK_REGISTER
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

struct start {
	void *(*fn)(void *);
	void *arg;
};

/*
 * The resolve runs on a stack of its own. Below the handler's frame lie
 * the dead frames of the thread's start routine, whose pages may be
 * guarded (read-only): the resolve's frames would run over them while
 * holding the shim's lock, where a fault could not be served (and without
 * an alternate signal stack not even delivered).
 */
#define EXIT_STACK (256 * 1024)

struct exit_job {
	uintptr_t lo, cut, hi;
	ucontext_t back;
};
static __thread struct exit_job *exit_job ZC_TLS_MODEL;

/* Below cut lie only dead frames: nobody reads them again, so their
 * guarded pages get fresh pages, with no wait and no copy (the kernel
 * keeps the originals). From cut up, the live frames and the thread's
 * locals: waited for, then copied, as a write would have them. */
static void resolve_parts(uintptr_t lo, uintptr_t cut, uintptr_t hi)
{
	zc_guard_resolve(lo, cut, ZC_RESOLVE_DISCARD, 0);
	zc_guard_resolve(cut, hi, ZC_RESOLVE_COPY, (uint64_t)zc_cfg.stall_us * 1000u);
}

static void exit_resolve(void)
{
	struct exit_job *j = exit_job;

	resolve_parts(j->lo, j->cut, j->hi);
}   /* returns to j->back (uc_link) */

static void resolve_stack(uintptr_t lo, uintptr_t hi)
{
	struct exit_job j = { lo, 0, hi, { 0 } };
	ucontext_t run;
	unsigned vg;
	long stk = syscall(SYS_mmap, NULL, EXIT_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t low = (uintptr_t)&run < (uintptr_t)&j ? (uintptr_t)&run : (uintptr_t)&j;

	/* This frame is the lowest one still live (swapcontext pushes
	 * little more below it); a page of margin. */
	j.cut = zc_page_down(low) - zc_page;
	if (j.cut < lo || j.cut > hi)
		j.cut = lo;
	if (stk == -1 || getcontext(&run)) {
		/* No stack to be had: resolve here, the best left. */
		resolve_parts(j.lo, j.cut, j.hi);
		if (stk != -1)
			syscall(SYS_munmap, stk, EXIT_STACK);
		return;
	}
	run.uc_stack.ss_sp = (void *)stk;
	run.uc_stack.ss_size = EXIT_STACK;
	run.uc_link = &j.back;
	makecontext(&run, exit_resolve, 0);
	exit_job = &j;
	vg = VALGRIND_STACK_REGISTER(stk, stk + EXIT_STACK);
	swapcontext(&j.back, &run);
	VALGRIND_STACK_DEREGISTER(vg);
	exit_job = NULL;
	syscall(SYS_munmap, stk, EXIT_STACK);
}

static void stack_exit(void *unused)
{
	pthread_attr_t a;
	void *lo = NULL;
	size_t size = 0;
	int saved = errno, ok;

	(void)unused;
	if (!zc_ready || !zc_guard_any())
		goto out;
	if (pthread_getattr_np(pthread_self(), &a))
		goto out;
	ok = pthread_attr_getstack(&a, &lo, &size) == 0 && lo && size;
	pthread_attr_destroy(&a);
	if (!ok || !zc_guard_maybe((uintptr_t)lo, (uintptr_t)lo + size))
		goto out;
	zc_lock();
	ok = zc_ext_overlaps(&zc_ext, (uintptr_t)lo, (uintptr_t)lo + size);
	zc_unlock();
	if (!ok)
		goto out;
	ZC_STAT_ADD(stack_exit_resolves, 1);
	resolve_stack((uintptr_t)lo, (uintptr_t)lo + size);
out:
	errno = saved;
}

static void *trampoline(void *p)
{
	struct start st = *(struct start *)p;
	void *r;

	free(p);
	pthread_cleanup_push(stack_exit, NULL);
	r = st.fn(st.arg);
	pthread_cleanup_pop(1);
	return r;
}

ZC_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	struct start *st;
	int r;

	if (!zc_ready || !(st = malloc(sizeof *st)))
		return ZC_REAL(pthread_create)(t, attr, fn, arg);
	zc_guard_start_if_wanted();   /* the program may start threads here: so may the guard */
	st->fn = fn;
	st->arg = arg;
	r = ZC_REAL(pthread_create)(t, attr, trampoline, st);
	if (r)
		free(st);
	return r;
}
