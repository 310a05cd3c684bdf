/*
 * idwin.c - the per-socket window of outstanding zerocopy call ids.
 */
#include "idwin.h"

#include <string.h>

static inline int bit_get(const struct zc_idwin *w, uint32_t id)
{
	uint32_t i = id % ZC_IDWIN_BITS;

	return (int)((w->done[i / 64] >> (i % 64)) & 1u);
}

static inline void bit_set(struct zc_idwin *w, uint32_t id)
{
	uint32_t i = id % ZC_IDWIN_BITS;

	w->done[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline void bit_clear(struct zc_idwin *w, uint32_t id)
{
	uint32_t i = id % ZC_IDWIN_BITS;

	w->done[i / 64] &= ~((uint64_t)1 << (i % 64));
}

void zc_idwin_init(struct zc_idwin *w, uint32_t first)
{
	memset(w, 0, sizeof *w);
	w->base = first;
	w->next = first;
}

uint32_t zc_idwin_mark(struct zc_idwin *w, uint32_t lo, uint32_t hi)
{
	uint32_t span = hi - lo;          /* ids in the range, minus one */
	uint32_t outstanding = zc_idwin_outstanding(w);
	uint32_t newly = 0;
	uint32_t from, to;                /* offsets from base, inclusive */

	/* Offsets of lo and hi relative to base. An id "before" base is one
	 * whose offset lands in the upper half of the 32-bit circle. */
	uint32_t off_lo = lo - w->base;
	uint32_t off_hi = hi - w->base;

	if (span >= 0x80000000u)
		return 0;                 /* not a range the kernel sends */
	if (off_hi >= 0x80000000u)
		return 0;                 /* wholly retired already */
	from = off_lo >= 0x80000000u ? 0 : off_lo;
	to = off_hi;
	if (from >= ZC_IDWIN_BITS)
		return 0;                 /* beyond anything we can hold */
	if (to >= ZC_IDWIN_BITS)
		to = ZC_IDWIN_BITS - 1;
	for (uint32_t off = from; off <= to; off++) {
		uint32_t id = w->base + off;

		if (!bit_get(w, id)) {
			bit_set(w, id);
			if (off < outstanding)
				newly++;
		}
	}
	return newly;
}

int zc_idwin_is_done(const struct zc_idwin *w, uint32_t id)
{
	uint32_t off = id - w->base;

	if (off >= 0x80000000u)
		return 1;
	if (off >= ZC_IDWIN_BITS)
		return 0;
	return bit_get(w, id);
}

void zc_idwin_advance(struct zc_idwin *w)
{
	while (w->base != w->next && bit_get(w, w->base)) {
		bit_clear(w, w->base);
		w->base++;
	}
}
