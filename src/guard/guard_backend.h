/*
 * guard_backend.h - what the guard asks of the thing that makes pages
 * read-only: the backend contract.
 *
 * The guard (guard.c) decides which page ranges to guard, keeps the
 * tables (the calls in flight's ranges, the idle set), waits for
 * completions and counts. A backend only acts on page ranges it is
 * handed: it never sees a socket, a call or a table. Two backends exist:
 * mprotect (guard_mprotect.c: read-only protection, writes fault with
 * SIGSEGV) and userfaultfd (guard_uffd.c: write-protect bits, writes wait
 * in the kernel for a thread of the shim).
 *
 * Common to every primitive:
 *   - ranges are page-aligned, start < end, and lie in private anonymous
 *     read-write memory of the program as the VMA cache last saw it (the
 *     kernel may know better: see kcheck.h; a backend asks it before acting);
 *   - called with the global lock held (zc_assert_locked), except init
 *     (the constructor, single-threaded), is_fault (the fault handler,
 *     before the guard takes the lock) and child_reset (the fork child,
 *     single-threaded, the lock's state unknown) and child;
 *   - async-signal-safe: raw syscalls, memcpy and memory the shim mapped
 *     itself only; no malloc, no stdio, no lock of their own. Every one but
 *     init may run in the SIGSEGV handler (zc_guard_fault resolves from there);
 *   - errno: only protect reports through it; the others leave it as found
 *     or set it only on failure (the guard's callers restore it);
 *   - nothing here writes to the program's bytes except fresh, and fresh
 *     only ever puts back the same bytes (copy) or zeros (memory being freed).
 *
 * The guard's accounting (guard_protects, cow_pages, discard_pages, the
 * stall) stays in guard.c; a backend counts only what it alone can see
 * (stale_pages, cow_attr_pages).
 */
#ifndef ZC_GUARD_BACKEND_H
#define ZC_GUARD_BACKEND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* protect's flags. */
#define ZC_GUARD_MAYHOLD 1   /* the range may hold pages this backend guards
			      * already (the guard could not list the
			      * unguarded parts): do not refuse it for them */

/* What fresh could not do (its other return is 0). */
#define ZC_FRESH_NOMAP (-1)  /* no mapping to be had (memory, max_map_count) */
#define ZC_FRESH_ATTRS (-2)  /* the pages' attributes cannot be given to a copy */
#define ZC_FRESH_PENDING (-3) /* (the guard's own, not a backend's: a call over
			       * the pages is armed but not sent yet) */

struct zc_guard_ops {
	const char *name;    /* for the log and the docs: "mprotect" */

	/* Kernel writes to a guarded page: 0 they fail (EFAULT, with nothing
	 * the program could see coming); 1 they wait until the page is
	 * resolved, like a user-space write. The read family (hooks_read.c)
	 * resolves its buffer before the call either way; this is for the
	 * writes no wrapper sees (fstat, getrandom, raw system calls). */
	int kernel_writes_wait;

	/* Once, from the constructor, before any other primitive: 0, or -1
	 * with errno (the shim then passes every call through). */
	int (*init)(void);

	/* Guard [start, end): on 0, no user-space write to any byte of it
	 * succeeds without first raising a fault that is_fault claims, until
	 * unprotect or fresh. Reads keep working. On -1 (errno: EFAULT when
	 * the kernel says the memory is not the writable memory the cache
	 * said, else the system call's) nothing of the range was guarded by
	 * this call. Never guards what is not mapped and writable (or, with
	 * ZC_GUARD_MAYHOLD, readable). The hot path: one call per range sent. */
	int (*protect)(uintptr_t start, uintptr_t end, int flags);

	/* Give write permission back to [start, end), which this backend
	 * guarded, only where the kernel says the pages are still mapped and
	 * readable; other pages are left as they are (counted stale). Never
	 * fails; never makes writable what the program mapped otherwise. */
	void (*unprotect)(uintptr_t start, uintptr_t end);

	/* Replace the guarded pages of [start, end) atomically with fresh
	 * private pages at the same address, writable, holding the same bytes
	 * (copy) or zeros (!copy: memory being freed). The kernel keeps its
	 * references to the old pages until it is done with them (the send
	 * in flight still reads them). The fresh pages keep every attribute
	 * of the mapping they replace (vmattr.h), or nothing is done:
	 * ZC_FRESH_ATTRS. ZC_FRESH_NOMAP: no mapping to be had. Either way the
	 * pages that were not replaced stay guarded and unchanged. Pages the
	 * kernel says are not mapped and readable any more are skipped
	 * (counted stale). 0: all the rest replaced. */
	int (*fresh)(uintptr_t start, uintptr_t end, int copy);

	/* In the fault handler (signal context, lock not held): could this
	 * signal be a write to a page this backend guards? On 1, *addr is the
	 * faulting address, for the guard to look up (zc_guard_fault). 0: the
	 * signal is not the guard's; it goes to the program. */
	int (*is_fault)(int sig, const siginfo_t *si, uintptr_t *addr);

	/* In a fork child (single-threaded): the child's copy of [start, end),
	 * a range the parent guarded, becomes writable, and only the parts
	 * the parent's guard made read-only (the records may be half-written:
	 * check each range against the kernel's view). first: the first call
	 * since the fork (a backend may refresh what it reads once). */
	void (*child_reset)(uintptr_t start, uintptr_t end, int first);

	/* Optional (NULL: the backend has none of it). */

	/* Which pages of [start, start + n pages) does the backend guard
	 * now, by the kernel's word: out[i] = 1 guarded, 0 not (unknown: 1).
	 * Lock held. */
	void (*guarded)(uintptr_t start, size_t n, uint8_t *out);

	/* Has the kernel reported memory gone or moved since the last sync?
	 * (lock-free, cheap: asked before every use of the records) */
	int (*pending)(void);

	/* Apply those reports to the guard's records, through
	 * zc_guard_gone_locked and zc_guard_moved_locked (guard.h). Lock held. */
	void (*sync)(void);

	/* In a fork child, after the records were reset (child_reset):
	 * forked is 1 for a fork() child (the C library whole), 0 for any
	 * other. 0: keep this backend; -1: the child uses mprotect. */
	int (*child)(int forked);
};

/* The backend in use: set once by zc_guard_init, read everywhere after.
 * Never NULL (the mprotect backend until then). */
extern const struct zc_guard_ops *zc_guard_backend;

/* The backends. */
extern const struct zc_guard_ops zc_guard_mprotect;
extern const struct zc_guard_ops zc_guard_uffd;        /* kernel writes wait */
extern const struct zc_guard_ops zc_guard_uffd_user;   /* UFFD_USER_MODE_ONLY */

/* guard_uffd.c: open a userfaultfd that can write-protect (0, and
 * *kernel_faults says whether kernel writes wait), or -1 with errno. */
int zc_uffd_open(int *kernel_faults);
/* Its fd (-1: none), and the close family's warning that fd is going. */
int zc_uffd_fd(void);
void zc_uffd_fd_closing(int fd);

#endif
