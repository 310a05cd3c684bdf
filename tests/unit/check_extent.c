/*
 * check_extent.c - the in-flight table (extent.c): add (and its split
 * reserve), remove, find, overlaps; the range queries uncovered, covered
 * and touching, by hand and against a per-address model; detach trimming,
 * splitting and emptying entries, and failing on a full table;
 * zc_ranges_merge; the lock-free zc_ext_maybe filter (never a false
 * "no", and its counts return to zero); and the idle set (sorted, disjoint,
 * bisected), by hand and inside the per-address model of the queries;
 * zc_ext_shift (records following memory the kernel moved) and
 * zc_ext_pending_in (calls armed, not sent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extent.h"
#include "suites.h"

#define P 0x1000u

static void table_init(struct zc_ext_table *t, struct zc_ext *v, uint32_t cap, uint32_t reserve)
{
	memset(v, 0, cap * sizeof *v);
	memset(t, 0, sizeof *t);
	t->v = v;
	t->n = 0;
	t->cap = cap;
	t->reserve = reserve;
}

/* Give t an idle set of cap ranges (its memory: zc_idle_bytes; a test's
 * process ends with it). The storage argument of the old layout is
 * unused: the set lays its blocks out in memory of its own. */
static void idle_init(struct zc_ext_table *t, struct zc_ext_range *unused, uint32_t cap)
{
	static void *mem;

	(void)unused;
	free(mem);
	mem = calloc(1, zc_idle_bytes(cap));
	ck_assert_ptr_nonnull(mem);
	zc_idle_setup(&t->idle, mem, cap);
	t->idle_cap = cap;
}

static uint32_t nidle(const struct zc_ext_table *t)
{
	return zc_ext_nidle(t);
}

/* The idle range of index i, in address order (a walk of the blocks). */
static const struct zc_ext_range *idle_at(const struct zc_ext_table *t, uint32_t i)
{
	const struct zc_idle_set *s = &t->idle;

	for (uint32_t b = 0; b < s->nblocks; b++) {
		if (i < s->order[b].n)
			return &s->blocks[s->order[b].id].r[i];
		i -= s->order[b].n;
	}
	return NULL;
}

/* Pages [s, e) made idle (add) or their ranges taken out, in the set and
 * in model (a byte per page: idle or not); a take must only give back
 * pages the model has idle. */
static void model_step(struct zc_ext_table *t, unsigned char *model, uint32_t s, uint32_t e, int add)
{
	struct zc_ext_range out[8];

	if (add) {
		ck_assert_int_eq(zc_ext_idle_add(t, (uintptr_t)s * P, (uintptr_t)e * P), 0);
		memset(model + s, 1, e - s);
		return;
	}
	for (size_t k = 0, n = zc_ext_idle_take(t, (uintptr_t)s * P, (uintptr_t)e * P, out, 8); k < n; k++)
		for (uintptr_t a = out[k].start; a < out[k].end; a += P) {
			ck_assert_int_eq(model[a / P], 1);
			model[a / P] = 0;
		}
}

/* The index of the idle range holding a, or -1 (a walk of the blocks). */
static int idle_find(const struct zc_ext_table *t, uintptr_t a)
{
	const struct zc_ext_range *r = zc_ext_idle_get(t, a);
	const struct zc_idle_set *s = &t->idle;
	int base = 0;

	if (!r)
		return -1;
	for (uint32_t b = 0; b < s->nblocks; b++) {
		const struct zc_ext_range *k = s->blocks[s->order[b].id].r;

		if (r >= k && r < k + s->order[b].n)
			return base + (int)(r - k);
		base += (int)s->order[b].n;
	}
	ck_abort_msg("zc_ext_idle_get gave a range no block holds");
	return -1;
}

/* The idle set is sorted by start, disjoint, and has no empty range; its
 * blocks are what idleset.h says: none empty, none over full, each
 * last_end its last range's end, and every two neighbours holding more
 * than half a block together. */
static void check_idle_sorted(const struct zc_ext_table *t)
{
	const struct zc_idle_set *s = &t->idle;
	const struct zc_ext_range *prev = NULL;
	uint32_t count = 0;

	for (uint32_t b = 0; b < s->nblocks; b++) {
		const struct zc_ext_range *k = s->blocks[s->order[b].id].r;
		uint32_t n = s->order[b].n;

		ck_assert_msg(n > 0 && n <= ZC_IDLE_BLOCK, "block %u holds %u ranges", b, n);
		ck_assert_msg(s->last_end[b] == k[n - 1].end, "block %u: last_end is stale", b);
		if (b)
			ck_assert_msg(s->order[b - 1].n + n > ZC_IDLE_BLOCK / 2,
				      "blocks %u and %u hold %u and %u: not merged", b - 1, b,
				      s->order[b - 1].n, n);
		for (uint32_t i = 0; i < n; i++, count++) {
			const struct zc_ext_range *r = &k[i];

			ck_assert_msg(r->start < r->end, "idle range %u is empty", count);
			if (prev)
				ck_assert_msg(prev->end <= r->start,
					      "idle ranges %u and %u overlap or are out of order",
					      count - 1, count);
			prev = r;
		}
	}
	ck_assert_uint_eq(count, nidle(t));
	ck_assert_uint_eq(s->nblocks + s->nspare, s->nblocks_max);
}

static int add(struct zc_ext_table *t, uintptr_t start, uintptr_t end, uint32_t slot,
	       uint32_t id, int head, uint64_t bytes, uint32_t bounce)
{
	struct zc_ext e;

	memset(&e, 0, sizeof e);
	e.start = start;
	e.end = end;
	e.slot = slot;
	e.sgen = slot + 100;
	e.id = id;
	e.head = head ? 1 : 0;
	e.sent = 1;
	e.bounce = head ? bounce : 0;
	e.bytes = head ? bytes : 0;
	e.pin_pages = head ? (end - start) / P : 0;
	return zc_ext_add(t, &e);
}

static void check_range(const struct zc_ext_range *r, uintptr_t start, uintptr_t end)
{
	ck_assert_msg(r->start == start && r->end == end,
		      "range [%#lx, %#lx), expected [%#lx, %#lx)", (unsigned long)r->start,
		      (unsigned long)r->end, (unsigned long)start, (unsigned long)end);
}

/* A move (mremap) reported by the kernel: the calls' entries over the old
 * range follow it, as entries of the same calls without their
 * accounting; the heads keep theirs where they are. */
