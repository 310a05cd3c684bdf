/*
 * extent.h - the in-flight table: which page ranges each unreleased
 * zerocopy call keeps guarded.
 *
 * One call becomes one or more entries (one per guarded run of pages; a
 * call may also have none, when all its bytes went through bounce memory).
 * The first entry of a call is its head: it carries the call's accounting
 * (bytes, pinned pages, bounce slot). Entries of different calls may
 * overlap: a page stays guarded while any entry covers it.
 *
 * Beside the calls, the idle set: ranges of released calls whose pages are
 * kept read-only until the program writes them (lazy release), so that a
 * buffer sent again needs no new protection. Sorted by start and disjoint,
 * kept in blocks (idleset.h): a content cache can keep a million of them,
 * in any order, while every send scans only the calls in flight and
 * searches the set in logarithmic steps. An idle range may overlap
 * calls (a buffer sent again while idle); a page is guarded while a call or
 * an idle range covers it.
 *
 * Pure logic: no locks, no syscalls. The caller holds the global lock.
 */
#ifndef ZC_EXTENT_H
#define ZC_EXTENT_H

#include <stddef.h>
#include <stdint.h>

#include "idleset.h"

struct zc_ext {
	uintptr_t start, end;   /* guarded pages [start, end); empty once detached */
	uintptr_t born_start, born_end;   /* the range it was created with (filter) */
	uint32_t slot;          /* socket slot */
	uint32_t sgen;          /* generation of that slot when the call was made */
	uint32_t id;            /* the call's zerocopy id (valid once sent) */
	uint32_t head : 1;      /* carries the accounting below */
	uint32_t sent : 1;      /* the call returned success; id is valid */
	uint32_t bounce;        /* bounce slot + 1, or 0 (head only) */
	uint64_t bytes;         /* payload bytes (head only) */
	uint64_t pin_pages;     /* locked pages the kernel charged (head only) */
};


/*
 * A lock-free "might this range be guarded?" filter for the hot paths
 * (every free() and read() while anything is in flight): for each 2 MiB
 * region, hashed, how many entries were created touching it. An entry
 * counts over the range it was created with, until it is removed; trimming
 * it never lowers a count, so the filter has false positives only.
 */
#define ZC_FILTER_SHIFT 21
#define ZC_FILTER_SIZE 4096

struct zc_ext_table {
	struct zc_ext *v;
	uint32_t n;             /* entries in use: v[0..n) */
	uint32_t cap;           /* capacity of v */
	uint32_t reserve;       /* entries kept free for splits by detach */
	uint32_t reshaped;      /* counts zc_ext_detach and zc_ext_shift calls: the
				 * only ways an entry of a call is made or dropped
				 * other than zc_ext_add and zc_ext_remove */
	struct zc_idle_set idle;   /* the idle set (idleset.h) */
	/* The idle set's sequence count: odd while it changes; also raised
	 * by 2 (zc_ext_idle_mark) before ranges are taken out of it. A
	 * reader without the lock (zc_ext_idle_holds_racy) trusts what it
	 * read only if the count was even and is the same after. */
	uint32_t idle_seq;
	uint32_t idle_cap;      /* the most ranges the guard lets it hold */
	uint32_t filter[ZC_FILTER_SIZE];   /* counts calls' entries and idle ranges */
};

/* Could any entry or idle range guard a byte of [start, end)? No lock needed: a false
 * answer is only possible for a range another thread is guarding right
 * now, which the program could not be freeing or reading into anyway. */
int zc_ext_maybe(const struct zc_ext_table *t, uintptr_t start, uintptr_t end);

static inline int zc_ext_guarded(const struct zc_ext *e) { return e->start < e->end; }

/* Does the table hold any entry or idle range? (a lock-free hint) */
static inline int zc_ext_any(const struct zc_ext_table *t)
{
	return __atomic_load_n(&t->n, __ATOMIC_RELAXED) != 0 ||
	       zc_idle_count(&t->idle) != 0;
}

/* Append an entry; -1 when only the split reserve is left. */
int zc_ext_add(struct zc_ext_table *t, const struct zc_ext *e);

