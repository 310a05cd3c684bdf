/*
 * guard.c - protection, release, copy-on-write and the fault path.
 * Mechanism only: which sends to guard, and which released pages to keep
 * read-only, is decided by policy.c over the tables kept here. What makes
 * a page read-only, writable again or a private copy is the backend's
 * (guard_backend.h; guard_mprotect.c): this file hands it page ranges and
 * keeps the tables, the idle set, the waits and the accounting.
 *
 * Signal-context invariant: zc_guard_fault and everything it calls
 * (zc_guard_resolve, the *_locked helpers, the backend's primitives,
 * the completion path's reaper) run in the SIGSEGV handler. They use only raw syscalls
 * (recvmsg, ppoll, nanosleep, clock_gettime, futex, rt_sigprocmask, and
 * the backend's), and memory the shim mapped itself. No malloc, no stdio.
 */
#include "guard.h"
#include "fastring.h"
#include "guard_backend.h"
#include "inflight.h"
#include "bounce.h"
#include "calibrate.h"
#include "policy.h"
#include "shim.h"
#include "settings.h"
#include "sys.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>   /* the tables' own mappings */
#include <sys/syscall.h>
#include <unistd.h>

/* The completion path's reader of the owning sockets' error queues
 * (guard.h). Set once at start, before any page is guarded. */
static zc_guard_reaper_fn reaper;

void zc_guard_set_reaper(zc_guard_reaper_fn fn)
{
	reaper = fn;
}

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
static const struct zc_guard_ops *choose_backend(void);
/* This thread is the userfaultfd guard's server (zc_guard_wp_fault). */
static __thread int serving ZC_TLS_MODEL;
/* Pointer to const ops, so an indirect call costs one load more than a
 * direct one; set before any thread but the constructor's runs. */
const struct zc_guard_ops *zc_guard_backend = &zc_guard_mprotect;

/* The most ranges the idle set's memory holds (its cap at start). */
static uint32_t idle_room;

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
	zc_guard_backend = choose_backend();
	/* Kept read-only pages split mappings only under mprotect: there the
	 * idle set's size is bounded by vm.max_map_count, elsewhere by the
	 * table (the pages it holds are the memory's own). The set's memory
	 * is sized for this cap, which a fork child never raises (idle_room). */
	zc_ext.idle_cap = zc_guard_backend == &zc_guard_mprotect ? idle_cap_for_map_count()
								 : ZC_IDLE_MAX;
	idle_room = zc_ext.idle_cap;
	/* (Reserved, not committed: the pages a set of n ranges touches.) */
	p = zc_sys_mmap(NULL, zc_idle_bytes(zc_ext.idle_cap), PROT_READ | PROT_WRITE,
		        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	zc_idle_setup(&zc_ext.idle, p, zc_ext.idle_cap);
	zc_guard_publish();
	return zc_guard_backend->init();
}

static int kernel_faults_covered;
static const char *backend_why = "";

