/*
 * guard_mprotect.c - the mprotect guard backend (guard_backend.h): a
 * guarded page is mapped read-only, a write to it faults with SIGSEGV
 * (SEGV_ACCERR), and a private copy is a fresh mapping moved over it with
 * mremap.
 *
 * Kernel writes into a read-only page fail (EFAULT) instead of waiting,
 * hence kernel_writes_wait = 0: the read family resolves first.
 *
 * Signal-context invariant: every primitive but init runs in the SIGSEGV
 * handler (through zc_guard_fault). Raw syscalls (mprotect, mmap, mremap,
 * munmap, madvise), memcpy, and the static buffers of kcheck.c, vmattr.c
 * and vma.c only. No malloc, no stdio.
 */
#include "guard_backend.h"
#include "kcheck.h"
#include "shim.h"
#include "stats.h"
#include "vma.h"
#include "vmattr.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_mprotect(uintptr_t start, uintptr_t end, int prot)
{
	return syscall(SYS_mprotect, (void *)start, (size_t)(end - start), prot);
}

static int mp_init(void)
{
	zc_kcheck_init();   /* the kernel's view, which every primitive asks */
	return 0;
}

static int mp_protect(uintptr_t start, uintptr_t end, int flags)
{
	/* The VMA cache said read-write memory, but the kernel has the last
	 * word (a raw mmap may have put something else there): never make
	 * readable what is not, nor guard what is not writable. (A MAYHOLD
	 * range holds pages read-only already.) */
	int ok = (flags & ZC_GUARD_MAYHOLD) ? zc_kcheck_readable(start, end)
					    : zc_kcheck_writable(start, end);

	if (ok == 0) {
		ZC_STAT_ADD(stale_pages, (end - start) / zc_page);
		zc_vma_invalidate();
		errno = EFAULT;
		return -1;
	}
	return sys_mprotect(start, end, PROT_READ) ? -1 : 0;
}

/*
 * Write permission back for [start, end), which the guard made read-only,
 * only where the kernel says the pages are still mapped and readable. A
 * record can outlive its memory (unmapped behind the shim's back, see
 * kcheck.h): a page now unmapped, or mapped PROT_NONE by the program, is
 * left as it is and counted.
 */
static void mp_unprotect(uintptr_t start, uintptr_t end)
{
	if (zc_kcheck_readable(start, end) != 0) {
		sys_mprotect(start, end, PROT_READ | PROT_WRITE);
		return;
	}
	for (uintptr_t p = start; p < end; p += zc_page) {
		if (zc_kcheck_readable(p, p + zc_page) == 1)
			sys_mprotect(p, p + zc_page, PROT_READ | PROT_WRITE);
		else
			ZC_STAT_ADD(stale_pages, 1);
	}
}

/* fn over the runs of [start, end) the kernel says are mapped and
 * readable; the other pages are counted stale and left alone. What fn
 * returned for the run it failed on, or 0. */
static int readable_runs(uintptr_t start, uintptr_t end, int (*fn)(uintptr_t, uintptr_t))
{
	uintptr_t run = start;

	if (zc_kcheck_readable(start, end) != 0)
		return fn(start, end);
	for (uintptr_t p = start; p < end; p += zc_page) {
		int f;

		if (zc_kcheck_readable(p, p + zc_page) == 1)
			continue;
		ZC_STAT_ADD(stale_pages, 1);
		if (run < p && (f = fn(run, p)))
			return f;
		run = p + zc_page;
	}
	return run < end ? fn(run, end) : 0;
}

/* A fresh mapping takes the place of [start, end), atomically (mremap over
 * the pages): with their current bytes (copy: copy-on-write; the kernel
 * keeps its references to the originals until it is done with them), or
 * zero-filled (for memory being freed, whose content nobody reads again).
 * It gets every attribute of the mapping it replaces, or it is not made
 * (vmattr.h): a copy the program could tell apart from its memory (a
 * WIPEONFORK page a fork child reads, locked memory that swaps) would be
 * a change it never asked for. */
static int fresh_range(uintptr_t start, uintptr_t end, int copy)
{
	size_t len = end - start;
	long tmp = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int m;
	long r;

	if (tmp == -1)
		return ZC_FRESH_NOMAP;
	m = zc_vmattr_match(start, (uintptr_t)tmp, len);
	if (m == ZC_VMATTR_REFUSED) {
		syscall(SYS_munmap, (void *)tmp, len);
		return ZC_FRESH_ATTRS;
	}
	if (copy)
		memcpy((void *)tmp, (const void *)start, len);
	if (zc_vmattr_finish((uintptr_t)tmp, len)) {
		syscall(SYS_munmap, (void *)tmp, len);
		return ZC_FRESH_ATTRS;
	}
	r = syscall(SYS_mremap, (void *)tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		    (void *)start);
	if (r == -1) {
		int e = errno;

		syscall(SYS_munmap, (void *)tmp, len);
		errno = e;
		return ZC_FRESH_NOMAP;
	}
	if (m == ZC_VMATTR_CARRIED)
		ZC_STAT_ADD(cow_attr_pages, len / zc_page);
	return 0;
}

static int fresh_copy(uintptr_t start, uintptr_t end)
{
	return fresh_range(start, end, 1);
}

static int fresh_discard(uintptr_t start, uintptr_t end)
{
	return fresh_range(start, end, 0);
}

static int mp_fresh(uintptr_t start, uintptr_t end, int copy)
{
	/* Only over what the kernel says is still mapped and readable. */
	return readable_runs(start, end, copy ? fresh_copy : fresh_discard);
}

/* A write to a read-only page of an accessible mapping: SEGV_ACCERR (a
 * SIGSEGV sent with kill() has si_code <= 0). */
static int mp_is_fault(int sig, const siginfo_t *si, uintptr_t *addr)
{
	if (sig != SIGSEGV || !si || si->si_code != SEGV_ACCERR)
		return 0;
	*addr = (uintptr_t)si->si_addr;
	return 1;
}

/* vma.c makes writable only the private anonymous read-only mappings in
 * the range, from a fresh read of the child's maps (first). */
static void mp_child_reset(uintptr_t start, uintptr_t end, int first)
{
	zc_vma_child_unprotect(start, end, first);
}

const struct zc_guard_ops zc_guard_mprotect = {
	.name = "mprotect",
	.kernel_writes_wait = 0,
	.init = mp_init,
	.protect = mp_protect,
	.unprotect = mp_unprotect,
	.fresh = mp_fresh,
	.is_fault = mp_is_fault,
	.child_reset = mp_child_reset,
};
