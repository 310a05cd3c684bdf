/*
 * guard.c - protection, release, copy-on-write and the fault path.
 *
 * Signal-context invariant: zc_guard_fault and everything it calls
 * (zc_guard_resolve, the *_locked helpers, zc_reap_locked) run in the
 * SIGSEGV handler. They use only raw syscalls (mprotect, mmap, mremap,
 * munmap, recvmsg, ppoll, clock_gettime, futex, rt_sigprocmask), memcpy,
 * and memory the shim mapped itself. No malloc, no stdio.
 */
#include "guard.h"
#include "bounce.h"
#include "calibrate.h"
#include "kcheck.h"
#include "shim.h"
#include "sock.h"
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
/* Idle ranges kept (lazy release): a content cache of thousands of
 * buffers fits. Each one kept read-only can split a mapping in up to three,
 * and mappings are counted against vm.max_map_count (65530 by default): so
 * that the program's own mmap() never runs out because of them, they take
 * at most a sixteenth of that limit (each range costing two mappings at
 * worst: 4095 ranges, 8190 mappings of 65530). */
#define IDLE_MAX 16384u
#define MAP_COUNT_DEFAULT 65530u

static uint32_t idle_cap_for_map_count(void)
{
	char buf[32];
	unsigned long v = 0;
	long n;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/vm/max_map_count",
			      O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = syscall(SYS_read, fd, buf, sizeof buf - 1);
		syscall(SYS_close, fd);
		for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
			v = v * 10 + (unsigned long)(buf[i] - '0');
	}
	if (!v)
		v = MAP_COUNT_DEFAULT;
	v /= 16;
	return v > IDLE_MAX ? IDLE_MAX : (uint32_t)v;
}

struct zc_ext_table zc_ext;
uint32_t zc_release_seq;
uint64_t zc_pin_bytes;
uint64_t zc_pin_cap;

