/*
 * idwin.h - which zerocopy calls of one socket the kernel has released.
 *
 * The kernel numbers each successful MSG_ZEROCOPY call on a socket with a
 * 32-bit counter and reports releases as inclusive ranges [lo, hi] that may
 * be coalesced, out of order, repeated, and that wrap around 2^32. A window
 * tracks the calls still outstanding: ids in [base, next). Completions are
 * kept in a circular bitmap, so a completion that arrives before the sender
 * recorded its call (another thread reaped it first) is not lost.
 *
 * Pure logic: no locks, no syscalls. The caller serialises access.
 */
#ifndef ZC_IDWIN_H
#define ZC_IDWIN_H

#include <stdint.h>

#define ZC_IDWIN_BITS 1024u

struct zc_idwin {
	uint32_t base;                       /* oldest id not yet retired */
	uint32_t next;                       /* id of the next successful call */
	uint64_t done[ZC_IDWIN_BITS / 64];   /* bit id % BITS: id released */
};

void zc_idwin_init(struct zc_idwin *w, uint32_t first);

static inline uint32_t zc_idwin_outstanding(const struct zc_idwin *w)
{
	return w->next - w->base;
}

/* Room for one more call (one slot is kept for an early completion). */
static inline int zc_idwin_has_room(const struct zc_idwin *w)
{
	return zc_idwin_outstanding(w) < ZC_IDWIN_BITS - 1;
}

/* The id the call that just succeeded got. */
static inline uint32_t zc_idwin_take(struct zc_idwin *w)
{
	uint32_t id = w->next;

	/* (Atomic: the window's completion readers read it without the
	 * sender, inflight.c, zc_inflight_has_room_busy.) */
	__atomic_store_n(&w->next, id + 1, __ATOMIC_RELEASE);
	return id;
}

/* Record the kernel's release of [lo, hi] (inclusive, wrapping). Ids
 * already retired or beyond the window are ignored. Returns how many ids
 * of [base, next) became released by this call. */
uint32_t zc_idwin_mark(struct zc_idwin *w, uint32_t lo, uint32_t hi);

/* Has call id been released? (ids before base: yes) */
int zc_idwin_is_done(const struct zc_idwin *w, uint32_t id);

/* Retire the released prefix of the window. */
void zc_idwin_advance(struct zc_idwin *w);

#endif
