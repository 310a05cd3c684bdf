/*
 * hooks_mem.c - the program's memory changing under the guard.
 *
 *   malloc    (hooks_alloc.c) large blocks on a page boundary;
 *   free      the chunk waits in the quarantine (quarantine.h) until its
 *             pages are released, then is freed for the program; when the
 *             quarantine is full its guarded pages get fresh pages (no
 *             copy, no wait) before the allocator may reuse them;
 *   realloc   the allocator may copy and free internally: private copies
 *             first;
 *   munmap    the pages go away (the kernel keeps what it pinned): stop
 *             guarding them, so no later release touches a new mapping
 *             at the same address;
 *   mremap, mprotect, pkey_mprotect
 *             resolve like a write would (wait, then copy), so the guard
 *             never restores a permission the program has changed;
 *   madvise   not wrapped: it changes no permission (MADV_DONTNEED or
 *             MADV_FREE on guarded pages drop their content for the
 *             program as without the shim, while the kernel keeps the
 *             pages it pinned; the pages stay read-only, and a write
 *             faults into the guard as before);
 *   mmap, brk, sbrk
 *             mappings changed: the VMA cache is dropped. (dlopen is not
 *             wrapped: a wrapper would change the caller dlopen resolves
 *             $ORIGIN and RUNPATH against; a library's new mappings are
 *             simply unknown to the cache, which then reads them.)
 */
#include "guard.h"
#include "hooks_alloc.h"
#include "quarantine.h"
#include "shim.h"
#include "vma.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* free() must leave errno alone (POSIX.1-2024), and the others must not
 * change it when they succeed: zc_guard_resolve keeps errno. */
static void chunk_dying(void *p, enum zc_resolve mode)
{
	uintptr_t a = (uintptr_t)p;
	size_t n = ZC_REAL(malloc_usable_size)(p);

	if (!n || a + n < a)
		return;
	if (mode == ZC_RESOLVE_DISCARD)
		zc_guard_resolve(a, a + n, ZC_RESOLVE_DISCARD, 0);
	/* Pages only partly inside the chunk (a payload that reached past
	 * it) keep their other bytes: copy those. */
	zc_guard_resolve(a, a + n, ZC_RESOLVE_COPY, 0);
}

/* A chunk with guarded pages waits in the quarantine for its completion;
 * only if the quarantine is full do its pages get fresh ones now. */
static int free_later(void *p)
{
	int saved = errno, r = 0;
	uintptr_t a = (uintptr_t)p;
	size_t n = ZC_REAL(malloc_usable_size)(p);

	if (n && a + n > a && zc_guard_maybe(a, a + n)) {
		r = zc_quarantine_put(p, a, a + n);
		if (r < 0) {
			chunk_dying(p, ZC_RESOLVE_DISCARD);
			r = 0;
		}
	}
	errno = saved;
	return r;
}

ZC_EXPORT void free(void *p)
{
	if (ZC_UNLIKELY(zc_boot_owns(p)))
		return;   /* a block of the bootstrap arena: never freed */
	if (ZC_UNLIKELY(!zc_real.free)) {
		if (zc_binding)
			return;   /* dlsym's own allocation while binding: leak it */
		zc_real_bind();
	}
	if (ZC_UNLIKELY(!zc_ready)) {
		zc_real.free(p);
		return;
	}
	if (p && ZC_UNLIKELY(zc_guard_any()) && free_later(p))
		p = NULL;
	zc_real.free(p);
	/* A call that cannot be inside a handler that interrupted the
	 * allocator: where the guard's threads wait to start. */
	zc_guard_start_if_wanted();
	if (ZC_UNLIKELY(__atomic_load_n(&zc_quarantine_count, __ATOMIC_RELAXED))) {
		int saved = errno;

		zc_quarantine_drain();
		errno = saved;
	}
}

/* A block of the bootstrap arena moves to the allocator's memory. */
static void *boot_realloc(void *p, size_t n)
{
	size_t old = zc_boot_size(p);
	void *q = malloc(n ? n : 1);

	if (q)
		memcpy(q, p, old < n ? old : n);
	return q;
}

