/*
 * guard.h - the guard: pages of unreleased zerocopy sends stay read-only;
 * a write to one waits for the completion, then gets a private copy.
 * The mechanism: what is worth guarding, and what stays read-only after a
 * release, is policy.h's to decide.
 * The page primitives (read-only, writable, a private copy, whether a
 * fault is a write to a guarded page) are the backend's, behind struct
 * zc_guard_ops (guard_backend.h, which states their contract); this file's
 * functions hand it page ranges, never sockets.
 *
 * Locking rules (see the invariant in shim.h):
 *   - zc_ext, zc_release_seq and the socket slots change only under the
 *     global lock (the bounce pool's free list is lock-free, bounce.c);
 *     the table's call entries change only in inflight.c (inflight.h),
 *     the idle set only here;
 *   - functions named *_locked expect the lock held; the others take it;
 *   - nothing under the lock writes to program memory, and nothing waits
 *     for the kernel under it except non-blocking error-queue reads and
 *     memory syscalls (mprotect, mmap, mremap).
 */
#ifndef ZC_GUARD_H
#define ZC_GUARD_H

#include <stdint.h>

#include "extent.h"
#include "guard_backend.h"   /* zc_guard_backend, the page primitives */
#include "inflight.h"   /* zc_pin_cap, which init.c sets through this header */
#include "policy.h"

extern struct zc_ext_table zc_ext;
/* Bumped whenever a guarded page may have become writable or a call
 * completed: lets the fault handler tell a write that raced with a release
 * from a real fault, and the quarantine know when to look. */
extern uint32_t zc_release_seq;

int zc_guard_init(void);

/* Is anything guarded at all? (a lock-free hint for fast paths) */
static inline int zc_guard_any(void)
{
	return zc_ext_any(&zc_ext);
}

/* Might [start, end) hold guarded pages? (lock-free, see extent.h) */
static inline int zc_guard_maybe(uintptr_t start, uintptr_t end)
{
	return zc_ext_maybe(&zc_ext, start, end);
}

/* Set when the userfaultfd guard could not start its threads because the
 * first protection came from inside a signal handler (guard_uffd.c):
 * free() and pthread_create(), which a handler that interrupted the
 * allocator cannot be running, call zc_guard_start_deferred, which starts
 * them unless this thread is inside a handler itself or holds the lock
 * (the shim's own calls into the C library). */
extern int zc_guard_start_wanted;
void zc_guard_start_deferred(void);

static inline void zc_guard_start_if_wanted(void)
{
	if (__builtin_expect(__atomic_load_n(&zc_guard_start_wanted, __ATOMIC_RELAXED), 0))
		zc_guard_start_deferred();
}

/* Make the parts of [start, end) that no entry guards yet read-only.
 * Returns 0 or -1 (errno from mprotect). */
int zc_guard_protect_locked(uintptr_t start, uintptr_t end);

/* Give write permission back to the parts of [start, end) no entry guards. */
void zc_guard_unprotect_locked(uintptr_t start, uintptr_t end);

/* A call's entry guarding [start, end) (empty: none) is released: counts
 * the release, and keeps the pages read-only (idle) until written when
 * the policy says so. Returns 1 if the idle set already holds all of it
 * (remove the entry, nothing to make writable); 0: remove the entry, then
 * make writable what nothing else guards (inflight.c does both). */
int zc_guard_release_locked(uintptr_t start, uintptr_t end);

/* Would the release of an entry guarding [start, end) leave its pages as
 * they are (unguarded, or a buffer seen completing before, idle already or
 * with room to be kept idle)? Then nothing waits on reading its completion
 * soon. (lock held) */
int zc_guard_release_keeps(uintptr_t start, uintptr_t end);

/* Give the program private copies of the guarded pages of the calls that
 * touch [start, end), and stop guarding them (the entries are detached).
 * Returns 0, or nonzero if some could not be copied (they stay guarded). */
int zc_guard_copy_locked(uintptr_t start, uintptr_t end);

/* Is guarding [start, end) for one send worth what the protection costs?
 * Yes if its pages are read-only already, or will be kept read-only after
 * this send (a buffer sent before, with room in the idle set), or if the
 * cost model (costmodel.h) finds even a single guard cycle of that many
 * pages cheaper than the copy. No (ZC_WORTH_COPY): the send is copied, and
 * the buffer is remembered so that its next send is kept. ZC_WORTH_COVERED:
 * every page is read-only already (no protection to make); otherwise
 * ZC_WORTH_PROTECT, always with ZCSHIM_ADAPT=0. The decision is
 * zc_policy_worth's (policy.h). (lock held) */
int zc_guard_worth_locked(uintptr_t start, uintptr_t end);

/*
 * Edges. A buffer's first and last pages are most often shared with
 * memory outside it (an allocator's headers, the next object): sending
 * them in place means guarding bytes that are not the payload's, and a
 * write there waits or gets a private copy like a write into the payload.
 * So an edge is sent in place only where the shim has evidence that costs
 * nothing: the buffer's whole pages [start, end) are all read-only still
 * (kept since an earlier send, or in flight: sent again unchanged), or
 * are about to be made read-only to be kept (zc_policy_kept: seen
 * completing before, and never found rewritten, so not a probe of a hot
 * buffer; the edges then share that protection call), and
 * the edge page was never found written (no entry in the hot table, where
 * a write into a guarded edge puts its page). Otherwise its bytes are
 * copied as before. The idle set keeps half its room for whole pages.
 * Only where a write beside the payload never fails or waits long: under
 * the userfaultfd guard with kernel faults covered (a kernel write into an
 * edge page waits for the guard instead of failing with EFAULT, as it would
 * under mprotect, and any write gets a private copy in place), and until a
 * copy in place is refused (locked memory: a write there would wait for
 * the completion).
 * want: ZC_EDGE_LO (the page before start), ZC_EDGE_HI (the page at end);
 * returns those that may be sent in place. (lock held)
 */
