/*
 * extent.c - the in-flight table (see extent.h).
 *
 * Linear scans of the calls' entries: they are what is in flight, bounded
 * by the pinned page budget, and every scan runs under the global lock.
 * The idle set, which can be much larger, is sorted and disjoint: lookups
 * bisect it; adding and taking ranges move the tail of the array (only
 * when a buffer first goes idle, or is written).
 */
#include "extent.h"

#include <string.h>

#define REGION(a) (((a) >> ZC_FILTER_SHIFT) % ZC_FILTER_SIZE)
#define FILTER_SPAN_MAX 64   /* wider ranges are simply "maybe" */

static void filter_range(struct zc_ext_table *t, uintptr_t start, uintptr_t end, int delta)
{
	uintptr_t r0, r1;

	if (start >= end)
		return;
	r0 = start >> ZC_FILTER_SHIFT;
	r1 = (end - 1) >> ZC_FILTER_SHIFT;
	for (uintptr_t r = r0; r <= r1 && r - r0 < ZC_FILTER_SIZE; r++)
		__atomic_fetch_add(&t->filter[r % ZC_FILTER_SIZE], (uint32_t)delta,
				   __ATOMIC_RELAXED);
}

static void filter_add(struct zc_ext_table *t, struct zc_ext *e, int delta)
{
	filter_range(t, e->born_start, e->born_end, delta);
}

/*
 * The idle set is a gap buffer: idle[] holds the nidle ranges in order with
 * a gap of idle_cap - nidle free slots after the first idle_gap of them.
 * An insertion or removal moves the gap there first, so one next to the
 * last costs next to nothing: a content cache keeps its buffers (and their
 * edge pages, between them) in the order it sends them, as often as not in
 * address order, where a plain sorted array moved the whole tail for each
 * (a 4 GiB ring's 70,000 edge pages, each moving about half of some
 * 140,000 ranges: tens of GB of memmove, by that estimate).
 */
static inline uint32_t phys(const struct zc_ext_table *t, uint32_t i)
{
	return i < t->idle_gap ? i : i + (t->idle_cap - t->nidle);
}

#define IDLE(t, i) ((t)->idle[phys((t), (i))])

const struct zc_ext_range *zc_ext_idle_at(const struct zc_ext_table *t, uint32_t i)
{
	return &IDLE(t, i);
}

/* Move the gap to logical position g (0 <= g <= nidle). */
static void move_gap(struct zc_ext_table *t, uint32_t g)
{
	uint32_t len = t->idle_cap - t->nidle, at = t->idle_gap;

	if (g < at)
		memmove(&t->idle[g + len], &t->idle[g], (at - g) * sizeof t->idle[0]);
	else if (g > at)
		memmove(&t->idle[at], &t->idle[at + len], (g - at) * sizeof t->idle[0]);
	t->idle_gap = g;
}

void zc_ext_idle_clear(struct zc_ext_table *t)
{
	__atomic_store_n(&t->nidle, 0, __ATOMIC_RELEASE);
	t->idle_gap = 0;
	t->idle_hint = 0;
}

/* (Ends are sorted too: the ranges are disjoint.) */
/* The first idle range ending after a (nidle: none), by bisection over
 * [lo, hi), where the answer is known to lie. */
