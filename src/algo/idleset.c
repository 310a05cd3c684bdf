/*
 * idleset.c - the idle set in blocks (see idleset.h).
 *
 * Positions: a block is named by its position in order[] (b), a range by
 * its block position and its index in the block (o). Every block in use
 * holds at least one range, so last_end[] is defined for each, and sorted
 * (the ranges are disjoint and sorted across blocks).
 *
 * For a fork child that may copy the set half-changed (zc_idle_each_raw),
 * each change is ordered so that no range is ever absent from every block
 * in use, only present twice: a split lists the new block before the old
 * one gives its ranges up, a merge empties a block only after its
 * neighbour holds them.
 */
#include "idleset.h"

#include <string.h>

#define B ZC_IDLE_BLOCK

/* Blocks for room ranges: adjacent blocks hold more than B / 2 together,
 * so n ranges take at most 4n / B + 1 of them (plus a few to split into). */
static uint32_t blocks_for(uint32_t room)
{
	return 4u * (room / B) + 8u;
}

size_t zc_idle_bytes(uint32_t room)
{
	size_t nb = blocks_for(room);

	return nb * (sizeof(struct zc_idle_block) + sizeof(uintptr_t) + sizeof(struct zc_idle_slot) +
		     sizeof(uint32_t));
}

void zc_idle_setup(struct zc_idle_set *s, void *mem, uint32_t room)
{
	uint32_t nb = blocks_for(room);

	s->blocks = mem;
	s->last_end = (uintptr_t *)(s->blocks + nb);
	s->order = (struct zc_idle_slot *)(s->last_end + nb);
	s->spare = (uint32_t *)(s->order + nb);
	s->nblocks_max = nb;
	zc_idle_clear(s);
}

/* The set changes: the memo of the last answer goes (nothing is in
 * [memo_lo, memo_hi) when memo_hi is 0). */
static inline void forget(struct zc_idle_set *s)
{
	s->memo_hi = 0;
	s->memo_lo = 1;
}

void zc_idle_clear(struct zc_idle_set *s)
{
	__atomic_store_n(&s->n, 0, __ATOMIC_RELEASE);
	s->nblocks = 0;
	s->hint = 0;
	s->hint_o = 0;
	forget(s);
	s->nspare = s->nblocks_max;
	for (uint32_t i = 0; i < s->nblocks_max; i++)
		s->spare[i] = s->nblocks_max - 1 - i;   /* (popped from the top: 0, 1, ...) */
}

static inline struct zc_ext_range *rng(const struct zc_idle_set *s, uint32_t b)
{
	return s->blocks[s->order[b].id].r;
}

/* The first block position whose last range ends after a, by bisection
 * over [lo, hi), where the answer is known to lie (nblocks: none). */
