/*
 * hooks_alloc.c - large blocks start on a page boundary.
 *
 * A send whose first byte is not on a page boundary begins on a page it
 * shares with other memory (the allocator's header, the block before). The
 * guard never protects such a page: a kernel write into the rest of it
 * would fail with EFAULT. So its bytes go out from the shim's bounce
 * memory: a copy of up to a page, and one more piece for the kernel to pin.
 * glibc's malloc puts a 16-byte header before each block, so every large
 * block starts 16 bytes past a page boundary: the worst case, 4080 bytes
 * copied per send. malloc(n) for n at least ZCSHIM_THRESHOLD (and at least
 * ZC_ALIGN_FLOOR), below ZC_ALIGN_CEIL, asks the next allocator for a
 * page-aligned block instead
 * (posix_memalign): a block valid for every use a malloc() block is, freed
 * by free(), resized by realloc(). A block that realloc() grows past the
 * threshold, and calloc()'s, stay as the allocator places them.
 *
 * Only with ZCSHIM_ALIGN=1, because whether it pays depends on the
 * program. Where buffers are kept and sent again it does: each send goes
 * out as one piece instead of three, with no bounce copy. Where a block is
 * allocated per message it costs: not the aligned allocation itself, but
 * the aligned blocks land at more addresses, each a buffer the shim has to
 * learn, and glibc's heap grows and shrinks more. So by default malloc()
 * goes straight to the next allocator (the figures: docs/PERF-HISTORY.md).
 *
 * malloc() is called before the shim's constructor (by ld.so, libc, other
 * libraries' constructors): those calls bind the shim's libc functions
 * first, as free() does, and dlsym() may itself call malloc() while
 * binding. Those few blocks come from a small static arena: never freed,
 * and known to free() and realloc().
 */
#include "hooks_alloc.h"
#include "owner.h"
#include "shim.h"
#include "stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t zc_align_min = SIZE_MAX;

void zc_align_init(void)
{
	size_t min = zc_cfg.threshold > ZC_ALIGN_FLOOR ? zc_cfg.threshold : ZC_ALIGN_FLOOR;

	__atomic_store_n(&zc_align_min, zc_cfg.align ? min : SIZE_MAX, __ATOMIC_RELAXED);
}

/* The bootstrap arena: 16-byte size header, 16-byte aligned blocks. */
#define BOOT_SIZE (64u * 1024u)
static char boot[BOOT_SIZE] __attribute__((aligned(16)));
static size_t boot_used;

static void *boot_alloc(size_t n)
{
	size_t need = ((n + 15) & ~(size_t)15) + 16, off;

	if (need < n || need > BOOT_SIZE)
		goto nomem;
	off = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
	if (off > BOOT_SIZE - need)
		goto nomem;
	memcpy(boot + off, &n, sizeof n);
	return boot + off + 16;
nomem:
	errno = ENOMEM;
	return NULL;
}

int zc_boot_owns(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + BOOT_SIZE;
}

size_t zc_boot_size(const void *p)
{
	size_t n;

	memcpy(&n, (const char *)p - 16, sizeof n);
	return n;
}

ZC_EXPORT void *malloc(size_t n)
{
	void *p;
	int e;

	if (ZC_UNLIKELY(!zc_real.malloc)) {
		if (zc_binding)
			return boot_alloc(n);   /* dlsym's own, while binding */
		zc_real_bind();
		if (!zc_real.malloc)
			return boot_alloc(n);
	}
	if (ZC_LIKELY(n < __atomic_load_n(&zc_align_min, __ATOMIC_RELAXED)) || n >= ZC_ALIGN_CEIL ||
	    !zc_real.posix_memalign)
		return zc_real.malloc(n);
	e = zc_real.posix_memalign(&p, zc_page, n);
	if (e) {
		errno = e;   /* malloc's contract: NULL and ENOMEM */
		return NULL;
	}
	/* Not counted in a fork child that has not reset yet (owner.h): its
	 * counters' page is still its parent's live stats page. */
	if (__atomic_load_n(&zc_own->state, __ATOMIC_RELAXED) == ZC_OWN_OWNED)
		ZC_STAT_ADD(aligned_allocs, 1);
	return p;
}
