/*
 * extent.c - the in-flight table (see extent.h).
 *
 * Linear scans of the calls' entries: they are what is in flight, bounded
 * by the pinned page budget, and every scan runs under the global lock.
 * The idle set, which can be much larger, is sorted and disjoint, in
 * blocks (idleset.c): lookups, additions and removals cost a few
 * bisections and at most a block's move.
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

/* The idle set's changes, bracketed by its sequence count (extent.h). */
static void seq_begin(struct zc_ext_table *t)
{
	__atomic_store_n(&t->idle_seq, t->idle_seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void seq_end(struct zc_ext_table *t)
{
	__atomic_store_n(&t->idle_seq, t->idle_seq + 1, __ATOMIC_RELEASE);
}

void zc_ext_idle_clear(struct zc_ext_table *t)
{
	seq_begin(t);
	zc_idle_clear(&t->idle);
	seq_end(t);
}

int zc_ext_idle_holds_racy(const struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			   uint32_t *seq, struct zc_idle_hint *h)
{
	uint32_t s1 = __atomic_load_n(&t->idle_seq, __ATOMIC_ACQUIRE);
	uintptr_t p = start;
	struct zc_ext_range r;

	if ((s1 & 1) || start >= end)
		return 0;
	/* A buffer's pages and its edges are ranges of their own, touching. */
	for (int k = 0; k < 8 && p < end; k++) {
		if (!zc_idle_get_racy(&t->idle, p, &r, h) || r.end <= p)
			return 0;
		p = r.end;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (p < end || __atomic_load_n(&t->idle_seq, __ATOMIC_RELAXED) != s1)
		return 0;
	*seq = s1;
	return 1;
}

const struct zc_ext_range *zc_ext_idle_get(const struct zc_ext_table *t, uintptr_t a)
{
	return zc_idle_get(&t->idle, a);
}

int zc_ext_idle_add(struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	uintptr_t p = start;

	while (p < end) {
		const struct zc_ext_range *r = zc_idle_first(&t->idle, p);
		uintptr_t stop;

		if (r && r->start <= p) {
			p = r->end;   /* already idle */
			continue;
		}
		stop = r && r->start < end ? r->start : end;
		if (zc_idle_count(&t->idle) >= t->idle_cap)
			return -1;
		seq_begin(t);
		if (zc_idle_insert(&t->idle, p, stop)) {
			seq_end(t);
			return -1;
		}
		seq_end(t);
		filter_range(t, p, stop, 1);
		p = stop;
	}
	return 0;
}

size_t zc_ext_idle_take(struct zc_ext_table *t, uintptr_t start, uintptr_t end,
			struct zc_ext_range *out, size_t max)
{
	size_t n = 0;

	if (start >= end)
		return 0;
	while (n < max) {
		const struct zc_ext_range *r = zc_idle_first(&t->idle, start);

		if (!r || r->start >= end)
			break;
		out[n] = *r;
		filter_range(t, out[n].start, out[n].end, -1);
		seq_begin(t);
		zc_idle_remove(&t->idle, out[n].start);
		seq_end(t);
		n++;
	}
	return n;
}

int zc_ext_maybe(const struct zc_ext_table *t, uintptr_t start, uintptr_t end)
{
	uintptr_t r0, r1;

	if ((!__atomic_load_n(&t->n, __ATOMIC_RELAXED) &&
	     !zc_idle_count(&t->idle)) || start >= end)
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
	const struct zc_ext_range *r;

	if (start >= end)
		return 0;
	if (zc_ext_overlaps_active(t, start, end))
		return 1;
	r = zc_idle_first(&t->idle, start);
	return r && r->start < end;
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
		const struct zc_ext_range *r = zc_idle_first(&t->idle, p);

		if (r) {
			if (r->start <= p) {
				/* Kept read-only up to there: no need to
				 * scan the calls for this stretch (a buffer
				 * sent again is found in one search). */
				p = r->end;
				continue;
			}
			if (r->start < next)
				next = r->start;
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