static uint32_t idle_bisect(const struct zc_ext_table *t, uintptr_t a, uint32_t lo, uint32_t hi)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (IDLE(t, mid).end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first idle range ending after a (nidle: none). A send looks up the
 * same buffer several times (its edges, its pages, its release), and a
 * content cache sends its buffers in address order as often as not, their
 * releases a few sends behind: the search gallops from the answer before,
 * in steps of 1, 2, 4, ..., and bisects only the last step, instead of a
 * bisection from the whole set's middle that would miss the cache at most
 * of its levels in a set of a million ranges. (Under the caller's lock, as
 * every use of the idle set.) */
static uint32_t idle_first(const struct zc_ext_table *t, uintptr_t a)
{
	uint32_t n = t->nidle, h = t->idle_hint, r;

	if (!n)
		return 0;   /* (nothing written: a table may be a constant, vma.c's) */
	if (h > n)
		h = n;
	if (h < n && IDLE(t, h).end <= a) {
		/* Further on: answer in (h, n]. */
		uint32_t p = h + 1, step = 1;

		while (p + step <= n && IDLE(t, p + step - 1).end <= a) {
			p += step;
			step <<= 1;
		}
		r = idle_bisect(t, a, p, p + step - 1 < n ? p + step - 1 : n);
	} else if (h > 0 && IDLE(t, h - 1).end > a) {
		/* Before: answer in [0, h - 1]. */
		uint32_t q = h - 1, step = 1;

		while (q >= step && IDLE(t, q - step).end > a) {
			q -= step;
			step <<= 1;
		}
		r = idle_bisect(t, a, q >= step ? q - step + 1 : 0, q);
	} else {
		r = h;
	}
	((struct zc_ext_table *)t)->idle_hint = r;
	return r;
}

int zc_ext_idle_find(const struct zc_ext_table *t, uintptr_t a)
{
	uint32_t i = idle_first(t, a);

	return i < t->nidle && IDLE(t, i).start <= a ? (int)i : -1;
}

int zc_ext_idle_add(struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	uint32_t i = idle_first(t, start);
	uintptr_t p = start;

	while (p < end) {
		uintptr_t stop;

		if (i < t->nidle && IDLE(t, i).start <= p) {
			p = IDLE(t, i).end;   /* already idle */
			i++;
			continue;
		}
		stop = i < t->nidle && IDLE(t, i).start < end ? IDLE(t, i).start : end;
		if (t->nidle >= t->idle_cap)
			return -1;
		move_gap(t, i);
		t->idle[i].start = p;   /* the gap's first slot */
		t->idle[i].end = stop;
		t->idle_gap = i + 1;
		filter_range(t, p, stop, 1);
		__atomic_store_n(&t->nidle, t->nidle + 1, __ATOMIC_RELEASE);
		i++;
		p = stop;
	}
	return 0;
}

size_t zc_ext_idle_take(struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			struct zc_ext_range *out, size_t max)
{
	uint32_t i0 = idle_first(t, start), i = i0;
	size_t n = 0;

	if (start >= end)
		return 0;
	while (i < t->nidle && IDLE(t, i).start < end && n < max) {
		out[n++] = IDLE(t, i);
		filter_range(t, IDLE(t, i).start, IDLE(t, i).end, -1);
		i++;
	}
	if (n) {
		/* The ranges taken become the gap's first slots. */
		move_gap(t, i);
		t->idle_gap = i0;
		__atomic_store_n(&t->nidle, t->nidle - (uint32_t)n, __ATOMIC_RELEASE);
	}
	return n;
}

int zc_ext_maybe(const struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	uintptr_t r0, r1;

	if ((!__atomic_load_n(&t->n, __ATOMIC_RELAXED) &&
	     !__atomic_load_n(&t->nidle, __ATOMIC_RELAXED)) || start >= end)
		return 0;
	r0 = start >> ZC_FILTER_SHIFT;
	r1 = (end - 1) >> ZC_FILTER_SHIFT;
	if (r1 - r0 >= FILTER_SPAN_MAX)
		return 1;
	for (uintptr_t r = r0; r <= r1; r++)
		if (__atomic_load_n(&t->filter[REGION(r << ZC_FILTER_SHIFT)], __ATOMIC_RELAXED))
			return 1;
	return 0;
}

int zc_ext_add(struct zc_ext_table *t, const struct zc_ext *e)
{
	if (t->n + t->reserve >= t->cap)
		return -1;
	t->v[t->n] = *e;
	t->v[t->n].born_start = e->start;
	t->v[t->n].born_end = e->end;
	filter_add(t, &t->v[t->n], 1);
	__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
	return (int)t->n - 1;
}

int zc_ext_shift(struct zc_ext_table *t, uintptr_t start, uintptr_t end, uintptr_t to)
{
	uint32_t n = t->n;
	int rc = 0;

	if (start >= end || to == start)
		return 0;
	t->reshaped++;
	for (uint32_t i = 0; i < n; i++) {
		struct zc_ext m = t->v[i];
		uintptr_t a, b;

		if (!zc_ext_guarded(&m) || m.end <= start || m.start >= end)
			continue;
		a = m.start > start ? m.start : start;
		b = m.end < end ? m.end : end;
		/* The moved part, as an entry of the same call without its
		 * accounting (the head keeps that, wherever it is). */
		m.start = a - start + to;
		m.end = b - start + to;
		m.head = 0;
		m.bounce = 0;
		m.bytes = 0;
		m.pin_pages = 0;
		if (zc_ext_add(t, &m) < 0)
			rc = -1;
	}
	if (zc_ext_detach(t, start, end))
		rc = -1;
	return rc;
}

int zc_ext_pending_in(const struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (!t->v[i].sent && t->v[i].start < end && start < t->v[i].end)
			return 1;
	return 0;
}

int zc_ext_overlaps_active(const struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	if (start >= end)
		return 0;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->v[i].start < end && start < t->v[i].end)
			return 1;
	return 0;
}

void zc_ext_remove(struct zc_ext_table *t, uint32_t i)
{
	if (i >= t->n)
		return;
	filter_add(t, &t->v[i], -1);
	t->v[i] = t->v[t->n - 1];
	__atomic_store_n(&t->n, t->n - 1, __ATOMIC_RELEASE);
}

int zc_ext_find(const struct zc_ext_table *t, uintptr_t a)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->v[i].start <= a && a < t->v[i].end)
			return (int)i;
	return -1;
}

int zc_ext_overlaps(const struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	uint32_t k;

	if (start >= end)
		return 0;
	if (zc_ext_overlaps_active(t, start, end))
		return 1;
	k = idle_first(t, start);
	return k < t->nidle && IDLE(t, k).start < end;
}

