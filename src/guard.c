/*
 * guard.c - protection, release, copy-on-write and the fault path.
 * Mechanism only: which sends to guard, and which released pages to keep
 * read-only, is decided by policy.c over the tables kept here.
 *
 * Signal-context invariant: zc_guard_fault and everything it calls
 * (zc_guard_resolve, the *_locked helpers, zc_reap_locked) run in the
 * SIGSEGV handler. They use only raw syscalls (mprotect, mmap, mremap,
 * munmap, recvmsg, ppoll, clock_gettime, futex, rt_sigprocmask), memcpy,
 * and memory the shim mapped itself. No malloc, no stdio.
 */
#include "guard.h"
#include "inflight.h"
#include "bounce.h"
#include "calibrate.h"
#include "kcheck.h"
#include "policy.h"
#include "shim.h"
#include "sys.h"
#include "stats.h"
#include "vma.h"
#include "vmattr.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXT_MAX 65536u
#define EXT_RESERVE 4096u

/* The idle set's cap (policy.h) from vm.max_map_count. */
static uint32_t idle_cap_for_map_count(void)
{
	char buf[32];
	long n = -1;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/vm/max_map_count",
			      O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = syscall(SYS_read, fd, buf, sizeof buf - 1);
		syscall(SYS_close, fd);
	}
	return zc_policy_idle_cap(buf, n);
}

struct zc_ext_table zc_ext;
uint32_t zc_release_seq;

int zc_guard_init(void)
{
	void *p = zc_sys_mmap(NULL, EXT_MAX * sizeof(struct zc_ext), PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	zc_ext.v = p;
	zc_ext.cap = EXT_MAX;
	zc_ext.reserve = EXT_RESERVE;
	zc_ext.n = 0;
	p = zc_sys_mmap(NULL, ZC_IDLE_MAX * sizeof(struct zc_ext_range), PROT_READ | PROT_WRITE,
		        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	zc_ext.idle = p;
	zc_ext.idle_cap = idle_cap_for_map_count();
	zc_ext.nidle = 0;
	return 0;
}

static long sys_mprotect(uintptr_t start, uintptr_t end, int prot)
{
	return syscall(SYS_mprotect, (void *)start, (size_t)(end - start), prot);
}

int zc_guard_protect_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n;
	int whole = 0;

	zc_assert_locked();
	if (zc_test_no_guard())
		return 0;
	n = zc_ext_uncovered(&zc_ext, start, end, r, 32);
	if (n > 32) {
		/* Too fragmented to list: protecting all of it is the same. */
		r[0].start = start;
		r[0].end = end;
		n = 1;
		whole = 1;
	}
	for (size_t i = 0; i < n; i++) {
		/* The VMA cache said read-write memory, but the kernel has the
		 * last word (a raw mmap may have put something else there):
		 * never make readable what is not, nor guard what is not
		 * writable. (A whole range holds pages read-only already.) */
		int ok = whole ? zc_kcheck_readable(r[i].start, r[i].end)
			       : zc_kcheck_writable(r[i].start, r[i].end);

		if (ok == 0) {
			ZC_STAT_ADD(stale_pages, (r[i].end - r[i].start) / zc_page);
			zc_vma_invalidate();
			errno = EFAULT;
		}
		if (ok == 0 || sys_mprotect(r[i].start, r[i].end, PROT_READ)) {
			int e = errno;

			/* Undo what this call protected. */
			for (size_t j = 0; j < i; j++)
				sys_mprotect(r[j].start, r[j].end, PROT_READ | PROT_WRITE);
			errno = e;
			return -1;
		}
		ZC_STAT_ADD(guard_protects, 1);
	}
	return 0;
}

/*
 * Write permission back for [start, end), which the guard made read-only,
 * only where the kernel says the pages are still mapped and readable. A
 * record can outlive its memory (unmapped behind the shim's back, see
 * kcheck.h): a page now unmapped, or mapped PROT_NONE by the program, is
 * left as it is and counted.
 */
static void grant_write(uintptr_t start, uintptr_t end)
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

void zc_guard_unprotect_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n;
	uintptr_t p = start;

	zc_assert_locked();
	if (zc_test_no_guard() || start >= end)
		return;
	do {
		n = zc_ext_uncovered(&zc_ext, p, end, r, 32);
		for (size_t i = 0; i < n && i < 32; i++)
			grant_write(r[i].start, r[i].end);
		if (n > 32)
			p = r[31].end;
	} while (n > 32);
	zc_release_seq++;
}