/* Is a seccomp filter in force? ("Seccomp:\t2" in /proc/self/status) */
static int seccomp_filtered(void)
{
	static char buf[4096];
	ssize_t n = 0;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	const char *p;

	if (fd < 0)
		return 0;
	for (ssize_t r; n < (ssize_t)sizeof buf - 1 &&
		       (r = syscall(SYS_read, fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0;)
		n += r;
	syscall(SYS_close, fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strstr(buf, "\nSeccomp:");
	if (!p)
		return 0;
	p += strlen("\nSeccomp:");
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '2';
}

/* ZCSHIM_GUARD: auto (userfaultfd where it opens and write-protects,
 * otherwise mprotect), uffd (the same, with a warning when it cannot),
 * mprotect. */
static const struct zc_guard_ops *choose_backend(void)
{
	int kf = 0;

	if (zc_cfg.guard == ZC_GUARD_MPROTECT)
		return &zc_guard_mprotect;
	/* A seccomp filter may kill the process for a system call it does
	 * not list (systemd's SystemCallFilter= does, and @system-service
	 * does not list userfaultfd): auto never tries it under one. */
	if (zc_cfg.guard == ZC_GUARD_AUTO && seccomp_filtered()) {
		backend_why = "a seccomp filter is in force";
		zc_log(ZC_LOG_INFO, "a seccomp filter is in force: the mprotect guard is used "
		       "(ZCSHIM_GUARD=uffd tries userfaultfd anyway, if the filter allows it)");
		return &zc_guard_mprotect;
	}
	if (zc_uffd_open(&kf)) {
		backend_why = errno == EPERM || errno == EACCES || errno == ENOSYS
			? "userfaultfd is not allowed here" : "userfaultfd cannot write-protect here";
		if (zc_cfg.guard == ZC_GUARD_UFFD)
			zc_log(ZC_LOG_WARN, "ZCSHIM_GUARD=uffd, but %s (%s): using the mprotect "
			       "guard. Check the kernel (5.13 or later) and the seccomp profile, or "
			       "set ZCSHIM_GUARD=mprotect", backend_why, strerror(errno));
		return &zc_guard_mprotect;
	}
	kernel_faults_covered = kf;
	return kf ? &zc_guard_uffd : &zc_guard_uffd_user;
}

const char *zc_guard_describe(void)
{
	if (zc_guard_backend == &zc_guard_mprotect)
		return "mprotect (kernel writes into guarded pages fail, so reads are resolved first)";
	if (kernel_faults_covered)
		return "uffd (kernel writes into guarded pages wait)";
	return "uffd, user faults only (no kernel-fault rights: run as root, grant "
	       "CAP_SYS_PTRACE, or set vm.unprivileged_userfaultfd=1 for kernel writes to wait)";
}

int zc_guard_kernel_faults(void)
{
	return zc_guard_backend->kernel_writes_wait;
}

void zc_guard_publish(void)
{
	zc_stats_guard = zc_guard_backend->name;
	zc_stats_guard_kernel_faults = zc_guard_backend->kernel_writes_wait;
	__atomic_store_n(&zc_stats.guard_uffd, zc_guard_backend != &zc_guard_mprotect,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&zc_stats.guard_kernel_faults,
			 (uint64_t)zc_guard_backend->kernel_writes_wait, __ATOMIC_RELAXED);
}

/* Reports of memory gone or moved, applied before any record is trusted. */
int zc_guard_reports_pending(void)
{
	return zc_guard_backend->pending && zc_guard_backend->pending();
}

static inline void sync_locked(void)
{
	if (zc_guard_reports_pending())
		zc_guard_backend->sync();
}

/* Does an idle range share a byte with [start, end)? */
static int idle_touches(uintptr_t start, uintptr_t end)
{
	const struct zc_ext_range *r = zc_idle_first(&zc_ext.idle, start);

	return start < end && r && r->start < end;
}

/* Take the idle ranges touching [start, end) out, putting back the parts
 * outside it (no protection changes). */
static void idle_cut_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[16];
	size_t n;

	if (!idle_touches(start, end))
		return;
	/* The memory is gone, moved or the program's own copy now: whatever
	 * the ring calls over it hold becomes the table's to settle. */
	zc_fast_adopt_locked(start, end);
	do {
		n = zc_ext_idle_take(&zc_ext, start, end, r, 16);
		for (size_t k = 0; k < n; k++) {
			if (r[k].start < start)
				zc_ext_idle_add(&zc_ext, r[k].start, start);
			if (r[k].end > end)
				zc_ext_idle_add(&zc_ext, end, r[k].end);
		}
	} while (n == 16);
	__atomic_store_n(&zc_stats.idle_ranges, zc_ext_nidle(&zc_ext), __ATOMIC_RELAXED);
}

void zc_guard_gone_locked(uintptr_t start, uintptr_t end)
{
	static uint8_t bits[512];
	struct zc_ext_range r[16];
	uintptr_t p = start;

	zc_assert_locked();
	if (start >= end || !zc_guard_backend->guarded)
		return;
	/* Idle ranges are only a wish to keep pages read-only: dropping
	 * one is always safe (a page still protected without a record is
	 * made writable at its first write). */
	idle_cut_locked(start, end);
	/* The calls' entries: only the pages the kernel says are not
	 * protected any more stop being guarded. Asking, rather than taking
	 * the report's word, keeps a record made after the memory came back
	 * (a send from new memory at the same address). */
	while (p < end) {
		size_t n = zc_ext_covered(&zc_ext, p, end, r, 16);

		if (!n)
			break;
		if (n > 16)
			n = 16;
		for (size_t i = 0; i < n; i++) {
			for (uintptr_t q = r[i].start; q < r[i].end;) {
				size_t k = (r[i].end - q) / zc_page;
				uintptr_t run = 0;

				if (k > 512)
					k = 512;
				zc_guard_backend->guarded(q, k, bits);
				for (size_t j = 0; j <= k; j++) {
					uintptr_t a = q + j * zc_page;

					if (j < k && !bits[j]) {
						if (!run)
							run = a;
						continue;
					}
					if (run) {
						zc_ext_detach(&zc_ext, run, a);
						ZC_STAT_ADD(stale_pages, (a - run) / zc_page);
						run = 0;
					}
				}
				q += k * zc_page;
			}
		}
		p = r[n - 1].end;
	}
	zc_release_seq++;
}

void zc_guard_moved_locked(uintptr_t from, uintptr_t to, uintptr_t len)
{
	zc_assert_locked();
	if (!len || from == to)
		return;
	idle_cut_locked(from, from + len);
	/* A call's pages keep their protection where they went: its
	 * records follow them. */
	zc_ext_shift(&zc_ext, from, from + len, to);
	zc_release_seq++;
}

void zc_guard_wp_fault(uintptr_t page)
{
	int held, pending;

	zc_lock();
	sync_locked();
	held = zc_ext_find(&zc_ext, page) >= 0 || zc_ext_idle_get(&zc_ext, page);
	/* A call armed over the page and not sent yet: the write was
	 * reported after its writer went on (a fault wait a signal
	 * interrupted is reported again), or another thread writes a buffer
	 * being sent. Either way the page may not be replaced before the
	 * send takes it, and this thread may not wait for that send: the
	 * write is given back, and a writer still there faults again. */
	pending = zc_ext_pending_in(&zc_ext, page, page + zc_page);
	zc_unlock();
	if (pending) {
		struct timespec ts = { 0, 20000 };

		ZC_STAT_ADD(cow_pending_waits, 1);
		syscall(SYS_nanosleep, &ts, NULL);
		return;
	}
	if (held) {
		ZC_STAT_ADD(guard_faults, 1);
		serving = 1;
		zc_guard_resolve(page, page + zc_page, ZC_RESOLVE_COPY,
				 (uint64_t)zc_cfg.stall_us * 1000u);
		serving = 0;
	}
	/* A page protected with no record left (released while this write
	 * waited, or its record went with a report): writable now. */
	zc_lock();
	sync_locked();
	if (zc_ext_find(&zc_ext, page) < 0 && !zc_ext_idle_get(&zc_ext, page))
		zc_guard_backend->unprotect(page, page + zc_page);
	zc_unlock();
}

int zc_guard_protect_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n;
	int whole = 0;

	zc_assert_locked();
	if (zc_test_no_guard())
		return 0;
	sync_locked();
	n = zc_ext_uncovered(&zc_ext, start, end, r, 32);
	if (n > 32) {
		/* Too fragmented to list: protecting all of it is the same. */
		r[0].start = start;
		r[0].end = end;
		n = 1;
		whole = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (zc_guard_backend->protect(r[i].start, r[i].end,
					      whole ? ZC_GUARD_MAYHOLD : 0)) {
			int e = errno;

			/* Undo what this call protected: all or nothing. */
			for (size_t j = 0; j < i; j++)
				zc_guard_backend->unprotect(r[j].start, r[j].end);
			errno = e;
			return -1;
		}
		ZC_STAT_ADD(guard_protects, 1);
	}
	return 0;
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
			zc_guard_backend->unprotect(r[i].start, r[i].end);
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
	/* Held by an idle range now: its release changes nothing
	 * (zc_policy_release), whatever the tables say. */
	if (zc_policy_idle_holds(&zc_ext, start, end))
		return 1;
	return zc_policy_kept(&hot_tab, &seen_tab, &zc_ext, start);
}

int zc_guard_worth_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n, pages = 0;

	zc_assert_locked();
	sync_locked();   /* before "covered" is read from the records */
	if (!zc_cfg.adapt || zc_test_no_guard()) {
		zc_policy_hot_sent(&hot_tab, start);   /* (zc_policy_worth's count) */
		return ZC_WORTH_PROTECT;
	}
	n = zc_ext_uncovered(&zc_ext, start, end, r, 32);
	if (n > 32)
		pages = (end - start) / zc_page;
	else
		for (size_t i = 0; i < n; i++)
			pages += (r[i].end - r[i].start) / zc_page;
	return zc_policy_worth(&hot_tab, &seen_tab, &zc_ext, start, pages, zc_calib_once_min_pages());
}