/* Add the parts of [start, end) not yet idle to the idle set. Returns 0, or
 * -1 if the set is full (then some parts may be missing: they stay
 * whatever else covers them). */
int zc_ext_idle_add(struct zc_ext_table *t, uintptr_t start, uintptr_t end);

/* Remove every idle range that shares a byte with [start, end), whole, and
 * write it to out (at most max are removed; returns how many were). */
size_t zc_ext_idle_take(struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			struct zc_ext_range *out, size_t max);

/* How many ranges the idle set holds (a lock-free hint). */
static inline uint32_t zc_ext_nidle(const struct zc_ext_table *t)
{
	return zc_idle_count(&t->idle);
}

/* Without the lock: do idle ranges (at most a few, touching) hold all of
 * [start, end)? *seq: the sequence count the answer holds for (a yes is
 * true until the count moves). h: the caller's hint (idleset.h), or NULL. */
int zc_ext_idle_holds_racy(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			   uint32_t *seq, struct zc_idle_hint *h);

/* Raise the sequence count by 2, sequentially consistent: ranges are about
 * to be taken out (fastring.h). */
static inline void zc_ext_idle_mark(struct zc_ext_table *t)
{
	__atomic_fetch_add(&t->idle_seq, 2, __ATOMIC_SEQ_CST);
}

/* Empty the idle set (no protection changes). */
void zc_ext_idle_clear(struct zc_ext_table *t);

/* The idle range holding address a, or NULL (good until the set changes). */
const struct zc_ext_range *zc_ext_idle_get(const struct zc_ext_table *t, uintptr_t a);

/* Does an entry of a call still in flight (not the idle set) guard a byte
 * of [start, end)? */
int zc_ext_overlaps_active(const struct zc_ext_table *t, uintptr_t start, uintptr_t end);

/* Does an entry of a call not sent yet (armed: its system call may not
 * have taken its pages) guard a byte of [start, end)? */
int zc_ext_pending_in(const struct zc_ext_table *t, uintptr_t start, uintptr_t end);

/* Remove entry i (the last entry moves into its place). */
void zc_ext_remove(struct zc_ext_table *t, uint32_t i);

/* Index of a call's entry guarding address a, or -1 (the idle set is not
 * searched: zc_ext_idle_get). */
int zc_ext_find(const struct zc_ext_table *t, uintptr_t a);

/* Does a call's entry or an idle range guard a byte of [start, end)? */
int zc_ext_overlaps(const struct zc_ext_table *t, uintptr_t start, uintptr_t end);

/* The parts of [start, end) neither an entry nor an idle range guards, in
 * order, at most max of them; returns how many there are (which may exceed
 * max). */
size_t zc_ext_uncovered(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			struct zc_ext_range *out, size_t max);

/* The guarded parts of [start, end) (entries and idle ranges), merged and
 * in order (at most max); returns how many there are. */
size_t zc_ext_covered(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
		      struct zc_ext_range *out, size_t max);

/* The union of the whole ranges of every call's entry that guards a byte
 * of [start, end), merged and in order (at most max); returns how many.
 * (Calls only: idle ranges are taken out whole, zc_ext_idle_take.) */
size_t zc_ext_touching(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
		       struct zc_ext_range *out, size_t max);

/* Stop guarding [start, end) in every call's entry, splitting entries that extend
 * on both sides. Returns 0, or -1 if a split found no free entry (then the
 * entries that could not be split keep their whole range). */
int zc_ext_detach(struct zc_ext_table *t, uintptr_t start, uintptr_t end);

/* The memory [start, end) moved to to (mremap): the calls' entries over it
 * follow it (each overlap becomes an entry of the same call at the new
 * address, and the old range is detached). -1 if the table had no room
 * for some (those parts stay at the old address, where nothing guards). */
int zc_ext_shift(struct zc_ext_table *t, uintptr_t start, uintptr_t end, uintptr_t to);

/* Sort ranges and merge overlapping or touching ones; returns the new count. */
size_t zc_ranges_merge(struct zc_ext_range *r, size_t n);

#endif