START_TEST(test_shift)
{
	struct zc_ext v[16];
	struct zc_ext_table t;
	int a, b;

	table_init(&t, v, 16, 2);
	add(&t, 1 * P, 5 * P, 1, 11, 1, 5000, 3);
	add(&t, 4 * P, 8 * P, 2, 22, 1, 7000, 4);
	add(&t, 20 * P, 22 * P, 3, 33, 1, 9000, 5);   /* elsewhere: untouched */
	ck_assert_int_eq(zc_ext_shift(&t, 3 * P, 6 * P, 100 * P), 0);
	/* The old range is guarded by nobody. */
	ck_assert_int_eq(zc_ext_overlaps(&t, 3 * P, 6 * P), 0);
	ck_assert_int_lt(zc_ext_find(&t, 3 * P), 0);
	/* What is left in place keeps the accounting. */
	a = zc_ext_find(&t, 1 * P);
	ck_assert_int_ge(a, 0);
	ck_assert_uint_eq(t.v[a].end, 3 * P);
	ck_assert(t.v[a].head);
	ck_assert_uint_eq(t.v[a].bytes, 5000);
	b = zc_ext_find(&t, 7 * P);
	ck_assert_int_ge(b, 0);
	ck_assert_uint_eq(t.v[b].start, 6 * P);
	ck_assert(t.v[b].head);
	/* The moved parts: the same calls, at the new address. */
	a = zc_ext_find(&t, 100 * P);
	ck_assert_int_ge(a, 0);
	ck_assert_uint_eq(t.v[a].start, 100 * P);
	ck_assert_uint_eq(t.v[a].end, 102 * P);
	ck_assert_uint_eq(t.v[a].slot, 1);
	ck_assert_uint_eq(t.v[a].id, 11);
	ck_assert(!t.v[a].head);
	ck_assert_uint_eq(t.v[a].bytes, 0);
	ck_assert_uint_eq(t.v[a].bounce, 0);
	b = zc_ext_find(&t, 102 * P);
	ck_assert_int_ge(b, 0);
	ck_assert_uint_eq(t.v[b].start, 101 * P);
	ck_assert_uint_eq(t.v[b].end, 103 * P);
	ck_assert_uint_eq(t.v[b].slot, 2);
	ck_assert_uint_eq(t.v[b].id, 22);
	/* The lock-free filter knows the new address. */
	ck_assert(zc_ext_maybe(&t, 100 * P, 103 * P));
	/* Untouched elsewhere; no move, no change. */
	ck_assert_int_ge(zc_ext_find(&t, 21 * P), 0);
	ck_assert_int_eq(zc_ext_shift(&t, 50 * P, 60 * P, 50 * P), 0);
}
END_TEST

/* Calls armed but not sent yet, over a range: their pages must not be
 * replaced before their system call takes them. */
START_TEST(test_pending_in)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	int i;

	table_init(&t, v, 8, 1);
	add(&t, 1 * P, 4 * P, 1, 11, 1, 100, 1);
	i = add(&t, 10 * P, 12 * P, 2, 22, 1, 100, 2);
	t.v[i].sent = 0;   /* armed, not yet sent */
	ck_assert_int_eq(zc_ext_pending_in(&t, 1 * P, 4 * P), 0);
	ck_assert_int_eq(zc_ext_pending_in(&t, 9 * P, 10 * P), 0);
	ck_assert_int_eq(zc_ext_pending_in(&t, 11 * P, 12 * P), 1);
	ck_assert_int_eq(zc_ext_pending_in(&t, 0, 100 * P), 1);
	t.v[i].sent = 1;
	ck_assert_int_eq(zc_ext_pending_in(&t, 0, 100 * P), 0);
}
END_TEST

START_TEST(test_add_find_remove)
{
	struct zc_ext v[4];
	struct zc_ext_table t;

	table_init(&t, v, 4, 0);
	ck_assert_int_eq(add(&t, 1 * P, 3 * P, 1, 10, 1, 100, 0), 0);
	ck_assert_int_eq(add(&t, 5 * P, 6 * P, 2, 20, 1, 200, 0), 1);
	ck_assert_int_eq(add(&t, 8 * P, 10 * P, 3, 30, 1, 300, 0), 2);
	ck_assert_uint_eq(t.n, 3);

	ck_assert_int_eq(zc_ext_find(&t, 1 * P), 0);
	ck_assert_int_eq(zc_ext_find(&t, 3 * P - 1), 0);
	ck_assert_int_eq(zc_ext_find(&t, 3 * P), -1);     /* end is exclusive */
	ck_assert_int_eq(zc_ext_find(&t, 1 * P - 1), -1);
	ck_assert_int_eq(zc_ext_find(&t, 5 * P + 17), 1);
	ck_assert_int_eq(zc_ext_find(&t, 9 * P), 2);
	ck_assert_int_eq(zc_ext_find(&t, 0), -1);

	ck_assert(zc_ext_overlaps(&t, 2 * P, 4 * P));
	ck_assert(zc_ext_overlaps(&t, 0, 1 * P + 1));
	ck_assert(!zc_ext_overlaps(&t, 0, 1 * P));        /* touching is not overlapping */
	ck_assert(!zc_ext_overlaps(&t, 3 * P, 5 * P));
	ck_assert(!zc_ext_overlaps(&t, 6 * P, 8 * P));
	ck_assert(zc_ext_overlaps(&t, 4 * P, 11 * P));
	ck_assert(!zc_ext_overlaps(&t, 4 * P, 4 * P));    /* empty, outside */

	/* Remove 0: the last entry moves into its place. */
	zc_ext_remove(&t, 0);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.v[0].id, 30);
	ck_assert_uint_eq(t.v[1].id, 20);
	ck_assert_int_eq(zc_ext_find(&t, 2 * P), -1);
	ck_assert_int_eq(zc_ext_find(&t, 9 * P), 0);
	ck_assert(!zc_ext_overlaps(&t, 1 * P, 3 * P));

	/* Out of range: nothing happens. */
	zc_ext_remove(&t, 2);
	zc_ext_remove(&t, 1000);
	ck_assert_uint_eq(t.n, 2);

	zc_ext_remove(&t, 1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].id, 30);
	zc_ext_remove(&t, 0);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(zc_ext_find(&t, 9 * P), -1);
}
END_TEST

/* An empty query has no byte to guard, even inside an entry (extent.h:
 * "Does any entry guard a byte of [start, end)?"). */
START_TEST(test_overlaps_empty_query)
{
	struct zc_ext v[2];
	struct zc_ext_table t;

	table_init(&t, v, 2, 0);
	add(&t, 1 * P, 3 * P, 1, 10, 1, 100, 0);
	ck_assert(!zc_ext_overlaps(&t, 0, 0));
	ck_assert(!zc_ext_overlaps(&t, 3 * P, 3 * P));
	ck_assert(!zc_ext_overlaps(&t, 1 * P, 1 * P));
	ck_assert(!zc_ext_overlaps(&t, 2 * P, 2 * P));
}
END_TEST

START_TEST(test_add_reserve)
{
	struct zc_ext v[5];
	struct zc_ext_table t;

	table_init(&t, v, 5, 2);
	ck_assert_int_eq(add(&t, 1 * P, 2 * P, 1, 1, 1, 1, 0), 0);
	ck_assert_int_eq(add(&t, 2 * P, 3 * P, 1, 2, 1, 1, 0), 1);
	ck_assert_int_eq(add(&t, 3 * P, 4 * P, 1, 3, 1, 1, 0), 2);
	/* Two free entries are left, and both are the reserve. */
	ck_assert_int_eq(add(&t, 4 * P, 5 * P, 1, 4, 1, 1, 0), -1);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_int_eq(zc_ext_find(&t, 4 * P), -1);

	/* The reserve is there for detach's splits. */
	ck_assert_int_eq(add(&t, 0, 0, 0, 0, 0, 0, 0), -1);
	ck_assert_int_eq(zc_ext_detach(&t, 1 * P + 0x100, 1 * P + 0x200), 0);
	ck_assert_uint_eq(t.n, 4);

	zc_ext_remove(&t, 3);
	zc_ext_remove(&t, 2);
	ck_assert_int_eq(add(&t, 4 * P, 5 * P, 1, 4, 1, 1, 0), 2);

	/* No reserve: the last entry can be used. */
	table_init(&t, v, 2, 0);
	ck_assert_int_eq(add(&t, 1 * P, 2 * P, 1, 1, 1, 1, 0), 0);
	ck_assert_int_eq(add(&t, 2 * P, 3 * P, 1, 2, 1, 1, 0), 1);
	ck_assert_int_eq(add(&t, 3 * P, 4 * P, 1, 3, 1, 1, 0), -1);
}
END_TEST

