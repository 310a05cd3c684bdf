/*
 * idleset.h - the idle set: page ranges of released calls kept read-only
 * until the program writes them (extent.h says what they are for).
 *
 * Sorted by start and disjoint. A content cache keeps up to a million of
 * them, and adds and takes them in whatever order its buffers are kept and
 * rewritten, so every operation must stay cheap at that size, not only
 * the look-ups: the ranges live in blocks of ZC_IDLE_BLOCK, themselves kept
 * in address order. A look-up bisects the blocks' last ends, then one
 * block; an insertion or removal moves at most one block's ranges, and a
 * block split or merged (once per many of them) the list of blocks.
 * (A single sorted array moved half the set per insertion in random
 * order: 170 us at a million ranges, under the global lock.)
 *
 * Every adjacent pair of blocks holds more than half a block's ranges
 * (a removal merges a block into a neighbour otherwise), so a set of n
 * ranges uses at most 4n / ZC_IDLE_BLOCK + 1 blocks: zc_idle_bytes.
 *
 * Pure logic: no locks, no syscalls, no malloc (the caller gives the
 * memory). The caller holds the global lock for every call but
 * zc_idle_count, a lock-free hint.
 */
#ifndef ZC_IDLESET_H
#define ZC_IDLESET_H

#include <stddef.h>
#include <stdint.h>

struct zc_ext_range {
	uintptr_t start, end;
};

#define ZC_IDLE_BLOCK 256u   /* ranges per block: 4 KiB of them */

struct zc_idle_block {
	struct zc_ext_range r[ZC_IDLE_BLOCK];
};

/* A block in use: which one of the pool, and how many ranges it holds
 * (r[0..n)). Kept here rather than in the block, so that a search reads
 * one line of the block, the one with the range it finds. */
struct zc_idle_slot {
	uint32_t id, n;
};

struct zc_idle_set {
	struct zc_idle_block *blocks;     /* the pool: nblocks_max of them */
	struct zc_idle_slot *order;       /* the blocks in use, in address order */
	uintptr_t *last_end;              /* last_end[i]: end of block order[i]'s last range */
	uint32_t *spare;                  /* pool indices not in use (a stack) */
	uint32_t nblocks_max;             /* the pool's size */
	uint32_t nblocks;                 /* blocks in use: order[0..nblocks) */
	uint32_t nspare;                  /* spare[0..nspare) */
	uint32_t n;                       /* ranges in the set */
	uint32_t hint;                    /* the block position the last search found (a guess, checked) */
	uint32_t hint_o;                  /* and the range's index in that block (a guess, checked) */
	/* The last answer of zc_idle_first, good for any address in
	 * [memo_lo, memo_hi) until the set changes (the previous range's end
	 * to its own). */
	const struct zc_ext_range *memo;
	uintptr_t memo_lo, memo_hi;
};

/* Bytes of memory a set of at most room ranges needs (zc_idle_setup). */
size_t zc_idle_bytes(uint32_t room);

/* Lay a set of at most room ranges out in mem (zc_idle_bytes(room) bytes,
 * aligned for a pointer), empty. */
void zc_idle_setup(struct zc_idle_set *s, void *mem, uint32_t room);

/* Empty the set. */
void zc_idle_clear(struct zc_idle_set *s);

/* How many ranges the set holds (a relaxed load: a hint without the lock). */
static inline uint32_t zc_idle_count(const struct zc_idle_set *s)
{
	return __atomic_load_n(&s->n, __ATOMIC_RELAXED);
}

/* The first range ending after a, or NULL. The pointer is good until the
 * set next changes. */
const struct zc_ext_range *zc_idle_first(const struct zc_idle_set *s, uintptr_t a);

/* The range holding address a, or NULL. */
const struct zc_ext_range *zc_idle_get(const struct zc_idle_set *s, uintptr_t a);

/* Insert [start, end), which shares no byte with any range of the set.
 * 0, or -1 if the pool has no block to spare (nothing changed). */
int zc_idle_insert(struct zc_idle_set *s, uintptr_t start, uintptr_t end);

/* Remove the range that starts at start (which must be one). */
void zc_idle_remove(struct zc_idle_set *s, uintptr_t start);

/* Where a caller's last look-up without the lock ended (its own: the set's
 * hint and memo are written only under the lock). */
struct zc_idle_hint {
	uint32_t b, o;   /* block position, range index in it */
};

/* Without the lock: the range holding a into *out, 1; or 0. Never faults,
 * but only an answer the set's sequence count vouches for may be used
 * (extent.h, zc_ext_idle_holds_racy). h (or NULL): where to look first,
 * updated. */
int zc_idle_get_racy(const struct zc_idle_set *s, uintptr_t a, struct zc_ext_range *out,
		     struct zc_idle_hint *h);

/* Call fn on every range the memory of s holds, trusting none of its
 * counts or indices beyond the pool's bounds: for a fork child made while
 * another thread may have been changing the set (the ranges may then be
 * stale or repeated; fn must check each). */
void zc_idle_each_raw(const struct zc_idle_set *s,
		      void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg);

#endif