/* A private copy in place was refused (mlocked memory): a write there
 * waits for the completion, which the program may do beside a payload but
 * never should for it. No edge from then on. (Set under the lock.) */
static int edges_off;

int zc_guard_edges_locked(uintptr_t start, uintptr_t end, int want)
{
	struct zc_ext_range r;
	uintptr_t lo, hi;

	zc_assert_locked();
	if (zc_test_no_guard())
		return want;   /* (the test build's proof that edges need the guard) */
	if (!zc_guard_backend->kernel_writes_wait || edges_off ||
	    zc_ext_nidle(&zc_ext) + 2 > zc_ext.idle_cap / 2)
		return 0;
	if ((want & ZC_EDGE_LO) && zc_policy_hot_find(&hot_tab, start - zc_page) >= 0)
		want &= ~ZC_EDGE_LO;
	if ((want & ZC_EDGE_HI) && zc_policy_hot_find(&hot_tab, end) >= 0)
		want &= ~ZC_EDGE_HI;
	if (!want)
		return 0;
	sync_locked();   /* before "covered" is read from the records */
	lo = want & ZC_EDGE_LO ? start - zc_page : start;
	hi = want & ZC_EDGE_HI ? end + zc_page : end;
	if (!zc_ext_uncovered(&zc_ext, lo, hi, &r, 1))
		return want;   /* read-only with its edges already (a send of many) */
	/* Its pages read-only still (sent again unwritten), or about to be
	 * made so to be kept (seen completing before, not rewritten: the
	 * edges are protected in the same call as its pages, at no cost of
	 * their own, instead of on a later send). */
	if (zc_ext_uncovered(&zc_ext, start, end, &r, 1) &&
	    (zc_policy_hot_find(&hot_tab, start) >= 0 ||
	     !zc_policy_kept(&hot_tab, &seen_tab, &zc_ext, start)))
		return 0;   /* (a buffer ever found rewritten: its probes get none) */
	/* Kept from their first release, as the buffer's pages are. */
	if (want & ZC_EDGE_LO)
		zc_policy_seen_note(&seen_tab, start - zc_page);
	if (want & ZC_EDGE_HI)
		zc_policy_seen_note(&seen_tab, end);
	return want;
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
		__atomic_store_n(&zc_stats.idle_ranges, zc_ext_nidle(&zc_ext), __ATOMIC_RELAXED);
		break;
	}
	return 0;
}