#define ZC_EDGE_LO 1
#define ZC_EDGE_HI 2
int zc_guard_edges_locked(uintptr_t start, uintptr_t end, int want);

/* Make the idle pages of [start, end) writable again; rewritten: the
 * program is writing them (ZC_DROP_REWRITTEN: the buffer is hot) or
 * freeing them (ZC_DROP_FREED: zc_policy_hot_freed decides), or neither
 * (0). Returns how many entries. */
#define ZC_DROP_REWRITTEN 1
#define ZC_DROP_FREED 2
int zc_guard_drop_idle_locked(uintptr_t start, uintptr_t end, int rewritten);


/* Should a send whose first guarded page is start be copied, because the
 * program rewrites that buffer between sends? (lock-free)
 *   ZC_HOT_NO      not known rewritten (or its probe is out): go on;
 *   ZC_HOT_COPY    copy it;
 *   ZC_HOT_SAMPLE  copy it, and give zc_guard_hot_note() a sample of the
 *                  page's content: the next send is due to probe;
 *   ZC_HOT_PROBE   a probe is due: zc_guard_hot_probe() decides, with a
 *                  sample of the page's content now. ZC_HOT_NO always with
 *                  ZCSHIM_ADAPT=0. The hot table is policy.h's. */
int zc_guard_copy_hot(uintptr_t start);
void zc_guard_hot_note(uintptr_t start, int ok, uint64_t sample);
/* 1: probe (send with zerocopy); 0: the content changed since the send
 * before (noted), so the program still rewrites the buffer: the probe is
 * skipped as if it had found a write, and the send copied. ok = 0 (the
 * page could not be read): probe. (lock-free) */
int zc_guard_hot_probe(uintptr_t start, int ok, uint64_t sample);

enum zc_resolve {
	ZC_RESOLVE_IDLE,      /* only make released (idle) pages writable again */
	ZC_RESOLVE_COPY,      /* wait up to the stall budget, then copy-on-write */
	ZC_RESOLVE_DISCARD,   /* the memory is being freed: fresh pages, no copy */
	ZC_RESOLVE_FORGET,    /* the memory is being unmapped: just stop guarding */
};

/* Make [start, end) free of guarded pages. COPY waits wait_ns for the
 * completions first. DISCARD and FORGET act on whole pages inside the
 * range only. Returns 1 if anything was guarded. Takes the lock. */
int zc_guard_resolve(uintptr_t start, uintptr_t end, enum zc_resolve mode, uint64_t wait_ns);

/* The fault handler's part (signal context): 1 if the write at addr may
 * be retried (the page was ours, or was released meanwhile), 0 if the
 * fault is not the guard's. */
int zc_guard_fault(uintptr_t addr);

/* The guard waits on the completions of the calls covering a page, but
 * does not read them itself: the completion path registers, at start, the
 * function that reads the error queues of the sockets whose calls guard
 * pages of [start, end) and puts into fds (at most max) the ones still
 * holding some, returning how many (completion.h, zc_reap_owners_locked).
 * So the guard never knows of sockets, and nothing in it calls back up
 * into the completion path but through this pointer. (lock held) */
struct pollfd;
typedef int (*zc_guard_reaper_fn)(uintptr_t start, uintptr_t end, struct pollfd *fds, int max);
void zc_guard_set_reaper(zc_guard_reaper_fn fn);

/* Fork child: drop every guard (the child's pages are its own). forked:
 * a fork() child (the C library whole), 0: _Fork or a raw clone. */
void zc_guard_child_reset(int forked);

/* The backend in use, for the start-up line and the stats. */
const char *zc_guard_describe(void);
/* The backend in use into the stats (guard_uffd, guard_kernel_faults, the
 * stats line's "guard"): at start, and in a fork child after its counters
 * were zeroed. */
void zc_guard_publish(void);
/* 1: kernel writes into guarded pages wait (uffd with kernel-fault rights). */
int zc_guard_kernel_faults(void);


/* Has the backend reports of memory gone or moved that no one applied
 * yet? (No lock; the send path's kept buffers go through the lock then.) */
int zc_guard_reports_pending(void);

/* The kernel reported [start, end) unmapped or discarded: the records
 * over pages the backend no longer guards go (backend's sync, lock held). */
void zc_guard_gone_locked(uintptr_t start, uintptr_t end);
/* The kernel reported len bytes moved from from to to (mremap): the
 * records follow (lock held). */
void zc_guard_moved_locked(uintptr_t from, uintptr_t to, uintptr_t len);

/* The userfaultfd backend's server: a write to page waited on a
 * write-protected page (not signal context). Returns when the page may be
 * written; the caller wakes the writer. Takes the lock. */
void zc_guard_wp_fault(uintptr_t page);

#endif