/* A: [1,3) call 1, B: [2,5) call 2 (overlaps A), C: [7,8), D: [9,10),
 * and E: a head detached earlier (empty range), which guards nothing. */
static void fill_uncovered_table(struct zc_ext_table *t, struct zc_ext *v, uint32_t cap)
{
	table_init(t, v, cap, 0);
	add(t, 1 * P, 3 * P, 1, 1, 1, 2 * P, 0);
	add(t, 2 * P, 5 * P, 2, 7, 1, 3 * P, 0);
	add(t, 7 * P, 8 * P, 1, 2, 1, P, 0);
	add(t, 0, 0, 3, 9, 1, P, 0);
	add(t, 9 * P, 10 * P, 3, 10, 1, P, 0);
}

START_TEST(test_uncovered)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	struct zc_ext_range r[8];

	fill_uncovered_table(&t, v, 8);

	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 11 * P, r, 8), 4);
	check_range(&r[0], 0, 1 * P);
	check_range(&r[1], 5 * P, 7 * P);
	check_range(&r[2], 8 * P, 9 * P);
	check_range(&r[3], 10 * P, 11 * P);

	/* Starting inside A, across the A/B overlap. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 1 * P + 5, 6 * P, r, 8), 1);
	check_range(&r[0], 5 * P, 6 * P);

	/* Wholly guarded, by two calls. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 1 * P, 5 * P, r, 8), 0);
	ck_assert_uint_eq(zc_ext_uncovered(&t, 2 * P + 1, 3 * P - 1, r, 8), 0);

	/* Wholly unguarded, unaligned. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 5 * P + 3, 6 * P + 9, r, 8), 1);
	check_range(&r[0], 5 * P + 3, 6 * P + 9);

	/* Empty query. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 3 * P, 3 * P, r, 8), 0);

	/* Empty table. */
	t.n = 0;
	ck_assert_uint_eq(zc_ext_uncovered(&t, P, 2 * P, r, 8), 1);
	check_range(&r[0], P, 2 * P);
}
END_TEST

START_TEST(test_uncovered_small_out)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	struct zc_ext_range r[4];

	fill_uncovered_table(&t, v, 8);
	for (int i = 0; i < 4; i++)
		r[i].start = r[i].end = 0xdead;

	/* Four gaps, room for two: the count is still four. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 11 * P, r, 2), 4);
	check_range(&r[0], 0, 1 * P);
	check_range(&r[1], 5 * P, 7 * P);
	check_range(&r[2], 0xdead, 0xdead);
	check_range(&r[3], 0xdead, 0xdead);

	/* Room for none. */
	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 11 * P, r, 0), 4);
	check_range(&r[2], 0xdead, 0xdead);

	/* The covered variant obeys max the same way. */
	ck_assert_uint_eq(zc_ext_covered(&t, 0, 11 * P, r, 1), 3);
	check_range(&r[0], 1 * P, 5 * P);
	check_range(&r[2], 0xdead, 0xdead);
}
END_TEST

START_TEST(test_covered)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	struct zc_ext_range r[8];

	fill_uncovered_table(&t, v, 8);

	/* A and B merge into one. */
	ck_assert_uint_eq(zc_ext_covered(&t, 0, 11 * P, r, 8), 3);
	check_range(&r[0], 1 * P, 5 * P);
	check_range(&r[1], 7 * P, 8 * P);
	check_range(&r[2], 9 * P, 10 * P);

	/* Clipped to the query at both ends. */
	ck_assert_uint_eq(zc_ext_covered(&t, 1 * P + 0x800, 7 * P + 0x800, r, 8), 2);
	check_range(&r[0], 1 * P + 0x800, 5 * P);
	check_range(&r[1], 7 * P, 7 * P + 0x800);

	ck_assert_uint_eq(zc_ext_covered(&t, 5 * P, 7 * P, r, 8), 0);
	ck_assert_uint_eq(zc_ext_covered(&t, 2 * P, 4 * P, r, 8), 1);
	check_range(&r[0], 2 * P, 4 * P);
}
END_TEST

/* More gaps than covered's 64-entry fast path holds. */
START_TEST(test_covered_many_gaps)
{
	struct zc_ext v[80];
	struct zc_ext_table t;
	struct zc_ext_range r[80];
	size_t n;

	table_init(&t, v, 80, 0);
	for (uint32_t k = 0; k < 70; k++)
		ck_assert_int_ge(add(&t, (3 * k + 1) * P, (3 * k + 2) * P, k, k, 1, P, 0), 0);

	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 211 * P, r, 80), 71);
	n = zc_ext_covered(&t, 0, 211 * P, r, 80);
	ck_assert_uint_eq(n, 70);
	for (uint32_t k = 0; k < 70; k++)
		check_range(&r[k], (3 * k + 1) * P, (3 * k + 2) * P);

	/* Ending inside a guarded range. */
	n = zc_ext_covered(&t, 0, 200 * P + 5, r, 80);
	ck_assert_uint_eq(n, 67);
	check_range(&r[66], 199 * P, 200 * P);
	n = zc_ext_covered(&t, P, 199 * P + 5, r, 80);
	ck_assert_uint_eq(n, 67);
	check_range(&r[0], 1 * P, 2 * P);
	check_range(&r[66], 199 * P, 199 * P + 5);

	/* max smaller than the count. */
	r[5].start = r[5].end = 0xdead;
	ck_assert_uint_eq(zc_ext_covered(&t, 0, 211 * P, r, 5), 70);
	check_range(&r[4], 13 * P, 14 * P);
	check_range(&r[5], 0xdead, 0xdead);
}
END_TEST

START_TEST(test_touching)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	struct zc_ext_range r[8];

	table_init(&t, v, 8, 0);
	add(&t, 1 * P, 3 * P, 1, 1, 1, 0, 0);   /* A */
	add(&t, 2 * P, 4 * P, 2, 2, 1, 0, 0);   /* B overlaps A */
	add(&t, 6 * P, 7 * P, 3, 3, 1, 0, 0);   /* C */
	add(&t, 4 * P, 5 * P, 4, 4, 1, 0, 0);   /* D adjacent to B */
	add(&t, 9 * P, 10 * P, 5, 5, 1, 0, 0);  /* E */
	add(&t, 0, 0, 6, 6, 1, 0, 0);           /* detached head */

	/* One byte inside A and B: both whole ranges, merged. */
	ck_assert_uint_eq(zc_ext_touching(&t, 2 * P + 8, 2 * P + 9, r, 8), 1);
	check_range(&r[0], 1 * P, 4 * P);

	/* Only A. */
	ck_assert_uint_eq(zc_ext_touching(&t, 1 * P, 2 * P, r, 8), 1);
	check_range(&r[0], 1 * P, 3 * P);

	/* B, D (adjacent: merged) and C, but not A. */
	ck_assert_uint_eq(zc_ext_touching(&t, 3 * P + 0x800, 6 * P + 1, r, 8), 2);
	check_range(&r[0], 2 * P, 5 * P);
	check_range(&r[1], 6 * P, 7 * P);

	/* A gap touches nothing, even next to entries. */
	ck_assert_uint_eq(zc_ext_touching(&t, 5 * P, 6 * P, r, 8), 0);
	ck_assert_uint_eq(zc_ext_touching(&t, 0, 1 * P, r, 8), 0);

	/* Everything. */
	ck_assert_uint_eq(zc_ext_touching(&t, 0, 100 * P, r, 8), 3);
	check_range(&r[0], 1 * P, 5 * P);
	check_range(&r[1], 6 * P, 7 * P);
	check_range(&r[2], 9 * P, 10 * P);

	/* A small out array never overflows. */
	r[2].start = r[2].end = 0xdead;
	ck_assert_uint_le(zc_ext_touching(&t, 0, 100 * P, r, 2), 2);
	check_range(&r[2], 0xdead, 0xdead);
}
END_TEST