int zc_guard_init(void)
{
	void *p = mmap(NULL, EXT_MAX * sizeof(struct zc_ext), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	zc_ext.v = p;
	zc_ext.cap = EXT_MAX;
	zc_ext.reserve = EXT_RESERVE;
	zc_ext.n = 0;
	p = mmap(NULL, IDLE_MAX * sizeof(struct zc_ext_range), PROT_READ | PROT_WRITE,
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

/* The call's accounting, carried by its head entry. */
static void settle_head_locked(struct zc_ext *e, int orphan_bounce)
{
	if (!e->head)
		return;
	if (e->bounce)
		zc_bounce_put((int)e->bounce - 1, orphan_bounce);
	if (e->sent) {
		zc_pin_bytes -= e->pin_pages * zc_page;
		zc_stats_inflight(-(int64_t)e->bytes);
	}
	e->head = 0;
	e->bounce = 0;
}

void zc_guard_remove_locked(uint32_t i, int orphan_bounce)
{
	struct zc_ext e = zc_ext.v[i];

	settle_head_locked(&e, orphan_bounce);
	zc_ext_remove(&zc_ext, i);
	if (zc_ext_guarded(&e))
		zc_guard_unprotect_locked(e.start, e.end);
}

/*
 * Hot buffers. A buffer the program writes between two sends pays two
 * protection changes and a fault per send under the guard, more than the
 * copy zerocopy saves. Such buffers (keyed by their first guarded page)
 * are remembered here; their sends are copied, and one in HOT_PROBE is
 * tried with zerocopy again in case the program changed its ways. A probe
 * costs a full guard cycle (two protection changes and a fault), so a
 * buffer found rewritten again right after its probe waits twice as long
 * for the next one, up to HOT_PROBE << HOT_LEVEL_MAX sends.
 *
 * Most probes of a buffer still rewritten need not be made: the send before
 * a probe samples the content of the buffer's first guarded page, and the
 * probe samples it again. Different: the program wrote the buffer between
 * the two sends, which is what the probe would find, at the price of a
 * guard cycle; the probe is skipped and counted as failed. The same: the
 * probe is made (a rewrite with the same bytes, or outside the sampled
 * words, is found by the guard as before). A sample only ever skips a
 * probe; it never lets a send go out unguarded.
 */
#define HOT_SET_BITS 8   /* 256 sets of HOT_WAYS: 1024 buffers */
#define HOT_WAYS 4
#define HOT_SIZE ((1u << HOT_SET_BITS) * HOT_WAYS)
#define HOT_PROBE 64
#define HOT_LEVEL_MAX 4

/* Keys apart from the rest, so that the lookup on every send reads one
 * cache line: the HOT_WAYS keys of a set. 0: an empty entry. */
static uintptr_t hot_key[HOT_SIZE] __attribute__((aligned(64)));
static struct {
	uint64_t sample;   /* content sample taken by the send before a probe */
	uint32_t sends;
	uint8_t level;     /* probes every HOT_PROBE << level sends */
	uint8_t probing;   /* a probe is out: zerocopy until it is written again */
	uint8_t sampled;   /* sample is valid */
} hot[HOT_SIZE];
static uint32_t hot_victim;   /* under the lock: see way_for_new */

/*
 * The set of a buffer (keyed by its first guarded page) in a table of
 * 1 << bits sets; hot_key[] and seen_once[] both use it. The top bits of
 * the page number times 2^64 / phi (Fibonacci hashing): the low bits of
 * such a product depend only on the low bits of the page number, so
 * buffers a power of two of pages apart (an allocator's size classes; 1 MiB
 * blocks are 256 pages apart) would share a few sets and push each other
 * out. Sets of several ways absorb the collisions a hash still has.
 */
static inline uint32_t page_set(uintptr_t start, unsigned bits)
{
	return (uint32_t)(((uint64_t)(start >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* The way of a set of n keys that holds key, or -1. Relaxed loads:
 * hot_key[] is read without the lock. */
static int way_of(const uintptr_t *set, uint32_t n, uintptr_t key)
{
	for (uint32_t w = 0; w < n; w++)
		if (__atomic_load_n(&set[w], __ATOMIC_RELAXED) == key)
			return (int)w;
	return -1;
}

/* The way a new key takes in a set of n keys (0: empty): an empty one, or
 * else the one a counter shared by all sets names, close to a random
 * choice: with more keys than ways sent round robin, giving up the least
 * recently used would lose each key just before it is sent again. Under
 * the lock. */
static uint32_t way_for_new(const uintptr_t *set, uint32_t n, uint32_t *victim)
{
	int w = way_of(set, n, 0);

	return w >= 0 ? (uint32_t)w : (*victim)++ % n;
}

/* The entry of start, or -1. Without the lock. */
static int hot_find(uintptr_t start)
{
	uint32_t h = page_set(start, HOT_SET_BITS) * HOT_WAYS;
	int w;

	if (!start || (w = way_of(&hot_key[h], HOT_WAYS, start)) < 0)
		return -1;
	return (int)h + w;
}

/* Under the lock; zc_guard_copy_hot reads without it (a stale read only
 * changes one send between copy and zerocopy, both correct). */
static void mark_hot(uintptr_t start)
{
	int found = hot_find(start);
	uint32_t h;
	uint8_t level = 0;

	if (found >= 0) {
		h = (uint32_t)found;
		level = hot[h].level;
		if (hot[h].probing && level < HOT_LEVEL_MAX)
			level++;   /* still rewritten after its probe */
	} else {
		uint32_t set = page_set(start, HOT_SET_BITS) * HOT_WAYS;

		h = set + way_for_new(&hot_key[set], HOT_WAYS, &hot_victim);
		/* A reader that still matches the old key meanwhile reads
		 * this state for it: one send copied or guarded, both right. */
		__atomic_store_n(&hot_key[h], (uintptr_t)0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&hot[h].sends, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hot[h].level, level, __ATOMIC_RELAXED);
	__atomic_store_n(&hot[h].probing, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hot[h].sampled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hot_key[h], start, __ATOMIC_RELAXED);
}

/* Known to be rewritten between sends, and not on probation. */
static int is_hot(uintptr_t start)
{
	int h = hot_find(start);

	return h >= 0 && !__atomic_load_n(&hot[h].probing, __ATOMIC_RELAXED);
}

int zc_guard_copy_hot(uintptr_t start)
{
	int h;
	uint32_t every, n;

	if (!zc_cfg.adapt || (h = hot_find(start)) < 0 ||
	    __atomic_load_n(&hot[h].probing, __ATOMIC_RELAXED))
		return ZC_HOT_NO;
	every = (uint32_t)HOT_PROBE << __atomic_load_n(&hot[h].level, __ATOMIC_RELAXED);
	n = __atomic_add_fetch(&hot[h].sends, 1, __ATOMIC_RELAXED) % every;
	if (ZC_LIKELY(n != 0 && n != every - 1))
		return ZC_HOT_COPY;
	return n ? ZC_HOT_SAMPLE : ZC_HOT_PROBE;
}

/* These run without the lock, as zc_guard_copy_hot does: a race with
 * mark_hot (under the lock) or another sender only moves a probe. */
void zc_guard_hot_note(uintptr_t start, int ok, uint64_t sample)
{
	int h = hot_find(start);

	if (h < 0)
		return;
	__atomic_store_n(&hot[h].sample, sample, __ATOMIC_RELAXED);
	__atomic_store_n(&hot[h].sampled, (uint8_t)(ok != 0), __ATOMIC_RELAXED);
}

int zc_guard_hot_probe(uintptr_t start, int ok, uint64_t sample)
{
	int h = hot_find(start);

	if (h < 0)
		return 1;   /* forgotten meanwhile: not known rewritten */
	if (ok && __atomic_load_n(&hot[h].sampled, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&hot[h].sample, __ATOMIC_RELAXED) != sample) {
		uint8_t level = __atomic_load_n(&hot[h].level, __ATOMIC_RELAXED);

		/* Rewritten since the send before: what a failed probe does. */
		if (level < HOT_LEVEL_MAX)
			__atomic_store_n(&hot[h].level, (uint8_t)(level + 1), __ATOMIC_RELAXED);
		__atomic_store_n(&hot[h].sends, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&hot[h].sampled, 0, __ATOMIC_RELAXED);
		ZC_STAT_ADD(hot_probes_skipped, 1);
		return 0;
	}
	__atomic_store_n(&hot[h].sampled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hot[h].probing, 1, __ATOMIC_RELAXED);   /* probe */
	ZC_STAT_ADD(hot_probes, 1);
	return 1;
}

/*
 * Buffers seen completing before. Only a buffer sent again unchanged keeps
 * its pages read-only after a completion: read-only pages are a limit for
 * the program (a kernel write into them other than the read family fails
 * with EFAULT until the program writes them itself), so a buffer sent
 * once, a scratch buffer, gets its pages back at once. Sized for a content
 * cache of thousands of buffers sent round robin (a smaller table would
 * forget most of them between two sends): 16384 sets of SEEN_WAYS keys
 * (page_set above), all under the lock.
 */
#define SEEN_SET_BITS 14
#define SEEN_WAYS 4
static uintptr_t seen_once[(1u << SEEN_SET_BITS) * SEEN_WAYS] __attribute__((aligned(64)));
static uint32_t seen_victim;   /* see way_for_new */

static int seen_has(uintptr_t start)
{
	return way_of(&seen_once[page_set(start, SEEN_SET_BITS) * SEEN_WAYS], SEEN_WAYS, start) >= 0;
}

static void seen_note(uintptr_t start)
{
	uintptr_t *set = &seen_once[page_set(start, SEEN_SET_BITS) * SEEN_WAYS];

	if (way_of(set, SEEN_WAYS, start) < 0)
		set[way_for_new(set, SEEN_WAYS, &seen_victim)] = start;
}

/* Will the buffer whose first guarded page is start stay read-only when
 * its call is released: not rewritten, seen before, and idle already or
 * with room in the idle set? */
static int kept_on_release(uintptr_t start)
{
	return !is_hot(start) && seen_has(start) &&
	       (zc_ext.nidle < zc_ext.idle_cap || zc_ext_idle_find(&zc_ext, start) >= 0);
}

int zc_guard_release_keeps(const struct zc_ext *e)
{
	if (!zc_ext_guarded(e) || zc_test_no_guard())
		return 1;
	return kept_on_release(e->start);
}

int zc_guard_worth_locked(uintptr_t start, uintptr_t end)
{
	struct zc_ext_range r[32];
	size_t n, pages = 0;

	if (!zc_cfg.adapt || zc_test_no_guard())
		return ZC_WORTH_PROTECT;
	n = zc_ext_uncovered(&zc_ext, start, end, r, 32);
	if (n == 0)
		return ZC_WORTH_COVERED;   /* read-only already: no protection to pay */
	if (n > 32)
		pages = (end - start) / zc_page;
	else
		for (size_t i = 0; i < n; i++)
			pages += (r[i].end - r[i].start) / zc_page;
	if (kept_on_release(start))
		return ZC_WORTH_PROTECT;   /* paid once for many sends */
	if (pages >= zc_calib_once_min_pages())
		return ZC_WORTH_PROTECT;   /* big enough that even one guard cycle beats the copy */
	/* Copied; sent again, the buffer is kept (and so worth guarding). */
	seen_note(start);
	return ZC_WORTH_COPY;
}

void zc_guard_retire_locked(uint32_t i)
{
	struct zc_ext *e = &zc_ext.v[i];

	settle_head_locked(e, 0);
	zc_release_seq++;   /* a call completed: the quarantine may free */
	/* Lazy release: pages stay read-only until the program writes them;
	 * a buffer sent again meanwhile needs no new protection. The range
	 * joins the idle set, and removing the entry below then makes
	 * writable only what nothing covers any more (nothing, unless the
	 * idle set is full). */
	if (zc_ext_guarded(e) && !zc_test_no_guard() && !is_hot(e->start)) {
		if (seen_has(e->start)) {
			int k = zc_ext_idle_find(&zc_ext, e->start);

			if (k >= 0 && zc_ext.idle[k].end >= e->end) {
				/* Sent while idle (a buffer sent again and
				 * again): the idle range holds it all, so there
				 * is nothing to add and nothing to make
				 * writable. One search instead of two. */
				zc_ext_remove(&zc_ext, i);
				return;
			}
			zc_ext_idle_add(&zc_ext, e->start, e->end);
			__atomic_store_n(&zc_stats.idle_ranges, zc_ext.nidle, __ATOMIC_RELAXED);
		} else
			seen_note(e->start);
	}
	zc_guard_remove_locked(i, 0);
}

/* Drop the idle entries touching [start, end): their pages become writable
 * again (what no other entry guards). Returns how many were dropped. */
int zc_guard_drop_idle_locked(uintptr_t start, uintptr_t end, int rewritten)
{
	struct zc_ext_range r[16];
	size_t n;
	int dropped = 0;

	if (!zc_ext.nidle)
		return 0;
	do {
		/* Each is taken out whole (the buffer it keys), then what no
		 * call in flight still guards becomes writable. */
		n = zc_ext_idle_take(&zc_ext, start, end, r, 16);
		for (size_t k = 0; k < n; k++) {
			zc_guard_unprotect_locked(r[k].start, r[k].end);
			if (rewritten)
				mark_hot(r[k].start);
		}
		dropped += (int)n;
	} while (n == 16);
	if (dropped)
		__atomic_store_n(&zc_stats.idle_ranges, zc_ext.nidle, __ATOMIC_RELAXED);
	return dropped;
}

void zc_call_complete_locked(uint32_t slot, uint32_t sgen, uint32_t id)
{
	for (uint32_t i = 0; i < zc_ext.n;) {
		struct zc_ext *e = &zc_ext.v[i];

		if (e->sent && e->slot == slot && e->sgen == sgen && e->id == id)
			zc_guard_retire_locked(i);
		else
			i++;
	}
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

	if (mode == ZC_RESOLVE_COPY)
		n = zc_ext_touching(&zc_ext, start, end, r, 16);
	else
		n = zc_ext_covered(&zc_ext, start, end, r, 16);
	if (n > 16)
		n = 16;
	for (size_t i = 0; i < n; i++) {
		size_t pages = (r[i].end - r[i].start) / zc_page;

		if (written)
			mark_hot(r[i].start);   /* written while in flight */
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

void zc_guard_orphan_slot_locked(uint32_t slot, uint32_t sgen)
{
	/* First give the program private copies of every guarded page these
	 * calls hold (act_locked detaches them, so each pass finds fewer). */
	for (int tries = 0; tries < 1024; tries++) {
		uintptr_t s0 = 0, e0 = 0;

		for (uint32_t i = 0; i < zc_ext.n; i++) {
			struct zc_ext *e = &zc_ext.v[i];

			if (e->sent && e->slot == slot && e->sgen == sgen && zc_ext_guarded(e)) {
				s0 = e->start;
				e0 = e->end;
				break;
			}
		}
		if (s0 == e0 || act_locked(s0, e0, ZC_RESOLVE_COPY, 0))
			break;
	}
	/* Then drop the calls. An entry whose copy failed keeps guarding its
	 * pages: a write to them retries the copy (see zc_guard_resolve). */
	for (uint32_t i = 0; i < zc_ext.n;) {
		struct zc_ext *e = &zc_ext.v[i];

		if (e->sent && e->slot == slot && e->sgen == sgen) {
			if (!zc_ext_guarded(e)) {
				zc_guard_remove_locked(i, 1);
				continue;
			}
			if (e->head && e->bounce) {
				zc_bounce_put((int)e->bounce - 1, 1);
				e->bounce = 0;
			}
		}
		i++;
	}
}

/* Reap the sockets owning guarded pages of [start, end); put into fds the
 * ones still holding some, for the caller to wait on. */
static int reap_owners_locked(uintptr_t start, uintptr_t end, struct pollfd *fds, int max)
{
	uint32_t seen[16];
	int nseen = 0, nfds = 0;

	for (uint32_t i = 0; i < zc_ext.n && nseen < 16; i++) {
		struct zc_ext *e = &zc_ext.v[i];
		int dup = 0;

		if (!e->sent || !zc_ext_guarded(e) || e->end <= start || end <= e->start)
			continue;
		for (int k = 0; k < nseen; k++)
			dup |= seen[k] == e->slot;
		if (dup || !zc_socks[e->slot].used || zc_socks[e->slot].gen != e->sgen)
			continue;
		seen[nseen++] = e->slot;
	}
	for (int k = 0; k < nseen; k++)
		zc_reap_locked(seen[k]);
	for (int k = 0; k < nseen && nfds < max; k++) {
		fds[nfds].fd = zc_socks[seen[k]].fd;
		fds[nfds].events = 0;   /* POLLERR: the error queue has something */
		fds[nfds].revents = 0;
		nfds++;
	}
	return nfds;
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
			nfds = reap_owners_locked(start, end, fds, 16);
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
	int first = 1;
	uint32_t n = zc_ext.n < zc_ext.cap ? zc_ext.n : zc_ext.cap;
	uint32_t nidle = zc_ext.nidle < zc_ext.idle_cap ? zc_ext.nidle : zc_ext.idle_cap;

	/* The child's copies of the guarded pages become writable, and only
	 * they: the records may be half-written (vma.c checks each range). */
	for (uint32_t i = 0; i < n && !zc_test_no_guard(); i++)
		if (zc_ext_guarded(&zc_ext.v[i])) {
			zc_vma_child_unprotect(zc_ext.v[i].start, zc_ext.v[i].end, first);
			first = 0;
		}
	for (uint32_t i = 0; i < nidle && !zc_test_no_guard(); i++) {
		zc_vma_child_unprotect(zc_ext.idle[i].start, zc_ext.idle[i].end, first);
		first = 0;
	}
	zc_ext.n = 0;
	zc_ext.nidle = 0;
	memset(zc_ext.filter, 0, sizeof zc_ext.filter);
	zc_pin_bytes = 0;
	zc_release_seq++;
	zc_bounce_reset();
}
