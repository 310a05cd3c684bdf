/*
 * policy.h - the guard's decisions: which sends are copied rather than
 * guarded, and which released pages stay read-only.
 *
 * The guard (guard.c) is mechanism: it protects, unprotects, copies and
 * handles the fault. What it should do is decided here, by pure functions
 * over tables the caller owns and passes in: no globals, no syscalls, no
 * locks. The caller keeps the storage and the locking; each function says
 * what it expects (the hot table's lookups run without the lock, so its
 * fields are read and written with relaxed atomics: a stale read moves one
 * send between copy and zerocopy, both correct).
 *
 * Signal-context invariant: zc_policy_hot_mark, zc_policy_hot_freed,
 * zc_policy_seen_has and zc_policy_seen_note run in the SIGSEGV handler
 * (through the guard's fault path): memory accesses only, nothing else.
 */
#ifndef ZC_POLICY_H
#define ZC_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "extent.h"

/*
 * The set of a buffer (keyed by its first guarded page) in a table of
 * 1 << bits sets; the hot and the seen tables both use it. The top bits of
 * the page number times 2^64 / phi (Fibonacci hashing): the low bits of
 * such a product depend only on the low bits of the page number, so
 * buffers a power of two of pages apart (an allocator's size classes; 1 MiB
 * blocks are 256 pages apart) would share a few sets and push each other
 * out. Sets of several ways absorb the collisions a hash still has.
 */