START_TEST(test_detach_left_right)
{
	struct zc_ext v[4];
	struct zc_ext_table t;

	table_init(&t, v, 4, 1);
	add(&t, 1 * P, 5 * P, 1, 11, 1, 12345, 3);

	/* Left trim (the detached range starts before the entry). */
	ck_assert_int_eq(zc_ext_detach(&t, 0, 2 * P), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].start, 2 * P);
	ck_assert_uint_eq(t.v[0].end, 5 * P);
	ck_assert(t.v[0].head);

	/* Right trim. */
	ck_assert_int_eq(zc_ext_detach(&t, 4 * P, 6 * P), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].start, 2 * P);
	ck_assert_uint_eq(t.v[0].end, 4 * P);
	ck_assert(t.v[0].head);
	ck_assert_uint_eq(t.v[0].bytes, 12345);
	ck_assert_uint_eq(t.v[0].bounce, 3);

	/* Exactly the first or last page. */
	ck_assert_int_eq(zc_ext_detach(&t, 2 * P, 3 * P), 0);
	ck_assert_uint_eq(t.v[0].start, 3 * P);
	ck_assert_uint_eq(t.v[0].end, 4 * P);

	/* Not touching: nothing changes. */
	ck_assert_int_eq(zc_ext_detach(&t, 4 * P, 9 * P), 0);
	ck_assert_int_eq(zc_ext_detach(&t, 0, 3 * P), 0);
	ck_assert_uint_eq(t.v[0].start, 3 * P);
	ck_assert_uint_eq(t.v[0].end, 4 * P);
	ck_assert_uint_eq(t.n, 1);
}
END_TEST

START_TEST(test_detach_middle_whole)
{
	struct zc_ext v[4];
	struct zc_ext_table t;

	table_init(&t, v, 4, 1);
	add(&t, 1 * P, 5 * P, 7, 42, 1, 9999, 5);

	ck_assert_int_eq(zc_ext_detach(&t, 2 * P, 3 * P), 0);
	ck_assert_uint_eq(t.n, 2);
	/* The head keeps the left piece and the accounting. */
	ck_assert_uint_eq(t.v[0].start, 1 * P);
	ck_assert_uint_eq(t.v[0].end, 2 * P);
	ck_assert(t.v[0].head);
	ck_assert_uint_eq(t.v[0].bytes, 9999);
	ck_assert_uint_eq(t.v[0].bounce, 5);
	ck_assert_uint_eq(t.v[0].pin_pages, 4);
	/* The right piece is the same call, without accounting. */
	ck_assert_uint_eq(t.v[1].start, 3 * P);
	ck_assert_uint_eq(t.v[1].end, 5 * P);
	ck_assert(!t.v[1].head);
	ck_assert_uint_eq(t.v[1].bytes, 0);
	ck_assert_uint_eq(t.v[1].bounce, 0);
	ck_assert_uint_eq(t.v[1].pin_pages, 0);
	ck_assert_uint_eq(t.v[1].slot, 7);
	ck_assert_uint_eq(t.v[1].sgen, 107);
	ck_assert_uint_eq(t.v[1].id, 42);
	ck_assert(t.v[1].sent);
	ck_assert_int_eq(zc_ext_find(&t, 2 * P), -1);
	ck_assert_int_eq(zc_ext_find(&t, 4 * P), 1);

	/* All of the non-head piece: it goes. */
	ck_assert_int_eq(zc_ext_detach(&t, 3 * P, 5 * P), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(t.v[0].head);
	ck_assert_uint_eq(t.v[0].end, 2 * P);

	/* All of the head: it stays, empty, with its accounting. */
	ck_assert_int_eq(zc_ext_detach(&t, 0, 100 * P), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(!zc_ext_guarded(&t.v[0]));
	ck_assert(t.v[0].head);
	ck_assert_uint_eq(t.v[0].bytes, 9999);
	ck_assert_uint_eq(t.v[0].bounce, 5);
	ck_assert_int_eq(zc_ext_find(&t, 1 * P), -1);
	ck_assert(!zc_ext_overlaps(&t, 0, 100 * P));

	/* Detaching again leaves the empty head alone. */
	ck_assert_int_eq(zc_ext_detach(&t, 0, 100 * P), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(t.v[0].head);
}
END_TEST

START_TEST(test_detach_many)
{
	struct zc_ext v[8];
	struct zc_ext_table t;
	struct zc_ext_range r[8];

	table_init(&t, v, 8, 2);
	add(&t, 1 * P, 4 * P, 1, 1, 1, 10, 0);      /* ends inside */
	add(&t, 2 * P, 3 * P, 2, 2, 1, 20, 0);      /* wholly inside */
	add(&t, 0 * P, 10 * P, 3, 3, 1, 30, 0);     /* both sides: split */
	add(&t, 2 * P + 0x10, 8 * P, 4, 4, 0, 0, 0); /* non-head, starts inside */

	ck_assert_int_eq(zc_ext_detach(&t, 2 * P, 6 * P), 0);
	ck_assert_uint_eq(zc_ext_covered(&t, 0, 20 * P, r, 8), 2);
	check_range(&r[0], 0, 2 * P);
	check_range(&r[1], 6 * P, 10 * P);
	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 10 * P, r, 8), 1);
	check_range(&r[0], 2 * P, 6 * P);
	ck_assert(!zc_ext_overlaps(&t, 2 * P, 6 * P));
	/* Heads: 3 (one empty). Non-heads: call 3's right piece, call 4. */
	ck_assert_uint_eq(t.n, 5);
	for (uint32_t i = 0; i < t.n; i++) {
		if (t.v[i].id == 2) {
			ck_assert(t.v[i].head);
			ck_assert(!zc_ext_guarded(&t.v[i]));
		}
		if (!t.v[i].head)
			ck_assert(zc_ext_guarded(&t.v[i]));
	}
}
END_TEST

START_TEST(test_detach_full)
{
	struct zc_ext v[3];
	struct zc_ext_table t;
	int i1 = -1, i2 = -1;

	table_init(&t, v, 3, 0);
	add(&t, 1 * P, 5 * P, 1, 1, 1, 10, 0);
	add(&t, 0 * P, 6 * P, 2, 2, 1, 20, 0);
	/* Two entries need a split, one entry is free: the second fails
	 * and keeps its whole range. */
	ck_assert_int_eq(zc_ext_detach(&t, 2 * P, 3 * P), -1);
	ck_assert_uint_eq(t.n, 3);
	for (uint32_t i = 0; i < t.n; i++) {
		if (t.v[i].id == 1 && t.v[i].head)
			i1 = (int)i;
		if (t.v[i].id == 2)
			i2 = (int)i;
	}
	ck_assert_int_ge(i1, 0);
	ck_assert_int_ge(i2, 0);
	ck_assert_uint_eq(t.v[i1].start, 1 * P);
	ck_assert_uint_eq(t.v[i1].end, 2 * P);
	ck_assert_uint_eq(t.v[i2].start, 0 * P);
	ck_assert_uint_eq(t.v[i2].end, 6 * P);
	ck_assert(zc_ext_overlaps(&t, 2 * P, 3 * P));

	/* A full table can still trim without a split. */
	ck_assert_int_eq(zc_ext_detach(&t, 0, 1 * P), 0);
	ck_assert_uint_eq(t.v[i2].start, 1 * P);
	ck_assert_uint_eq(t.v[i2].end, 6 * P);

	/* Full with one entry: a split fails, nothing changes. */
	table_init(&t, v, 1, 0);
	add(&t, 1 * P, 5 * P, 1, 1, 1, 10, 0);
	ck_assert_int_eq(zc_ext_detach(&t, 2 * P, 3 * P), -1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].start, 1 * P);
	ck_assert_uint_eq(t.v[0].end, 5 * P);
}
END_TEST