/* The policy's tables (policy.h): the hot table is read without the lock
 * (zc_guard_copy_hot, zc_guard_hot_note, zc_guard_hot_probe) and written
 * under it; the seen table only under it. */
static struct zc_hot_table hot_tab;
static struct zc_seen_table seen_tab;

int zc_guard_copy_hot(uintptr_t start)
{
	if (!zc_cfg.adapt)
		return ZC_HOT_NO;
	return zc_policy_hot_copy(&hot_tab, start);
}

void zc_guard_hot_note(uintptr_t start, int ok, uint64_t sample)
{
	zc_policy_hot_note(&hot_tab, start, ok, sample);
}

int zc_guard_hot_probe(uintptr_t start, int ok, uint64_t sample)
{
	switch (zc_policy_hot_probe(&hot_tab, start, ok, sample)) {
	case ZC_PROBE_SKIP:
		ZC_STAT_ADD(hot_probes_skipped, 1);
		return 0;
	case ZC_PROBE_MAKE:
		ZC_STAT_ADD(hot_probes, 1);
		return 1;
	default:
		return 1;   /* forgotten meanwhile: not known rewritten */
	}
}

int zc_guard_release_keeps(uintptr_t start, uintptr_t end)
{
	if (start >= end || zc_test_no_guard())
		return 1;
	return zc_policy_kept(&hot_tab, &seen_tab, &zc_ext, start);
}

int zc_guard_worth_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n, pages = 0;

	zc_assert_locked();
	if (!zc_cfg.adapt || zc_test_no_guard())
		return ZC_WORTH_PROTECT;
	n = zc_ext_uncovered(&zc_ext, start, end, r, 32);
	if (n > 32)
		pages = (end - start) / zc_page;
	else
		for (size_t i = 0; i < n; i++)
			pages += (r[i].end - r[i].start) / zc_page;
	return zc_policy_worth(&hot_tab, &seen_tab, &zc_ext, start, pages, zc_calib_once_min_pages());
}

int zc_guard_release_locked(uintptr_t start, uintptr_t end)
{
	zc_assert_locked();
	zc_release_seq++;   /* a call completed: the quarantine may free */
	/* Lazy release: pages stay read-only until the program writes them;
	 * a buffer sent again meanwhile needs no new protection. The range
	 * joins the idle set, and removing the entry then makes writable
	 * only what nothing covers any more (nothing, unless the idle set is
	 * full). */
	if (start >= end || zc_test_no_guard())
		return 0;
	switch (zc_policy_release(&hot_tab, &seen_tab, &zc_ext, start, end)) {
	case ZC_RELEASE_HELD:
		/* The idle range holds it all: nothing to add and nothing
		 * to make writable. */
		return 1;
	case ZC_RELEASE_IDLE:
		zc_ext_idle_add(&zc_ext, start, end);
		__atomic_store_n(&zc_stats.idle_ranges, zc_ext.nidle, __ATOMIC_RELAXED);
		break;
	}
	return 0;
}

/* Drop the idle entries touching [start, end): their pages become writable
 * again (what no other entry guards). Returns how many were dropped. */
int zc_guard_drop_idle_locked(uintptr_t start, uintptr_t end, int rewritten)
{
	struct zc_ext_range r[16];
	size_t n;
	int dropped = 0;

	zc_assert_locked();
	if (!zc_ext.nidle)
		return 0;
	do {
		/* Each is taken out whole (the buffer it keys), then what no
		 * call in flight still guards becomes writable. */
		n = zc_ext_idle_take(&zc_ext, start, end, r, 16);
		for (size_t k = 0; k < n; k++) {
			zc_guard_unprotect_locked(r[k].start, r[k].end);
			if (rewritten)
				zc_policy_hot_mark(&hot_tab, r[k].start);
		}
		dropped += (int)n;
	} while (n == 16);
	if (dropped)
		__atomic_store_n(&zc_stats.idle_ranges, zc_ext.nidle, __ATOMIC_RELAXED);
	return dropped;
}

