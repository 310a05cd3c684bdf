/*
 * fuzz_extent - libFuzzer target for the in-flight table and its idle set,
 * against a per-page model.
 *
 * Operations from the input, on 256 pages: add a call's entry, remove an
 * entry, detach a range from the calls, add a range to the idle set, take
 * the idle ranges touching a range. The model counts, per page, the calls'
 * entries guarding it and whether an idle range covers it. Properties after
 * each operation: the idle set is sorted, disjoint and without empty
 * ranges; find, idle_find, overlaps, overlaps_active, uncovered and
 * covered agree with the model; maybe never says no to a guarded page; and
 * the filter's counts return to zero once everything is removed.
 */
#include "extent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 256u
#define PG 4096u
#define BASE ((uintptr_t)1 << 32)
#define NENT 64u
#define NIDLE 32u

static uintptr_t addr(unsigned p) { return BASE + (uintptr_t)p * PG; }

/* Guarded by a call's entry, or idle, per page: recomputed from the table
 * (the calls' entries change shape under detach, so the model of them is
 * the table itself, cross-checked by the queries). */
static void model(const struct zc_ext_table *t, uint8_t *calls, uint8_t *idle)
{
	memset(calls, 0, PAGES);
	memset(idle, 0, PAGES);
	for (uint32_t i = 0; i < t->n; i++)
		for (uintptr_t a = t->v[i].start; a < t->v[i].end; a += PG)
			calls[(a - BASE) / PG] = 1;
	for (uint32_t i = 0; i < t->nidle; i++)
		for (uintptr_t a = t->idle[i].start; a < t->idle[i].end; a += PG)
			idle[(a - BASE) / PG] = 1;
}

static void check(const struct zc_ext_table *t, const uint8_t *want_idle, unsigned qs,
		  unsigned qe)
{
	uint8_t calls[PAGES], idle[PAGES];
	struct zc_ext_range r[PAGES + 1];
	size_t n;

	for (uint32_t i = 0; i < t->nidle; i++) {
		if (t->idle[i].start >= t->idle[i].end)
			abort();
		if (i && t->idle[i - 1].end > t->idle[i].start)
			abort();
	}
	model(t, calls, idle);
	if (memcmp(idle, want_idle, PAGES))
		abort();   /* the idle set lost or gained pages */
	for (unsigned p = 0; p < PAGES; p++) {
		int g = calls[p] || idle[p];

		if ((zc_ext_find(t, addr(p) + 5) >= 0) != calls[p])
			abort();
		if ((zc_ext_idle_find(t, addr(p) + 5) >= 0) != idle[p])
			abort();
		if (g && !zc_ext_maybe(t, addr(p), addr(p) + 1))
			abort();
	}
	if (qs >= qe)
		return;
	{
		int any = 0, active = 0;

		for (unsigned p = qs; p < qe; p++) {
			any |= calls[p] || idle[p];
			active |= calls[p];
		}
		if (zc_ext_overlaps(t, addr(qs), addr(qe)) != any)
			abort();
		if (zc_ext_overlaps_active(t, addr(qs), addr(qe)) != active)
			abort();
	}
	/* uncovered and covered: the runs of the model, in order. */
	for (int want_cov = 0; want_cov < 2; want_cov++) {
		size_t k = 0;
		unsigned p = qs;

		n = want_cov ? zc_ext_covered(t, addr(qs), addr(qe), r, PAGES + 1)
			     : zc_ext_uncovered(t, addr(qs), addr(qe), r, PAGES + 1);
		while (p < qe) {
			unsigned s;
			int g = calls[p] || idle[p];

			if (g != want_cov) {
				p++;
				continue;
			}
			s = p;
			while (p < qe && (calls[p] || idle[p]) == want_cov)
				p++;
			if (k >= n || r[k].start != addr(s) || r[k].end != addr(p))
				abort();
			k++;
		}
		if (k != n)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zc_ext v[NENT];
	static struct zc_ext_range idle[NIDLE], out[NIDLE];
	static uint8_t want_idle[PAGES];
	struct zc_ext_table t;
	uint32_t id = 0;

	memset(&t, 0, sizeof t);
	memset(v, 0, sizeof v);
	t.v = v;
	t.cap = NENT;
	t.reserve = 4;
	t.idle = idle;
	t.idle_cap = NIDLE;
	memset(want_idle, 0, sizeof want_idle);
	while (size >= 4) {
		uint8_t op = data[0] % 5;
		unsigned s = data[1], len = 1 + data[2] % 32, e = s + len > PAGES ? PAGES : s + len;
		unsigned q = data[3];

		data += 4;
		size -= 4;
		if (op == 0) {
			struct zc_ext x;

			memset(&x, 0, sizeof x);
			x.start = addr(s);
			x.end = addr(e);
			x.id = id++;
			x.head = 1;
			x.sent = 1;
			zc_ext_add(&t, &x);
		} else if (op == 1) {
			if (t.n)
				zc_ext_remove(&t, q % t.n);
		} else if (op == 2) {
			zc_ext_detach(&t, addr(s), addr(e));
			/* Emptied heads stay (they carry accounting): drop them
			 * as the guard does once settled. */
			for (uint32_t i = 0; i < t.n;)
				if (!zc_ext_guarded(&t.v[i]))
					zc_ext_remove(&t, i);
				else
					i++;
		} else if (op == 3) {
			if (zc_ext_idle_add(&t, addr(s), addr(e)) == 0)
				for (unsigned p = s; p < e; p++)
					want_idle[p] = 1;
			else
				for (unsigned p = 0; p < PAGES; p++)   /* full: partly added */
					want_idle[p] = zc_ext_idle_find(&t, addr(p)) >= 0;
		} else {
			size_t n = zc_ext_idle_take(&t, addr(s), addr(e), out, NIDLE);

			for (size_t k = 0; k < n; k++) {
				/* Each taken range touched the query, whole. */
				if (out[k].end <= addr(s) || addr(e) <= out[k].start)
					abort();
				for (uintptr_t a = out[k].start; a < out[k].end; a += PG)
					want_idle[(a - BASE) / PG] = 0;
			}
		}
		check(&t, want_idle, s, e);
	}
	while (t.n)
		zc_ext_remove(&t, 0);
	zc_ext_idle_take(&t, BASE, addr(PAGES), out, NIDLE);
	for (unsigned i = 0; i < ZC_FILTER_SIZE; i++)
		if (t.filter[i])
			abort();
	return 0;
}