START_TEST(test_ranges_merge)
{
	struct zc_ext_range r[] = {
		{ 50, 60 }, { 10, 20 }, { 20, 30 }, { 15, 25 },
		{ 70, 80 }, { 55, 58 }, { 80, 90 }, { 5, 6 },
	};
	struct zc_ext_range one = { 3, 4 };

	ck_assert_uint_eq(zc_ranges_merge(r, 8), 4);
	check_range(&r[0], 5, 6);
	check_range(&r[1], 10, 30);
	check_range(&r[2], 50, 60);
	check_range(&r[3], 70, 90);

	ck_assert_uint_eq(zc_ranges_merge(r, 0), 0);
	ck_assert_uint_eq(zc_ranges_merge(&one, 1), 1);
	check_range(&one, 3, 4);
}
END_TEST

START_TEST(test_ranges_merge_nested)
{
	struct zc_ext_range r[] = {
		{ 100, 200 }, { 120, 130 }, { 90, 110 }, { 140, 150 }, { 300, 301 }, { 199, 300 },
	};

	ck_assert_uint_eq(zc_ranges_merge(r, 6), 1);
	check_range(&r[0], 90, 301);
}
END_TEST

/* 2 MiB filter regions. */
#define RG(n) ((uintptr_t)(n) << ZC_FILTER_SHIFT)

static int filter_zero(const struct zc_ext_table *t)
{
	for (uint32_t i = 0; i < ZC_FILTER_SIZE; i++)
		if (t->filter[i])
			return 0;
	return 1;
}

START_TEST(test_maybe)
{
	static struct zc_ext v[8];
	static struct zc_ext_table t;

	table_init(&t, v, 8, 0);
	ck_assert(!zc_ext_maybe(&t, 0, RG(100)));      /* empty table */

	ck_assert_int_eq(add(&t, RG(5) + P, RG(5) + 3 * P, 1, 1, 1, 0, 0), 0);
	ck_assert(zc_ext_maybe(&t, RG(5) + P, RG(5) + 3 * P));
	ck_assert(zc_ext_maybe(&t, RG(5) + 2 * P, RG(5) + 2 * P + 1));
	ck_assert(zc_ext_maybe(&t, RG(4), RG(5) + P + 1));
	ck_assert(zc_ext_maybe(&t, RG(5) + 2 * P, RG(9)));
	/* Other regions (that do not share a filter slot): no. */
	ck_assert(!zc_ext_maybe(&t, RG(6), RG(7)));
	ck_assert(!zc_ext_maybe(&t, RG(3), RG(5)));
	/* Empty ranges: no. */
	ck_assert(!zc_ext_maybe(&t, RG(5) + 2 * P, RG(5) + 2 * P));
	ck_assert(!zc_ext_maybe(&t, RG(5) + 3 * P, RG(5)));
	/* Wide ranges are always "maybe". */
	ck_assert(zc_ext_maybe(&t, RG(1000), RG(2000)));

	/* An entry crossing a region boundary counts in both. */
	ck_assert_int_eq(add(&t, RG(8) - P, RG(8) + P, 2, 2, 1, 0, 0), 1);
	ck_assert(zc_ext_maybe(&t, RG(7), RG(7) + 1));
	ck_assert(zc_ext_maybe(&t, RG(8) + 5 * P, RG(8) + 6 * P));

	/* Removing an entry lowers its regions again. */
	zc_ext_remove(&t, 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(!zc_ext_maybe(&t, RG(5), RG(6)));
	ck_assert(zc_ext_maybe(&t, RG(8), RG(9)));

	/* Split, trim, empty, remove: the counts balance out. */
	ck_assert_int_eq(add(&t, RG(20), RG(23), 3, 3, 1, 0, 0), 1);
	ck_assert_int_eq(zc_ext_detach(&t, RG(21), RG(21) + P), 0);
	ck_assert_uint_eq(t.n, 3);
	/* Every part still guarded is still "maybe". */
	ck_assert(zc_ext_maybe(&t, RG(20), RG(20) + 1));
	ck_assert(zc_ext_maybe(&t, RG(22), RG(22) + 1));
	/* The right piece stands on its own once the head is gone. */
	for (uint32_t i = 0; i < t.n; i++) {
		if (t.v[i].id == 3 && t.v[i].head) {
			zc_ext_remove(&t, i);
			break;
		}
	}
	ck_assert_uint_eq(t.n, 2);
	ck_assert_int_ge(zc_ext_find(&t, RG(22)), 0);
	ck_assert(zc_ext_maybe(&t, RG(22), RG(22) + 1));
	ck_assert(zc_ext_maybe(&t, RG(21) + P, RG(21) + 2 * P));
	ck_assert_int_eq(zc_ext_detach(&t, RG(20), RG(24)), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(zc_ext_detach(&t, 0, RG(10)), 0);
	ck_assert_uint_eq(t.n, 1);                      /* one empty head */
	while (t.n)
		zc_ext_remove(&t, 0);
	ck_assert(filter_zero(&t));
}
END_TEST

START_TEST(test_idle_set)
{
	static struct zc_ext v[8];
	static struct zc_ext_range idle[4], out[8];
	static struct zc_ext_table t;

	table_init(&t, v, 8, 0);
	idle_init(&t, idle, 4);
	ck_assert_int_eq(zc_ext_idle_add(&t, 10 * P, 20 * P), 0);
	ck_assert_uint_eq(nidle(&t), 1);
	/* Only the part not yet idle is added: the set stays disjoint. */
	ck_assert_int_eq(zc_ext_idle_add(&t, 15 * P, 30 * P), 0);
	ck_assert_uint_eq(nidle(&t), 2);
	check_range(idle_at(&t, 1), 20 * P, 30 * P);
	ck_assert_int_eq(zc_ext_idle_add(&t, 5 * P, 12 * P), 0);
	ck_assert_uint_eq(nidle(&t), 3);
	check_range(idle_at(&t, 0), 5 * P, 10 * P);
	check_idle_sorted(&t);
	ck_assert_int_eq(zc_ext_idle_add(&t, 12 * P, 18 * P), 0);   /* all idle already */
	ck_assert_uint_eq(nidle(&t), 3);
	ck_assert_int_eq(idle_find(&t, 12 * P), 1);
	ck_assert_int_eq(idle_find(&t, 30 * P - 1), 2);
	ck_assert_int_eq(idle_find(&t, 30 * P), -1);
	ck_assert_int_eq(idle_find(&t, 4 * P), -1);
	/* Idle pages count as guarded; touching and find are for calls. */
	ck_assert(zc_ext_overlaps(&t, 29 * P, 31 * P));
	ck_assert(!zc_ext_overlaps_active(&t, 0, 100 * P));
	ck_assert_int_eq(zc_ext_find(&t, 12 * P), -1);
	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 40 * P, out, 8), 2);
	check_range(&out[0], 0, 5 * P);
	check_range(&out[1], 30 * P, 40 * P);
	ck_assert_uint_eq(zc_ext_covered(&t, 0, 40 * P, out, 8), 1);
	check_range(&out[0], 5 * P, 30 * P);
	ck_assert_uint_eq(zc_ext_touching(&t, 0, 40 * P, out, 8), 0);
	/* A call over idle pages: both cover them. */
	ck_assert_int_eq(add(&t, 25 * P, 35 * P, 1, 1, 1, 1, 0), 0);
	ck_assert_uint_eq(zc_ext_uncovered(&t, 0, 40 * P, out, 8), 2);
	check_range(&out[1], 35 * P, 40 * P);
	/* Full: the next new range is refused. */
	ck_assert_int_eq(zc_ext_idle_add(&t, 50 * P, 51 * P), 0);
	ck_assert_uint_eq(nidle(&t), 4);
	ck_assert_int_eq(zc_ext_idle_add(&t, 60 * P, 61 * P), -1);
	ck_assert_uint_eq(nidle(&t), 4);
	/* Taking: every range sharing a byte, whole, in order. */
	ck_assert_uint_eq(zc_ext_idle_take(&t, 12 * P, 12 * P + 1, out, 8), 1);
	check_range(&out[0], 10 * P, 20 * P);
	ck_assert_uint_eq(nidle(&t), 3);
	check_idle_sorted(&t);
	ck_assert_uint_eq(zc_ext_idle_take(&t, 0, 100 * P, out, 2), 2);   /* at most 2 */
	check_range(&out[0], 5 * P, 10 * P);
	check_range(&out[1], 20 * P, 30 * P);
	ck_assert_uint_eq(zc_ext_idle_take(&t, 0, 100 * P, out, 8), 1);
	check_range(&out[0], 50 * P, 51 * P);
	ck_assert_uint_eq(nidle(&t), 0);
	ck_assert_uint_eq(zc_ext_idle_take(&t, 0, 100 * P, out, 8), 0);
	ck_assert_uint_eq(zc_ext_idle_take(&t, 10 * P, 10 * P, out, 8), 0);
	zc_ext_remove(&t, 0);
	ck_assert(filter_zero(&t));
}
END_TEST