/* What fresh_range could not do. */
#define FRESH_NOMAP (-1)     /* no mapping to be had (memory, max_map_count) */
#define FRESH_ATTRS (-2)     /* the pages' attributes cannot be given to one */

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
		return FRESH_NOMAP;
	m = zc_vmattr_match(start, (uintptr_t)tmp, len);
	if (m == ZC_VMATTR_REFUSED) {
		syscall(SYS_munmap, (void *)tmp, len);
		return FRESH_ATTRS;
	}
	if (copy)
		memcpy((void *)tmp, (const void *)start, len);
	if (zc_vmattr_finish((uintptr_t)tmp, len)) {
		syscall(SYS_munmap, (void *)tmp, len);
		return FRESH_ATTRS;
	}
	r = syscall(SYS_mremap, (void *)tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		    (void *)start);
	if (r == -1) {
		int e = errno;

		syscall(SYS_munmap, (void *)tmp, len);
		errno = e;
		return FRESH_NOMAP;
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

/* Act on the guarded pages of [start, end). written: the program is
 * writing them (the buffers are hot). Returns 0, or FRESH_NOMAP /
 * FRESH_ATTRS if some could not be resolved (they stay guarded). */
static int act_locked(uintptr_t start, uintptr_t end, enum zc_resolve mode, int written)
{
	struct zc_ext_range r[16];
	size_t n;
	int rc = 0;

	zc_assert_locked();
	if (mode == ZC_RESOLVE_COPY)
		n = zc_ext_touching(&zc_ext, start, end, r, 16);
	else
		n = zc_ext_covered(&zc_ext, start, end, r, 16);
	if (n > 16)
		n = 16;
	for (size_t i = 0; i < n; i++) {
		size_t pages = (r[i].end - r[i].start) / zc_page;

		if (written)
			zc_policy_hot_mark(&hot_tab, r[i].start);   /* written while in flight */
		if ((mode == ZC_RESOLVE_COPY || mode == ZC_RESOLVE_DISCARD) &&
		    !zc_test_no_guard()) {
			/* Only over what the kernel says is still mapped and
			 * readable (readable_runs), and only with the
			 * mapping's attributes (fresh_range). */
			int f = readable_runs(r[i].start, r[i].end,
					      mode == ZC_RESOLVE_COPY ? fresh_copy : fresh_discard);

			if (f) {
				rc = rc == FRESH_ATTRS ? rc : f;
				continue;
			}
			if (mode == ZC_RESOLVE_COPY)
				ZC_STAT_ADD(cow_pages, pages);
			else
				ZC_STAT_ADD(discard_pages, pages);
		}
		if (zc_ext_detach(&zc_ext, r[i].start, r[i].end) && !rc)
			rc = FRESH_NOMAP;
	}
	zc_release_seq++;
	return rc;
}

int zc_guard_copy_locked(uintptr_t start, uintptr_t end)
{
	zc_assert_locked();
	return act_locked(start, end, ZC_RESOLVE_COPY, 0);
}

static int resolve(uintptr_t start, uintptr_t end, enum zc_resolve mode, uint64_t wait_ns);

/* The wrappers call this before the program's own call: errno stays as
 * the program left it. */
int zc_guard_resolve(uintptr_t start, uintptr_t end, enum zc_resolve mode, uint64_t wait_ns)
{
	int saved = errno, r = resolve(start, end, mode, wait_ns);

	errno = saved;
	return r;
}

static int resolve(uintptr_t start, uintptr_t end, enum zc_resolve mode, uint64_t wait_ns)
{
	uint64_t t0 = 0, deadline = 0, now = 0;
	int had = 0, rc, attr_wait = 0;

	if (!zc_guard_maybe(zc_page_down(start), zc_page_up(end)))
		return 0;
	if (mode == ZC_RESOLVE_COPY || mode == ZC_RESOLVE_IDLE) {
		start = zc_page_down(start);
		end = zc_page_up(end);
	} else {
		start = zc_page_up(start);
		end = zc_page_down(end);
	}
	if (start >= end)
		return 0;
	for (;;) {
		struct pollfd fds[16];
		int nfds = 0;

		zc_lock();
		/* Released pages kept read-only: writable again at once. */
		if (zc_guard_drop_idle_locked(start, end, mode != ZC_RESOLVE_FORGET))
			had = 1;
		if (mode == ZC_RESOLVE_IDLE || !zc_ext_overlaps(&zc_ext, start, end)) {
			zc_unlock();
			break;
		}
		had = 1;
		if (mode == ZC_RESOLVE_COPY) {
			nfds = zc_reap_owners_locked(start, end, fds, 16);
			/* A call the reap completed may have left its pages
			 * kept read-only (idle): writable at once, as above,
			 * not after a wait for a completion already read. */
			zc_guard_drop_idle_locked(start, end, 1);
			if (!zc_ext_overlaps(&zc_ext, start, end)) {
				zc_unlock();
				break;
			}
			now = zc_now_ns();
			if (!t0) {
				t0 = now;
				deadline = now + wait_ns;
			}
			if (nfds > 0 && now < deadline) {
				uint64_t left = deadline - now;
				struct timespec ts = { (time_t)(left / 1000000000u),
						       (long)(left % 1000000000u) };

				zc_unlock();
				syscall(SYS_ppoll, fds, (unsigned long)nfds, &ts, NULL, (size_t)8);
				continue;
			}
		}
		rc = act_locked(start, end, mode, mode == ZC_RESOLVE_COPY);
		zc_unlock();
		if (rc == 0)
			continue;   /* look again: one pass acts on 16 ranges at most */
		if (mode == ZC_RESOLVE_DISCARD) {
			/* No fresh pages to be had: copy instead. */
			mode = ZC_RESOLVE_COPY;
			wait_ns = 0;
			continue;
		}
		if (mode == ZC_RESOLVE_FORGET)
			break;      /* the table is full: nothing else to do */
		/* A private copy was impossible (no memory for the copy,
		 * vm.max_map_count reached, or attributes of the memory that a
		 * copy could not keep): keep waiting for the completion, which
		 * is the only other safe outcome. Attributes do not go away by
		 * themselves: such a wait looks again less often (a completion
		 * still ends it at once). */
		if (rc == FRESH_ATTRS && !attr_wait) {
			attr_wait = 1;
			ZC_STAT_ADD(cow_attr_waits, 1);
		}
		{
			struct timespec ts = { 0, rc == FRESH_ATTRS ? 10000000 : 1000000 };

			if (nfds > 0)
				syscall(SYS_ppoll, fds, (unsigned long)nfds, &ts, NULL, (size_t)8);
			else
				syscall(SYS_nanosleep, &ts, NULL);
		}
	}
	if (t0)
		ZC_STAT_ADD(guard_stall_ns, zc_now_ns() - t0);
	return had;
}

static __thread uintptr_t last_fault_page ZC_TLS_MODEL;
static __thread uint32_t last_fault_seq ZC_TLS_MODEL;

int zc_guard_fault(uintptr_t addr)
{
	uintptr_t page = zc_page_down(addr);
	uint32_t seq;

	zc_lock();
	if (zc_ext_find(&zc_ext, page) < 0 && zc_ext_idle_find(&zc_ext, page) < 0) {
		/* Not guarded now. Either a release raced with this write
		 * (retrying succeeds), or the fault is not ours. A second fault
		 * at the same page with no release in between tells them apart. */
		seq = zc_release_seq;
		zc_unlock();
		if (last_fault_page == page && last_fault_seq == seq) {
			last_fault_page = 0;
			return 0;
		}
		last_fault_page = page;
		last_fault_seq = seq;
		return 1;
	}
	zc_unlock();
	ZC_STAT_ADD(guard_faults, 1);
	zc_guard_resolve(page, page + zc_page, ZC_RESOLVE_COPY,
			 (uint64_t)zc_cfg.stall_us * 1000u);
	last_fault_page = 0;
	return 1;
}

void zc_guard_child_reset(void)
{
	uint32_t nidle = zc_ext.nidle < zc_ext.idle_cap ? zc_ext.nidle : zc_ext.idle_cap;
	/* The calls first (inflight.c): their records, then the idle set's. */
	int first = zc_inflight_child_reset(1);

	/* The child's copies of the guarded pages become writable, and only
	 * they: the records may be half-written (vma.c checks each range). */
	for (uint32_t i = 0; i < nidle && !zc_test_no_guard(); i++) {
		zc_vma_child_unprotect(zc_ext.idle[i].start, zc_ext.idle[i].end, first);
		first = 0;
	}
	zc_ext.nidle = 0;
	memset(zc_ext.filter, 0, sizeof zc_ext.filter);
	zc_release_seq++;
	zc_bounce_reset();
}