ZC_EXPORT void *realloc(void *p, size_t n)
{
	if (ZC_UNLIKELY(zc_boot_owns(p)))
		return boot_realloc(p, n);
	if (p && ZC_UNLIKELY(zc_guard_any()) && zc_ready)
		chunk_dying(p, ZC_RESOLVE_COPY);
	return ZC_REAL(realloc)(p, n);
}

ZC_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	if (ZC_UNLIKELY(zc_boot_owns(p))) {
		if (size && n > SIZE_MAX / size) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_realloc(p, n * size);
	}
	if (p && ZC_UNLIKELY(zc_guard_any()) && zc_ready)
		chunk_dying(p, ZC_RESOLVE_COPY);
	return ZC_REAL(reallocarray)(p, n, size);
}

static void range_changing(void *addr, size_t len, enum zc_resolve mode)
{
	uintptr_t a = (uintptr_t)addr;

	if (zc_ready && ZC_UNLIKELY(zc_guard_any()) && len && a + len > a)
		zc_guard_resolve(a, a + len, mode,
				 mode == ZC_RESOLVE_COPY ? (uint64_t)zc_cfg.stall_us * 1000u : 0);
}

ZC_EXPORT int munmap(void *addr, size_t len)
{
	int r;

	range_changing(addr, len, ZC_RESOLVE_FORGET);
	r = ZC_REAL(munmap)(addr, len);
	zc_vma_invalidate();
	return r;
}

ZC_EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	void *newaddr = NULL, *r;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		newaddr = va_arg(ap, void *);
		va_end(ap);
		range_changing(newaddr, newlen, ZC_RESOLVE_FORGET);
	}
	range_changing(old, oldlen, ZC_RESOLVE_COPY);
	r = (flags & MREMAP_FIXED) ? ZC_REAL(mremap)(old, oldlen, newlen, flags, newaddr)
				   : ZC_REAL(mremap)(old, oldlen, newlen, flags);
	zc_vma_invalidate();
	return r;
}

ZC_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int r;

	range_changing(addr, len, ZC_RESOLVE_COPY);
	r = ZC_REAL(mprotect)(addr, len, prot);
	zc_vma_invalidate();
	return r;
}

/* pkey_mprotect with pkey -1 is mprotect; with a key it also limits
 * access: either way the guard lets go first. */
ZC_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey)
{
	int r;

	range_changing(addr, len, ZC_RESOLVE_COPY);
	r = ZC_REAL(pkey_mprotect)(addr, len, prot, pkey);
	zc_vma_invalidate();
	return r;
}

/* mmap and mmap64 are one function on 64-bit systems; both are wrapped
 * because a program may call either name. */
static void mapping_over(void *addr, size_t len, int flags)
{
	if (flags & MAP_FIXED)
		range_changing(addr, len, ZC_RESOLVE_FORGET);
}

ZC_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *r;

	mapping_over(addr, len, flags);
	r = ZC_REAL(mmap)(addr, len, prot, flags, fd, off);
	zc_vma_invalidate();
	return r;
}

ZC_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	void *r;

	mapping_over(addr, len, flags);
	r = ZC_REAL(mmap64)(addr, len, prot, flags, fd, off);
	zc_vma_invalidate();
	return r;
}

ZC_EXPORT int brk(void *addr)
{
	void *cur = ZC_REAL(sbrk)(0);

	if (addr < cur && cur != (void *)-1)
		range_changing(addr, (size_t)((char *)cur - (char *)addr), ZC_RESOLVE_FORGET);
	zc_vma_invalidate();
	return ZC_REAL(brk)(addr);
}

ZC_EXPORT void *sbrk(intptr_t inc)
{
	if (inc < 0) {
		char *cur = ZC_REAL(sbrk)(0);

		if (cur != (char *)-1)
			range_changing(cur + inc, (size_t)-inc, ZC_RESOLVE_FORGET);
	}
	if (inc)
		zc_vma_invalidate();
	return ZC_REAL(sbrk)(inc);
}