/* Random tables over many regions (so filter slots are shared): whatever
 * overlaps a guarded byte is "maybe", and the filter ends at zero. */
START_TEST(test_model_maybe)
{
	static struct zc_ext v[256];
	static struct zc_ext_table t;
	uint32_t seed = 4242;
	uint32_t lcg_state;

	for (int iter = 0; iter < 100; iter++) {
		table_init(&t, v, 256, 4);
		for (int k = 0; k < 40; k++) {
			uint32_t x = (seed = seed * 1103515245u + 12345u) >> 8;
			uintptr_t s = RG(x % 9000) + (x % 700) * P;
			uintptr_t len = (1 + (x >> 3) % 1200) * P;

			ck_assert_int_ge(add(&t, s, s + len, (uint32_t)k, (uint32_t)k, 1, 0, 0), 0);
		}
		lcg_state = seed;
		for (int d = 0; d < 30; d++) {
			uint32_t x = (lcg_state = lcg_state * 1103515245u + 12345u) >> 8;
			uintptr_t s = RG(x % 9000) + (x % 900) * P;
			uintptr_t len = (1 + (x >> 4) % 2000) * P;

			if (d % 3 == 0 && t.n) {
				zc_ext_remove(&t, x % t.n);
			} else if (d % 3 == 1) {
				ck_assert_int_eq(zc_ext_detach(&t, s, s + len), 0);
			} else {
				ck_assert_int_ge(add(&t, s, s + len, 99, 99, 1, 0, 0), 0);
			}
			for (uint32_t i = 0; i < t.n; i++) {
				const struct zc_ext *e = &t.v[i];
				uintptr_t mid;

				if (!zc_ext_guarded(e))
					continue;
				mid = e->start + ((e->end - e->start) / 2 & ~(uintptr_t)(P - 1));
				ck_assert_msg(zc_ext_maybe(&t, e->start, e->start + 1),
					      "iteration %d: guarded start not maybe", iter);
				ck_assert(zc_ext_maybe(&t, e->end - 1, e->end));
				ck_assert(zc_ext_maybe(&t, mid, mid + P));
				ck_assert(zc_ext_maybe(&t, e->start >= P ? e->start - P : 0,
						       e->end + P));
			}
		}
		seed = lcg_state;
		while (t.n)
			zc_ext_remove(&t, t.n - 1);
		ck_assert_msg(filter_zero(&t), "iteration %d: filter counts left over", iter);
	}
}
END_TEST

/*
 * Model check: random tables on a small address space, every query
 * compared with a per-address answer.
 */
#define M_BASE 1000u
#define M_LEN 160u

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xFFFFFF;
}

/* The maximal runs of addresses in [qs, qe) where bit[a - M_BASE] == want. */
static size_t runs(const unsigned char *bit, uintptr_t qs, uintptr_t qe, int want,
		   struct zc_ext_range *out)
{
	size_t n = 0;

	for (uintptr_t a = qs; a < qe; a++) {
		if (!!bit[a - M_BASE] != want)
			continue;
		if (n && out[n - 1].end == a) {
			out[n - 1].end = a + 1;
		} else {
			out[n].start = a;
			out[n].end = a + 1;
			n++;
		}
	}
	return n;
}

static void same_ranges(const struct zc_ext_range *got, size_t ngot,
			const struct zc_ext_range *want, size_t nwant, const char *what, int iter)
{
	ck_assert_msg(ngot == nwant, "%s (iteration %d): %zu ranges, expected %zu", what,
		      iter, ngot, nwant);
	for (size_t i = 0; i < nwant; i++)
		ck_assert_msg(got[i].start == want[i].start && got[i].end == want[i].end,
			      "%s (iteration %d): range %zu is [%lu, %lu), expected [%lu, %lu)",
			      what, iter, i, (unsigned long)got[i].start,
			      (unsigned long)got[i].end, (unsigned long)want[i].start,
			      (unsigned long)want[i].end);
}

/* The idle search gallops from its last answer: over a thousand ranges,
 * in random order, in order, and backwards, it finds what a scan finds. */
START_TEST(test_idle_search)
{
	enum { N = 1000 };
	static struct zc_ext v[4];
	static struct zc_ext_range idle[N];
	static struct zc_ext_table t;
	uint32_t seed = 11;

	table_init(&t, v, 4, 0);
	idle_init(&t, idle, N);
	for (uintptr_t i = 0; i < N; i++)   /* gaps between them: [3i, 3i + 2) pages */
		ck_assert_int_eq(zc_ext_idle_add(&t, (3 * i + 1) * P, (3 * i + 3) * P), 0);
	for (int q = 0; q < 20000; q++) {
		uintptr_t a;
		int want_k;

		if (q < 6000)
			a = (uintptr_t)(lcg(&seed) % (3 * N + 5)) * P + lcg(&seed) % P;
		else if (q < 13000)
			a = (uintptr_t)(q - 6000) * P / 2;            /* in order */
		else
			a = (uintptr_t)(20000 - q) * P / 2;           /* backwards */
		want_k = a >= P && (a / P) % 3 != 0 && a < (3 * N + 1) * P ? (int)(a / P / 3) : -1;
		ck_assert_int_eq(idle_find(&t, a), want_k);
	}
}
END_TEST

