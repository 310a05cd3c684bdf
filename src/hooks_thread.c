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
#include "signals.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct start {
	void *(*fn)(void *);
	void *arg;
};

/*
 * Write a byte in each page below the caller's frame. The dead frames of
 * the thread's start routine lie there, and their pages may be guarded
 * (read-only): the resolve that follows runs its own frames over them
 * while holding the shim's lock, where a fault could not be served. Each
 * write that faults here is served now, without the lock (on the thread's
 * alternate signal stack: the stack itself may be read-only). Dead frames
 * only: what is written is never read.
 */
#define TOUCH_BYTES (32 * 1024)
static __attribute__((noinline)) void touch_below(void)
{
	volatile char pad[TOUCH_BYTES];

	for (size_t i = 0; i < sizeof pad; i += 1024)
		pad[i] = 0;
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
	zc_altstack_ensure();
	touch_below();
	zc_guard_resolve((uintptr_t)lo, (uintptr_t)lo + size, ZC_RESOLVE_COPY,
			 (uint64_t)zc_cfg.stall_us * 1000u);
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
	st->fn = fn;
	st->arg = arg;
	r = ZC_REAL(pthread_create)(t, attr, trampoline, st);
	if (r)
		free(st);
	return r;
}