/* Adopt the ring calls over every idle range touching [start, end), whole
 * (they are taken out whole). */
static int adopt_idle_hull_locked(uintptr_t start, uintptr_t end)
{
	const struct zc_ext_range *a = zc_ext_idle_get(&zc_ext, start);
	uintptr_t lo = a ? a->start : start, hi;

	if (!idle_touches(start, end))
		return 0;   /* nothing to take out: no need to look */
	a = zc_ext_idle_get(&zc_ext, end - 1);
	hi = a ? a->end : end;
	return zc_fast_adopt_locked(lo, hi);
}

/* Drop the idle entries touching [start, end): their pages become writable
 * again (what no other entry guards). Returns how many were dropped. */
int zc_guard_drop_idle_locked(uintptr_t start, uintptr_t end, int rewritten)
{
	struct zc_ext_range r[16];
	size_t n;
	int dropped = 0;

	uintptr_t lo = UINTPTR_MAX, hi = 0;

	zc_assert_locked();
	if (!zc_ext_nidle(&zc_ext))
		return 0;
	do {
		/* Each is taken out whole (the buffer it keys), then what no
		 * call in flight still guards becomes writable. */
		/* Ring calls over these pages first (fastring.h): their
		 * records, not the idle set, keep the pages guarded now. */
		if (adopt_idle_hull_locked(start, end))
			break;
		n = zc_ext_idle_take(&zc_ext, start, end, r, 16);
		for (size_t k = 0; k < n; k++) {
			zc_guard_unprotect_locked(r[k].start, r[k].end);
			if (rewritten == ZC_DROP_FREED)
				zc_policy_hot_freed(&hot_tab, r[k].start);
			else if (rewritten)
				zc_policy_hot_mark(&hot_tab, r[k].start);
			lo = r[k].start < lo ? r[k].start : lo;
			hi = r[k].end > hi ? r[k].end : hi;
		}
		dropped += (int)n;
	} while (n == 16);
	/* A buffer written or freed has its edge pages written next (the
	 * rest of a rewrite, an allocator's headers): a single idle page
	 * right before or after what was dropped is taken out with it, so
	 * that it costs no fault of its own. (Nothing is marked: it may be
	 * another buffer's edge, which its next send protects again.) */
	for (int side = 0; rewritten && dropped && side < 2; side++) {
		uintptr_t a = side ? hi : lo - zc_page;
		const struct zc_ext_range *k = zc_ext_idle_get(&zc_ext, a);

		if (!k || k->start != a || k->end != a + zc_page ||
		    zc_fast_adopt_locked(a, a + zc_page))
			continue;
		if (zc_ext_idle_take(&zc_ext, a, a + zc_page, r, 1) == 1) {
			zc_guard_unprotect_locked(r[0].start, r[0].end);
			dropped++;
		}
	}
	if (dropped)
		__atomic_store_n(&zc_stats.idle_ranges, zc_ext_nidle(&zc_ext), __ATOMIC_RELAXED);
	return dropped;
}