/* The idle set under random adds and takes, in random
 * places and runs of neighbours: the ranges stay sorted and disjoint, and
 * cover exactly the pages a model says are idle. */
START_TEST(test_idle_model)
{
	enum { PAGES = 300, CAP = 400 };
	static struct zc_ext v[4];
	static struct zc_ext_range idle[CAP], out[8];
	static struct zc_ext_table t;
	unsigned char model[PAGES];
	uint32_t seed = 5;

	table_init(&t, v, 4, 0);
	idle_init(&t, idle, CAP);
	memset(model, 0, sizeof model);
	for (int op = 0; op < 20000; op++) {
		uint32_t s = lcg(&seed) % PAGES, len = 1 + lcg(&seed) % 6, e;

		if (op % 500 < 250)
			s = (uint32_t)(op % 250);   /* runs in address order */
		e = s + len > PAGES ? PAGES : s + len;
		model_step(&t, model, s, e, lcg(&seed) % 3 != 0);
		check_idle_sorted(&t);
		if (op % 97 == 0)
			for (uint32_t pg = 0; pg < PAGES; pg++)
				ck_assert_int_eq(idle_find(&t, (uintptr_t)pg * P + 5) >= 0, model[pg]);
	}
	while (zc_ext_idle_take(&t, 0, (uintptr_t)PAGES * P, out, 8))
		;
	ck_assert_uint_eq(nidle(&t), 0);
	ck_assert(filter_zero(&t));
}
END_TEST

/* The idle set's blocks at content-cache sizes: 20,000 single-page
 * ranges added in random order (each added range lands among the others:
 * blocks split), then 60,000 random adds and takes against a page model
 * (blocks merge), then everything taken in random order. The set stays
 * sorted, its blocks as idleset.h says, and it covers exactly the model's
 * pages. */
START_TEST(test_idle_blocks_model)
{
	enum { PAGES = 40000, CAP = 40000 };
	static struct zc_ext v[4];
	static struct zc_ext_range out[8];
	static struct zc_ext_table t;
	static unsigned char model[PAGES];
	static uint32_t perm[PAGES / 2];
	uint32_t seed = 23;
	uint32_t most_blocks = 0;
	struct zc_idle_hint hint = { 0, 0 };

	table_init(&t, v, 4, 0);
	idle_init(&t, NULL, CAP);
	memset(model, 0, sizeof model);
	for (uint32_t i = 0; i < PAGES / 2; i++)
		perm[i] = i;
	for (uint32_t i = PAGES / 2 - 1; i > 0; i--) {
		uint32_t j = lcg(&seed) % (i + 1), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
	}
	for (uint32_t i = 0; i < PAGES / 2; i++) {
		uintptr_t pg = 2 * (uintptr_t)perm[i] + 1;

		ck_assert_int_eq(zc_ext_idle_add(&t, pg * P, (pg + 1) * P), 0);
		model[pg] = 1;
		if (i % 1000 == 999)
			check_idle_sorted(&t);
	}
	ck_assert_uint_eq(nidle(&t), PAGES / 2);
	ck_assert_uint_ge(t.idle.nblocks, PAGES / 2 / ZC_IDLE_BLOCK);
	for (int op = 0; op < 60000; op++) {
		uint32_t s0 = lcg(&seed) % PAGES, len = 1 + lcg(&seed) % 8, e;

		e = s0 + len > PAGES ? PAGES : s0 + len;
		model_step(&t, model, s0, e, op < 30000 ? lcg(&seed) % 3 == 0 : lcg(&seed) % 3 != 0);
		if (t.idle.nblocks > most_blocks)
			most_blocks = t.idle.nblocks;
		if (op % 2000 == 0) {
			check_idle_sorted(&t);
			for (uint32_t pg = 0; pg < PAGES; pg += 1 + lcg(&seed) % 7)
				ck_assert_int_eq(zc_ext_idle_get(&t, (uintptr_t)pg * P + 5) != NULL,
						 model[pg]);
			/* The look-up without the lock (a kept send's) agrees,
			 * for runs of up to 8 pages, and vouches with the
			 * set's count, even between changes. */
			ck_assert_uint_eq(t.idle_seq & 1, 0);
			hint.b = lcg(&seed) % 64;   /* (a stale hint: checked, never trusted) */
			hint.o = lcg(&seed) % 300;
			for (uint32_t pg = 0; pg + 8 < PAGES; pg += 1 + lcg(&seed) % 13) {
				uint32_t run = 1 + lcg(&seed) % 8, all = 1, seq = 1;
				struct zc_ext_range r;

				for (uint32_t k = 0; k < run; k++)
					all &= model[pg + k];
				ck_assert_int_eq(zc_ext_idle_holds_racy(&t, (uintptr_t)pg * P,
									(uintptr_t)(pg + run) * P, &seq, &hint),
						 (int)all);
				if (all)
					ck_assert_uint_eq(seq, t.idle_seq);
				ck_assert_int_eq(zc_idle_get_racy(&t.idle, (uintptr_t)pg * P + 9, &r,
								  pg % 2 ? &hint : NULL),
						 model[pg]);
			}
		}
	}
	check_idle_sorted(&t);
	/* Within the pool's bound for the most ranges ever held. */
	ck_assert_uint_le(most_blocks, 4 * (CAP / ZC_IDLE_BLOCK) + 1);
	for (uint32_t i = 0; i < PAGES / 2; i++) {
		uintptr_t pg = 2 * (uintptr_t)perm[i];

		while (zc_ext_idle_take(&t, pg * P, (pg + 2) * P, out, 8))
			;
		if (i % 1000 == 999)
			check_idle_sorted(&t);
	}
	ck_assert_uint_eq(nidle(&t), 0);
	ck_assert_uint_eq(t.idle.nblocks, 0);
	ck_assert(filter_zero(&t));
}
END_TEST