static inline uint32_t zc_policy_set(uintptr_t start, unsigned bits)
{
	return (uint32_t)(((uint64_t)(start >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/*
 * Hot buffers. A buffer the program writes between two sends pays two
 * protection changes and a fault per send under the guard, more than the
 * copy zerocopy saves. Such buffers (keyed by their first guarded page)
 * are remembered here; their sends are copied, and one in ZC_HOT_PROBE_EVERY is
 * tried with zerocopy again in case the program changed its ways. A probe
 * costs a full guard cycle (two protection changes and a fault), so a
 * buffer found rewritten again right after its probe waits twice as long
 * for the next one, up to ZC_HOT_PROBE_EVERY << ZC_HOT_LEVEL_MAX sends. The
 * back-off stays with the buffer while it is in the table.
 *
 * Most probes of a buffer still rewritten need not be made: the send before
 * a probe samples the content of the buffer's first guarded page, and the
 * probe samples it again. Different: the program wrote the buffer between
 * the two sends, which is what the probe would find, at the price of a
 * guard cycle; the probe is skipped and counted as failed. The same: the
 * probe is made (a rewrite with the same bytes, or outside the sampled
 * words, is found by the guard as before). A sample only ever skips a
 * probe; it never lets a send go out unguarded.
 *
 * A buffer's first rewrite is a strike, not yet a verdict: a cache reuses
 * an item's memory for another item now and then (memcached's slab
 * chunks), and the new item is sent again and again unchanged. A struck
 * buffer is still sent with zerocopy; written again after a single send,
 * it is hot (a buffer rewritten before every send); sent
 * ZC_HOT_STRIKE_SENDS times or more unchanged first, its next rewrite is
 * a first strike again. Writes with no send since the strike are the same
 * rewrite (memcached writes an item's header, then read()s its value into
 * the rest). Sends are counted as they are armed, so that the count does
 * not depend on when completions come back.
 */
#define ZC_HOT_SET_BITS 8   /* 256 sets of ZC_HOT_WAYS: 1024 buffers */
#define ZC_HOT_WAYS 4
#define ZC_HOT_SIZE ((1u << ZC_HOT_SET_BITS) * ZC_HOT_WAYS)
#define ZC_HOT_PROBE_EVERY 64
#define ZC_HOT_LEVEL_MAX 4
#define ZC_HOT_STRIKE_SENDS 2

struct zc_hot_state {
	uint64_t sample;   /* content sample taken by the send before a probe */
	uint32_t sends;
	uint8_t level;     /* probes every ZC_HOT_PROBE_EVERY << level sends */
	uint8_t probing;   /* a probe is out: zerocopy until it is written again */
	uint8_t sampled;   /* sample is valid */
	uint8_t strike;    /* rewritten once, not hot yet (probing is set too) */
	uint8_t resent;    /* sent again while on probation (zc_policy_hot_freed) */
};

struct zc_hot_table {
	/* Keys apart from the rest, so that the lookup on every send reads
	 * one cache line: the ZC_HOT_WAYS keys of a set. 0: an empty entry. */
	uintptr_t key[ZC_HOT_SIZE] __attribute__((aligned(64)));
	struct zc_hot_state st[ZC_HOT_SIZE];
	uint32_t victim;   /* written under the caller's lock: see zc_policy_way_for_new */
	uint32_t strikes;  /* entries struck (under the lock): none, no send looks */
};

/*
 * Buffers seen completing before. Only a buffer sent again unchanged keeps
 * its pages read-only after a completion: read-only pages are a limit for
 * the program (a kernel write into them other than the read family fails
 * with EFAULT until the program writes them itself), so a buffer sent
 * once, a scratch buffer, gets its pages back at once. Sized for a content
 * cache of a hundred thousand buffers sent round robin (a smaller table
 * would forget most of them between two sends; the userfaultfd guard keeps
 * that many read-only without splitting a mapping): 131072 sets of
 * ZC_SEEN_WAYS keys (4 MiB of address space, touched as it is used), all
 * under the caller's lock.
 */
#define ZC_SEEN_SET_BITS 17
#define ZC_SEEN_WAYS 4
#define ZC_SEEN_SIZE ((1u << ZC_SEEN_SET_BITS) * ZC_SEEN_WAYS)

struct zc_seen_table {
	uintptr_t key[ZC_SEEN_SIZE] __attribute__((aligned(64)));
	uint32_t victim;
};

/* The way of a set of n keys that holds key, or -1. Relaxed loads: the
 * hot table's keys are read without the lock. */
int zc_policy_way_of(const uintptr_t *set, uint32_t n, uintptr_t key);

/* The way a new key takes in a set of n keys (0: empty): an empty one, or
 * else the one a counter shared by all sets names, close to a random
 * choice: with more keys than ways sent round robin, giving up the least
 * recently used would lose each key just before it is sent again. Under
 * the caller's lock (*victim). */
uint32_t zc_policy_way_for_new(const uintptr_t *set, uint32_t n, uint32_t *victim);

/* The hot entry of start, or -1. Without the lock. */
int zc_policy_hot_find(const struct zc_hot_table *t, uintptr_t start);

/* The program wrote the buffer of start (in flight, idle, freed or read
 * into): remember it hot. Found on probation, it backs off one level more.
 * Its send count restarts. Under the caller's lock. */
void zc_policy_hot_mark(struct zc_hot_table *t, uintptr_t start);

/* The buffer of start was freed (its idle pages dropped before the
 * allocator's free). A free is no rewrite of the buffer: found on
 * probation after a probe (a hot buffer's, not a strike) and sent again
 * since (a buffer written once and sent many times, a cache's object), the
 * probe paid, and the entry stays on probation without backing off, so the
 * next buffer the allocator puts at that address goes out with zerocopy
 * from its first send. Otherwise as zc_policy_hot_mark: a buffer freed
 * right after its probe's send (malloc, fill, send, free) backs off, and a
 * struck one is judged by its count of sends. Under the caller's lock. */
void zc_policy_hot_freed(struct zc_hot_table *t, uintptr_t start);

/* Known to be rewritten between sends, and not on probation. */
int zc_policy_is_hot(const struct zc_hot_table *t, uintptr_t start);

/* Should a send whose first guarded page is start be copied, because the
 * program rewrites that buffer between sends? (without the lock)
 *   ZC_HOT_NO      not known rewritten (or its probe is out): go on;
 *   ZC_HOT_COPY    copy it;
 *   ZC_HOT_SAMPLE  copy it, and give zc_policy_hot_note() a sample of the
 *                  page's content: the next send is due to probe;
 *   ZC_HOT_PROBE   a probe is due: zc_policy_hot_probe() decides, with a
 *                  sample of the page's content now. */
enum { ZC_HOT_NO, ZC_HOT_COPY, ZC_HOT_SAMPLE, ZC_HOT_PROBE };
int zc_policy_hot_copy(struct zc_hot_table *t, uintptr_t start);

/* The sample taken on ZC_HOT_SAMPLE (ok = 0: the page could not be read,
 * no sample). Without the lock. */
void zc_policy_hot_note(struct zc_hot_table *t, uintptr_t start, int ok, uint64_t sample);

/* On ZC_HOT_PROBE, with a sample now (ok as above). Without the lock.
 *   ZC_PROBE_GONE  forgotten meanwhile: not known rewritten, send it;
 *   ZC_PROBE_SKIP  the content changed since the sample before, so the
 *                  program still rewrites the buffer: backed off as a
 *                  failed probe would, and the send is copied;
 *   ZC_PROBE_MAKE  probe: send it with zerocopy, on probation. */
enum { ZC_PROBE_GONE, ZC_PROBE_SKIP, ZC_PROBE_MAKE };
int zc_policy_hot_probe(struct zc_hot_table *t, uintptr_t start, int ok, uint64_t sample);

/* Has the buffer of start completed before? Remember that it has. Under
 * the caller's lock. */
int zc_policy_seen_has(const struct zc_seen_table *t, uintptr_t start);
void zc_policy_seen_note(struct zc_seen_table *t, uintptr_t start);

/* Will the buffer whose first guarded page is start stay read-only when
 * its call is released: not rewritten, seen before, and idle already or
 * with room in ext's idle set? */
int zc_policy_kept(const struct zc_hot_table *hot, const struct zc_seen_table *seen,
		   const struct zc_ext_table *ext, uintptr_t start);

/* Does one idle range of ext hold all of [start, end)? (Then its release
 * changes nothing, whatever the tables say.) */
int zc_policy_idle_holds(const struct zc_ext_table *ext, uintptr_t start, uintptr_t end);

/* What a released call's guarded range [start, end) does (the caller has
 * left out unguarded ranges):
 *   ZC_RELEASE_GIVE   its pages become writable (hot, or completing for
 *                     the first time: then noted as seen);
 *   ZC_RELEASE_IDLE   they join the idle set, as far as it has room;
 *   ZC_RELEASE_HELD   an idle range holds it all already (a buffer sent
 *                     while idle): nothing to add, nothing to give back. */
enum { ZC_RELEASE_GIVE, ZC_RELEASE_IDLE, ZC_RELEASE_HELD };
int zc_policy_release(const struct zc_hot_table *hot, struct zc_seen_table *seen,
		      const struct zc_ext_table *ext, uintptr_t start, uintptr_t end);

/* Is guarding a buffer (first guarded page start) for one send worth what
 * the protection costs? pages: how many of its pages are not read-only
 * yet; once_min: the cost model's fewest pages for which one guard cycle
 * beats the copy (zc_cost_once_min_pages, ZC_COST_NEVER if none).
 *   ZC_WORTH_COVERED  no page to protect (read-only already);
 *   ZC_WORTH_PROTECT  kept read-only after this send (paid once for many
 *                     sends), or big enough that one cycle beats the copy;
 *   ZC_WORTH_COPY     copy it; the buffer is noted as seen, so that its
 *                     next send is kept. */
enum { ZC_WORTH_COPY, ZC_WORTH_PROTECT, ZC_WORTH_COVERED /* nothing to protect */ };
int zc_policy_worth(struct zc_hot_table *hot, struct zc_seen_table *seen,
		    const struct zc_ext_table *ext, uintptr_t start, size_t pages,
		    uint32_t once_min);

/* A send of the buffer at start is armed (zc_policy_worth counts it too):
 * a struck buffer counts its sends (see "A buffer's first rewrite" above). */
void zc_policy_hot_sent(struct zc_hot_table *hot, uintptr_t start);

/* Idle ranges kept (lazy release): a content cache of thousands of
 * buffers fits. Each one kept read-only can split a mapping in up to three,
 * and mappings are counted against vm.max_map_count (65530 by default): so
 * that the program's own mmap() never runs out because of them, they take
 * at most a sixteenth of that limit (each range costing two mappings at
 * worst: 4095 ranges, 8190 mappings of 65530). That cap is the mprotect
 * guard's; the userfaultfd guard splits no mapping, and keeps up to the
 * table's size (a million ranges in blocks, about 65 MiB of address space
 * reserved, touched as they fill; found, added and taken in logarithmic
 * steps: idleset.h). */
#define ZC_IDLE_MAX 1048576u
#define ZC_MAP_COUNT_DEFAULT 65530u

/* The idle set's cap from the n bytes read of /proc/sys/vm/max_map_count
 * (n <= 0: nothing could be read; the default limit then). */
uint32_t zc_policy_idle_cap(const char *text, long n);

#endif