static uint32_t block_bisect(const struct zc_idle_set *s, uintptr_t a, uint32_t lo, uint32_t hi)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->last_end[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first block position whose last range ends after a (nblocks:
 * none). A send looks up the same buffer several times, and a content
 * cache sends its buffers in address order as often as not: the search
 * starts from the block found before and gallops (1, 2, 4, ... blocks)
 * before it bisects, instead of a bisection from the middle that misses
 * the cache at most of its levels. */
static uint32_t block_first(const struct zc_idle_set *s, uintptr_t a)
{
	uint32_t n = s->nblocks, h = s->hint, r;

	if (h >= n)
		h = n ? n - 1 : 0;
	if (!n) {
		r = 0;
	} else if (s->last_end[h] <= a) {
		/* Further on: in (h, n]. */
		uint32_t p = h + 1, step = 1;

		while (p + step <= n && s->last_end[p + step - 1] <= a) {
			p += step;
			step <<= 1;
		}
		r = block_bisect(s, a, p, p + step - 1 < n ? p + step - 1 : n);
	} else if (h > 0 && s->last_end[h - 1] > a) {
		/* Before: in [0, h - 1]. */
		uint32_t q = h - 1, step = 1;

		while (q >= step && s->last_end[q - step] > a) {
			q -= step;
			step <<= 1;
		}
		r = block_bisect(s, a, q >= step ? q - step + 1 : 0, q);
	} else {
		r = h;
	}
	((struct zc_idle_set *)s)->hint = r < n ? r : (n ? n - 1 : 0);
	return r;
}

/* Among the ranges r[0..n) of a block, the first ending after a, by
 * bisection over [lo, hi), where the answer is known to lie (n: none). */
static uint32_t range_bisect(const struct zc_ext_range *r, uintptr_t a, uint32_t lo, uint32_t hi)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t range_first(const struct zc_ext_range *r, uint32_t n, uintptr_t a)
{
	return range_bisect(r, a, 0, n);
}

/* The same, galloping from index h (the answer before, in the same
 * block): a send's look-ups of one buffer (its edges, its pages, its
 * release) and a ring's buffers in address order land on or next to it. */
static uint32_t range_first_near(const struct zc_ext_range *r, uint32_t n, uintptr_t a, uint32_t h)
{
	if (h > n)
		h = n;
	if (h < n && r[h].end <= a) {
		uint32_t p = h + 1, step = 1;

		while (p + step <= n && r[p + step - 1].end <= a) {
			p += step;
			step <<= 1;
		}
		return range_bisect(r, a, p, p + step - 1 < n ? p + step - 1 : n);
	}
	if (h > 0 && r[h - 1].end > a) {
		uint32_t q = h - 1, step = 1;

		while (q >= step && r[q - step].end > a) {
			q -= step;
			step <<= 1;
		}
		return range_bisect(r, a, q >= step ? q - step + 1 : 0, q);
	}
	return h;
}

const struct zc_ext_range *zc_idle_first(const struct zc_idle_set *s, uintptr_t a)
{
	uint32_t b, hb = s->hint, o, n;
	const struct zc_ext_range *r;
	struct zc_idle_set *w;

	if (!s->n)
		return NULL;   /* (nothing written: a set may be a constant, vma.c's) */
	/* The answer before, again: a buffer's edges, its pages and its
	 * release look up the same ranges one after another. */
	if (a >= s->memo_lo && a < s->memo_hi)
		return s->memo;
	b = block_first(s, a);
	if (b >= s->nblocks)
		return NULL;
	r = rng(s, b);
	n = s->order[b].n;
	/* (One range of the block ends after a: last_end[b] does.) */
	o = b == hb ? range_first_near(r, n, a, s->hint_o) : range_first(r, n, a);
	w = (struct zc_idle_set *)s;
	w->hint_o = o;
	w->memo = &r[o];
	w->memo_lo = o ? r[o - 1].end : b ? s->last_end[b - 1] : 0;
	w->memo_hi = r[o].end;
	return &r[o];
}

const struct zc_ext_range *zc_idle_get(const struct zc_idle_set *s, uintptr_t a)
{
	const struct zc_ext_range *r = zc_idle_first(s, a);

	return r && r->start <= a ? r : NULL;
}

static void note_last(struct zc_idle_set *s, uint32_t b)
{
	s->last_end[b] = rng(s, b)[s->order[b].n - 1].end;
}

/* List pool block id, holding n ranges, at position b of order[]. */
static void order_insert(struct zc_idle_set *s, uint32_t b, uint32_t id, uint32_t n)
{
	memmove(&s->order[b + 1], &s->order[b], (s->nblocks - b) * sizeof s->order[0]);
	memmove(&s->last_end[b + 1], &s->last_end[b], (s->nblocks - b) * sizeof s->last_end[0]);
	s->order[b].id = id;
	s->order[b].n = n;
	s->nblocks++;
	note_last(s, b);
}

/* Take position b out of order[] and give its block back to the pool. */
static void order_remove(struct zc_idle_set *s, uint32_t b)
{
	uint32_t id = s->order[b].id;

	memmove(&s->order[b], &s->order[b + 1], (s->nblocks - b - 1) * sizeof s->order[0]);
	memmove(&s->last_end[b], &s->last_end[b + 1], (s->nblocks - b - 1) * sizeof s->last_end[0]);
	s->nblocks--;
	s->spare[s->nspare++] = id;
}

/* Split the full block at position b in two halves (the upper half into
 * a new block listed after it). -1 if the pool has none to spare. */
static int split(struct zc_idle_set *s, uint32_t b)
{
	uint32_t id, n = s->order[b].n, half = n / 2;

	if (!s->nspare)
		return -1;
	id = s->spare[--s->nspare];
	memcpy(s->blocks[id].r, &rng(s, b)[half], (n - half) * sizeof(struct zc_ext_range));
	order_insert(s, b + 1, id, n - half);   /* listed before b gives its half up */
	s->order[b].n = half;
	note_last(s, b);
	return 0;
}

int zc_idle_insert(struct zc_idle_set *s, uintptr_t start, uintptr_t end)
{
	struct zc_ext_range *r;
	uint32_t b, o, n;

	forget(s);
	if (!s->nblocks) {
		if (!s->nspare)
			return -1;
		b = s->spare[--s->nspare];
		s->blocks[b].r[0].start = start;
		s->blocks[b].r[0].end = end;
		order_insert(s, 0, b, 1);
		__atomic_store_n(&s->n, 1, __ATOMIC_RELEASE);
		return 0;
	}
	/* Into the block of the first range ending after start (before that
	 * range), or at the end of the last block when none does. */
	b = block_first(s, start);
	if (b >= s->nblocks)
		b = s->nblocks - 1;
	if (s->order[b].n == B) {
		if (split(s, b))
			return -1;
		if (s->last_end[b] <= start)
			b++;   /* it goes in the upper half */
	}
	r = rng(s, b);
	n = s->order[b].n;
	o = range_first(r, n, start);
	memmove(&r[o + 1], &r[o], (n - o) * sizeof r[0]);
	r[o].start = start;
	r[o].end = end;
	s->order[b].n = n + 1;
	if (o == n)
		note_last(s, b);
	s->hint = b;
	s->hint_o = o;
	__atomic_store_n(&s->n, s->n + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Merge the block at position b + 1 into the one at b (they fit in one). */
static void merge(struct zc_idle_set *s, uint32_t b)
{
	uint32_t n = s->order[b].n, m = s->order[b + 1].n;

	memcpy(&rng(s, b)[n], rng(s, b + 1), m * sizeof(struct zc_ext_range));
	s->order[b].n = n + m;   /* b holds them all before b + 1 is given back */
	note_last(s, b);
	order_remove(s, b + 1);
}

void zc_idle_remove(struct zc_idle_set *s, uintptr_t start)
{
	struct zc_ext_range *r;
	uint32_t b = block_first(s, start), o, n;

	forget(s);
	if (b >= s->nblocks)
		return;
	r = rng(s, b);
	n = s->order[b].n;
	o = range_first(r, n, start);
	if (o >= n || r[o].start != start)
		return;   /* (not a range of the set: the caller's promise broken) */
	memmove(&r[o], &r[o + 1], (n - o - 1) * sizeof r[0]);
	s->order[b].n = --n;
	__atomic_store_n(&s->n, s->n - 1, __ATOMIC_RELEASE);
	if (!n) {
		/* (Its neighbours held more than half a block with it, so they
		 * do together: one of them held at least half alone.) */
		order_remove(s, b);
	} else {
		if (o == n)
			note_last(s, b);
		/* Keep every two adjacent blocks above half a block together:
		 * merge with a neighbour while they fit in half a block. */
		for (;;) {
			if (b + 1 < s->nblocks && s->order[b].n + s->order[b + 1].n <= B / 2) {
				merge(s, b);
			} else if (b > 0 && s->order[b - 1].n + s->order[b].n <= B / 2) {
				merge(s, b - 1);
				b--;
			} else {
				break;
			}
		}
	}
	if (s->hint >= s->nblocks)
		s->hint = s->nblocks ? s->nblocks - 1 : 0;
}

void zc_idle_each_raw(const struct zc_idle_set *s,
		      void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
	uint32_t nb = s->nblocks < s->nblocks_max ? s->nblocks : s->nblocks_max;

	for (uint32_t b = 0; b < nb; b++) {
		uint32_t id = s->order[b].id, n = s->order[b].n < B ? s->order[b].n : B;

		if (id >= s->nblocks_max)
			continue;
		for (uint32_t i = 0; i < n; i++)
			fn(s->blocks[id].r[i].start, s->blocks[id].r[i].end, arg);
	}
}

/*
 * The idle range holding a, read without the lock (zc_idle_get_racy): no
 * hint, no memo, every load relaxed and every index bounded, so that a
 * set changing meanwhile gives a wrong answer, never a fault. The caller
 * validates the answer with the set's sequence count (extent.h).
 */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

int zc_idle_get_racy(const struct zc_idle_set *s, uintptr_t a, struct zc_ext_range *out,
		     struct zc_idle_hint *h)
{
	uint32_t nb = LOAD(s->nblocks), lo = 0, hi, id, n;
	const struct zc_ext_range *r;

	if (!s->blocks || nb > s->nblocks_max)
		return 0;
	/* The caller's block from last time, if it holds a: a ring's next
	 * buffer is most often in it, a few ranges on. */
	if (h && h->b < nb && LOAD(s->last_end[h->b]) > a &&
	    (h->b == 0 || LOAD(s->last_end[h->b - 1]) <= a)) {
		lo = h->b;
	} else {
		hi = nb;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (LOAD(s->last_end[mid]) <= a)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= nb)
			return 0;
	}
	id = LOAD(s->order[lo].id);
	n = LOAD(s->order[lo].n);
	if (id >= s->nblocks_max || n > ZC_IDLE_BLOCK)
		return 0;
	r = s->blocks[id].r;
	if (h) {
		h->b = lo;
		/* Up to four ranges on from the range found last time. */
		for (uint32_t o = h->o; o < n && o < h->o + 4; o++) {
			uintptr_t e = LOAD(r[o].end);

			if (e <= a)
				continue;
			if (o > 0 && LOAD(r[o - 1].end) > a)
				break;   /* (a lies before it: bisect) */
			out->start = LOAD(r[o].start);
			out->end = e;
			h->o = o;
			return out->start <= a && a < out->end;
		}
	}
	lo = 0;
	hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (LOAD(r[mid].end) <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= n)
		return 0;
	if (h)
		h->o = lo;
	out->start = LOAD(r[lo].start);
	out->end = LOAD(r[lo].end);
	return out->start <= a && a < out->end;
}