START_TEST(test_model_queries)
{
	static struct zc_ext v[128];
	static struct zc_ext_range got[M_LEN + 1], want[M_LEN + 1], idle[64];
	unsigned char cover[M_LEN], touch[M_LEN];
	struct zc_ext_table t;
	uint32_t seed = 7;

	for (int iter = 0; iter < 400; iter++) {
		uint32_t nent = lcg(&seed) % (iter % 4 == 3 ? 100 : 12);
		uint32_t nkept = iter % 3 ? lcg(&seed) % 10 : 0;
		uintptr_t qs, qe;
		size_t n, nw;

		table_init(&t, v, 128, 0);
		idle_init(&t, idle, 64);
		memset(cover, 0, sizeof cover);
		/* Idle ranges (released buffers kept read-only) cover too. */
		for (uint32_t k = 0; k < nkept; k++) {
			uintptr_t s = M_BASE + lcg(&seed) % M_LEN;
			uintptr_t len = 1 + lcg(&seed) % 20;
			uintptr_t e = s + len > M_BASE + M_LEN ? M_BASE + M_LEN : s + len;

			ck_assert_int_eq(zc_ext_idle_add(&t, s, e), 0);
			for (uintptr_t a = s; a < e; a++)
				cover[a - M_BASE] = 1;
		}
		check_idle_sorted(&t);
		for (uint32_t k = 0; k < nent; k++) {
			uintptr_t s = M_BASE + lcg(&seed) % M_LEN;
			uintptr_t len = 1 + lcg(&seed) % (iter % 4 == 3 ? 3 : 30);
			uintptr_t e = s + len > M_BASE + M_LEN ? M_BASE + M_LEN : s + len;

			if (lcg(&seed) % 8 == 0)
				s = e = 0;      /* a detached head */
			ck_assert_int_ge(add(&t, s, e, k, k, 1, 1, 0), 0);
			for (uintptr_t a = s; a < e; a++)
				cover[a - M_BASE] = 1;
		}
		qs = M_BASE + lcg(&seed) % M_LEN;
		qe = qs + lcg(&seed) % (M_BASE + M_LEN - qs + 1);
		if (iter % 5 == 0) {
			qs = M_BASE;
			qe = M_BASE + M_LEN;
		}

		n = zc_ext_uncovered(&t, qs, qe, got, M_LEN + 1);
		nw = runs(cover, qs, qe, 0, want);
		same_ranges(got, n, want, nw, "uncovered", iter);

		n = zc_ext_covered(&t, qs, qe, got, M_LEN + 1);
		nw = runs(cover, qs, qe, 1, want);
		same_ranges(got, n, want, nw, "covered", iter);

		memset(touch, 0, sizeof touch);
		for (uint32_t k = 0; k < t.n; k++)
			if (t.v[k].start < t.v[k].end && t.v[k].start < qe && qs < t.v[k].end)
				for (uintptr_t a = t.v[k].start; a < t.v[k].end; a++)
					touch[a - M_BASE] = 1;
		n = zc_ext_touching(&t, qs, qe, got, M_LEN + 1);
		nw = runs(touch, M_BASE, M_BASE + M_LEN, 1, want);
		same_ranges(got, n, want, nw, "touching", iter);

		/* (Empty queries: see test_overlaps_empty_query.) */
		if (qs < qe)
			ck_assert_int_eq(zc_ext_overlaps(&t, qs, qe),
					 !!runs(cover, qs, qe, 1, want));
		for (uintptr_t a = M_BASE; a < M_BASE + M_LEN; a += 7)
			ck_assert_int_eq(zc_ext_find(&t, a) >= 0 || idle_find(&t, a) >= 0,
					 cover[a - M_BASE]);
		/* The idle search starts from the answer before (a guess it
		 * checks): in any order, it gives what a scan gives. */
		for (int q = 0; q < 64; q++) {
			uintptr_t a = M_BASE + lcg(&seed) % M_LEN;
			int want_k = -1;

			if (q % 4 == 3 && nidle(&t))
				a = idle_at(&t, lcg(&seed) % nidle(&t))->end;   /* just past a range */
			for (uint32_t k = 0; k < nidle(&t); k++)
				if (idle_at(&t, k)->start <= a && a < idle_at(&t, k)->end)
					want_k = (int)k;
			ck_assert_int_eq(idle_find(&t, a), want_k);
		}
	}
}
END_TEST

/* Model check of detach: per call, what stays guarded is what was guarded
 * minus every detached range; each call keeps exactly its one head. */
START_TEST(test_model_detach)
{
	static struct zc_ext v[256];
	enum { CALLS = 6 };
	unsigned char model[CALLS][M_LEN];
	struct zc_ext_table t;
	uint32_t seed = 99;

	for (int iter = 0; iter < 200; iter++) {
		table_init(&t, v, 256, 8);
		memset(model, 0, sizeof model);
		for (uint32_t c = 0; c < CALLS; c++) {
			/* Each call: one to three disjoint runs, the first is its head. */
			uint32_t runs_n = 1 + lcg(&seed) % 3;
			uintptr_t p = M_BASE + lcg(&seed) % 20;

			for (uint32_t k = 0; k < runs_n && p < M_BASE + M_LEN; k++) {
				uintptr_t len = 1 + lcg(&seed) % 40;
				uintptr_t e = p + len > M_BASE + M_LEN ? M_BASE + M_LEN : p + len;

				ck_assert_int_ge(add(&t, p, e, c, c, k == 0, 1000 + c, c + 1), 0);
				for (uintptr_t a = p; a < e; a++)
					model[c][a - M_BASE] = 1;
				p = e + 1 + lcg(&seed) % 20;
			}
		}
		for (int d = 0; d < 6; d++) {
			uintptr_t ds = M_BASE + lcg(&seed) % M_LEN;
			uintptr_t de = ds + 1 + lcg(&seed) % 30;

			ck_assert_int_eq(zc_ext_detach(&t, ds, de), 0);
			for (uint32_t c = 0; c < CALLS; c++)
				for (uintptr_t a = ds; a < de && a < M_BASE + M_LEN; a++)
					model[c][a - M_BASE] = 0;

			for (uint32_t c = 0; c < CALLS; c++) {
				unsigned char got[M_LEN];
				int heads = 0;

				memset(got, 0, sizeof got);
				for (uint32_t i = 0; i < t.n; i++) {
					const struct zc_ext *e = &t.v[i];

					if (e->id != c)
						continue;
					if (e->head) {
						heads++;
						ck_assert_uint_eq(e->bytes, 1000 + c);
						ck_assert_uint_eq(e->bounce, c + 1);
					} else {
						ck_assert_msg(zc_ext_guarded(e),
							      "empty non-head entry kept");
						ck_assert_uint_eq(e->bytes, 0);
						ck_assert_uint_eq(e->bounce, 0);
					}
					ck_assert_uint_eq(e->slot, c);
					for (uintptr_t a = e->start; a < e->end; a++) {
						ck_assert_msg(!got[a - M_BASE],
							      "call %u guards %lu twice", c,
							      (unsigned long)a);
						got[a - M_BASE] = 1;
					}
				}
				ck_assert_int_eq(heads, 1);
				ck_assert_msg(!memcmp(got, model[c], M_LEN),
					      "iteration %d detach %d: call %u guards the wrong set",
					      iter, d, c);
			}
		}
	}
}
END_TEST

Suite *extent_suite(void)
{
	Suite *s = suite_create("extent");
	TCase *tc = tcase_create("core");
	TCase *model = tcase_create("model");

	tcase_add_test(tc, test_add_find_remove);
	tcase_add_test(tc, test_overlaps_empty_query);
	tcase_add_test(tc, test_add_reserve);
	tcase_add_test(tc, test_uncovered);
	tcase_add_test(tc, test_uncovered_small_out);
	tcase_add_test(tc, test_covered);
	tcase_add_test(tc, test_covered_many_gaps);
	tcase_add_test(tc, test_touching);
	tcase_add_test(tc, test_detach_left_right);
	tcase_add_test(tc, test_detach_middle_whole);
	tcase_add_test(tc, test_detach_many);
	tcase_add_test(tc, test_detach_full);
	tcase_add_test(tc, test_ranges_merge);
	tcase_add_test(tc, test_ranges_merge_nested);
	tcase_add_test(tc, test_maybe);
	tcase_add_test(tc, test_idle_set);
	tcase_add_test(tc, test_idle_search);
	tcase_add_test(tc, test_idle_model);
	tcase_add_test(tc, test_shift);
	tcase_add_test(tc, test_pending_in);
	suite_add_tcase(s, tc);

	tcase_add_test(model, test_model_queries);
	tcase_add_test(model, test_model_detach);
	tcase_add_test(model, test_model_maybe);
	/* (Tens of thousands of changes against a page model: seconds on a
	 * loaded machine, past Check's default of 4.) */
	tcase_add_test(model, test_idle_blocks_model);
	tcase_set_timeout(model, 30);
	suite_add_tcase(s, model);
	return s;
}