/* The program writes [start, end) while calls guard it: each buffer there
 * is hot. r[0..n) are the guarded ranges there merged, each starting where
 * a run of touching ranges starts (a buffer's edge page, or the buffer
 * before it); the calls' own entries over the written pages start at
 * their buffers' keys (a buffer's first whole page, or an edge page when
 * the write is there). Each key is marked once (a mark backs a buffer on
 * probation off one level). Signal context: stack and table only. */
static void mark_written_locked(uintptr_t start, uintptr_t end, const struct zc_ext_range *r,
				size_t n)
{
	uintptr_t done[32];
	size_t nd = 0;

	zc_assert_locked();
	for (size_t i = 0; i < n + zc_ext.n && nd < 32; i++) {
		uintptr_t key;
		size_t k;

		if (i < n) {
			key = r[i].start;
		} else {
			const struct zc_ext *e = &zc_ext.v[i - n];

			if (!zc_ext_guarded(e) || e->end <= start || e->start >= end)
				continue;
			key = e->start;
		}
		for (k = 0; k < nd && done[k] != key; k++)
			;
		if (k < nd)
			continue;
		done[nd++] = key;
		zc_policy_hot_mark(&hot_tab, key);
	}
}

/* Act on the guarded pages of [start, end). written: the program is
 * writing them (the buffers are hot). Returns 0, or ZC_FRESH_NOMAP /
 * ZC_FRESH_ATTRS if some could not be resolved (they stay guarded). */
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
	if (written)
		mark_written_locked(start, end, r, n);   /* written while in flight */
	for (size_t i = 0; i < n; i++) {
		size_t pages = (r[i].end - r[i].start) / zc_page;

		/* A ring call over these pages (fastring.h) is the table's
		 * from here: one not sent yet is found pending below. */
		if (zc_fast_adopt_locked(r[i].start, r[i].end) && mode != ZC_RESOLVE_FORGET) {
			rc = rc ? rc : ZC_FRESH_NOMAP;
			continue;
		}
		if (mode == ZC_RESOLVE_COPY && zc_ext_pending_in(&zc_ext, r[i].start, r[i].end)) {
			/* A call armed over these pages may not have made its
			 * system call yet: replaced now, its send would take
			 * the copies, which nothing guards. Wait for it to be
			 * sent (microseconds). (A write the userfaultfd guard
			 * reports late, after the writer went on and sent the
			 * buffer again, lands here.) */
			ZC_STAT_ADD(cow_pending_waits, 1);
			rc = ZC_FRESH_PENDING;
			continue;
		}
		if ((mode == ZC_RESOLVE_COPY || mode == ZC_RESOLVE_DISCARD) &&
		    !zc_test_no_guard()) {
			/* The backend skips what the kernel says is not
			 * mapped and readable any more, and copies only with
			 * the mapping's attributes (guard_backend.h). */
			int f = zc_guard_backend->fresh(r[i].start, r[i].end,
							mode == ZC_RESOLVE_COPY);

			if (f) {
				if (f == ZC_FRESH_ATTRS)
					edges_off = 1;   /* (signal context under mprotect: no log) */
				rc = rc == ZC_FRESH_ATTRS || rc == ZC_FRESH_PENDING ? rc : f;
				continue;
			}
			if (mode == ZC_RESOLVE_COPY)
				ZC_STAT_ADD(cow_pages, pages);
			else
				ZC_STAT_ADD(discard_pages, pages);
			/* The pages are the program's own now, writable: an
			 * idle range over some of them (a buffer kept
			 * read-only, sent again inside this call) must not
			 * say they are still guarded, or its next send would
			 * go out unprotected. */
			idle_cut_locked(r[i].start, r[i].end);
		}
		if (zc_ext_detach(&zc_ext, r[i].start, r[i].end) && !rc)
			rc = ZC_FRESH_NOMAP;
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
		sync_locked();
		/* Released pages kept read-only: writable again at once. */
		if (zc_guard_drop_idle_locked(start, end, mode != ZC_RESOLVE_FORGET))
			had = 1;
		if (mode == ZC_RESOLVE_IDLE || !zc_ext_overlaps(&zc_ext, start, end)) {
			zc_unlock();
			break;
		}
		had = 1;
		if (mode == ZC_RESOLVE_COPY) {
			nfds = reaper ? reaper(start, end, fds, 16) : 0;
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
		/* The userfaultfd guard's server never waits for a send to be
		 * made: the sending thread may be waiting for the server
		 * (its signal handler wrote a guarded page). It gives the
		 * write back; a writer still there faults again. */
		if (rc == ZC_FRESH_PENDING && serving)
			break;
		/* A private copy was impossible (no memory for the copy,
		 * vm.max_map_count reached, or attributes of the memory that a
		 * copy could not keep): keep waiting for the completion, which
		 * is the only other safe outcome. Attributes do not go away by
		 * themselves: such a wait looks again less often (a completion
		 * still ends it at once). */
		if (rc == ZC_FRESH_ATTRS && !attr_wait) {
			attr_wait = 1;
			ZC_STAT_ADD(cow_attr_waits, 1);
		}
		{
			struct timespec ts = { 0, rc == ZC_FRESH_ATTRS ? 10000000 : 1000000 };

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
	if (zc_ext_find(&zc_ext, page) < 0 && !zc_ext_idle_get(&zc_ext, page)) {
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

/* zc_idle_each_raw's call in a fork child: one idle range of the parent's. */
static void child_reset_idle(uintptr_t start, uintptr_t end, void *arg)
{
	int *first = arg;

	if (zc_test_no_guard())
		return;
	zc_guard_backend->child_reset(start, end, *first);
	*first = 0;
}

void zc_guard_child_reset(int forked)
{
	/* The calls first (inflight.c): their records, then the idle set's. */
	int first = zc_inflight_child_reset(1);

	/* The child's copies of the guarded pages become writable, and only
	 * they: the records may be half-written (the backend checks each
	 * range, guard_backend.h; the set is read within its memory's
	 * bounds, whatever its counts say). */
	zc_idle_each_raw(&zc_ext.idle, child_reset_idle, &first);
	zc_fast_child_reset();
	zc_ext_idle_clear(&zc_ext);
	memset(zc_ext.filter, 0, sizeof zc_ext.filter);
	zc_release_seq++;
	zc_bounce_reset();
	/* The parent's userfaultfd is not the child's (guard_uffd.c). */
	if (zc_guard_backend->child && zc_guard_backend->child(forked)) {
		zc_guard_backend = &zc_guard_mprotect;
		zc_ext.idle_cap = idle_cap_for_map_count();
		if (zc_ext.idle_cap > idle_room)
			zc_ext.idle_cap = idle_room;
		kernel_faults_covered = 0;
	}
}