static void sort_ranges(struct zc_ext_range *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct zc_ext_range x = r[i];
		size_t j = i;

		while (j > 0 && r[j - 1].start > x.start) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

size_t zc_ranges_merge(struct zc_ext_range *r, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	sort_ranges(r, n);
	for (size_t i = 1; i < n; i++) {
		if (r[i].start <= r[out].end) {
			if (r[i].end > r[out].end)
				r[out].end = r[i].end;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

/*
 * Walk [start, end) from left to right. At each point p, either some entry
 * guards p (then p jumps to the furthest end among entries guarding p), or
 * none does (then p jumps to the nearest entry start after p, or end).
 */
size_t zc_ext_uncovered(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			struct zc_ext_range *out, size_t max)
{
	size_t count = 0;
	uintptr_t p = start;

	while (p < end) {
		uintptr_t reach = p, next = end;
		uint32_t k = idle_first(t, p);

		if (k < t->nidle) {
			if (IDLE(t, k).start <= p) {
				/* Kept read-only up to there: no need to
				 * scan the calls for this stretch (a buffer
				 * sent again is found in one search). */
				p = IDLE(t, k).end;
				continue;
			}
			if (IDLE(t, k).start < next)
				next = IDLE(t, k).start;
		}
		for (uint32_t i = 0; i < t->n; i++) {
			const struct zc_ext *e = &t->v[i];

			if (!zc_ext_guarded(e))
				continue;
			if (e->start <= p && p < e->end) {
				if (e->end > reach)
					reach = e->end;
			} else if (e->start > p && e->start < next) {
				next = e->start;
			}
		}
		if (reach > p) {
			p = reach;
			continue;
		}
		if (count < max) {
			out[count].start = p;
			out[count].end = next;
		}
		count++;
		p = next;
	}
	return count;
}

size_t zc_ext_covered(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
		      struct zc_ext_range *out, size_t max)
{
	struct zc_ext_range gaps[64];
	size_t ng, count = 0;
	uintptr_t p = start;

	/* The covered parts are the complement of the uncovered ones. When
	 * there are more gaps than fit, fall back to the slower walk below. */
	ng = zc_ext_uncovered(t, start, end, gaps, 64);
	if (ng <= 64) {
		for (size_t i = 0; i <= ng; i++) {
			uintptr_t stop = i < ng ? gaps[i].start : end;

			if (stop > p) {
				if (count < max) {
					out[count].start = p;
					out[count].end = stop;
				}
				count++;
			}
			if (i < ng)
				p = gaps[i].end;
		}
		return count;
	}
	while (p < end) {
		struct zc_ext_range gap;

		if (zc_ext_uncovered(t, p, end, &gap, 1) == 0) {
			if (count < max) {
				out[count].start = p;
				out[count].end = end;
			}
			return count + 1;
		}
		if (gap.start > p) {
			if (count < max) {
				out[count].start = p;
				out[count].end = gap.start;
			}
			count++;
		}
		p = gap.end;
	}
	return count;
}

size_t zc_ext_touching(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
		       struct zc_ext_range *out, size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < t->n && n < max; i++) {
		const struct zc_ext *e = &t->v[i];

		if (zc_ext_guarded(e) && e->start < end && start < e->end) {
			out[n].start = e->start;
			out[n].end = e->end;
			n++;
			if (n == max)
				n = zc_ranges_merge(out, n);
		}
	}
	return zc_ranges_merge(out, n);
}

int zc_ext_detach(struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	int rc = 0;
	uint32_t n = t->n;    /* entries added by splits need no visit */

	t->reshaped++;
	for (uint32_t i = 0; i < n; i++) {
		struct zc_ext *e = &t->v[i];

		if (!zc_ext_guarded(e) || e->end <= start || end <= e->start)
			continue;
		if (e->start < start && end < e->end) {
			/* Keeps a piece on both sides: the right piece becomes
			 * a new entry of the same call, without accounting. */
			struct zc_ext right = *e;

			if (t->n >= t->cap) {
				rc = -1;
				continue;
			}
			right.start = end;
			right.born_start = right.start;
			right.born_end = right.end;
			right.head = 0;
			right.bounce = 0;
			right.bytes = 0;
			right.pin_pages = 0;
			t->v[t->n] = right;
			filter_add(t, &t->v[t->n], 1);
			__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
			e = &t->v[i];
			e->end = start;
		} else if (e->start < start) {
			e->end = start;
		} else if (end < e->end) {
			e->start = end;
		} else {
			e->start = e->end = 0;
		}
	}
	/* Entries left with nothing to guard and no accounting go. */
	for (uint32_t i = 0; i < t->n;) {
		if (!zc_ext_guarded(&t->v[i]) && !t->v[i].head)
			zc_ext_remove(t, i);
		else
			i++;
	}
	return rc;
}
