/*
 * fastring.c - the kept buffers' send records (see the header for the
 * protocol between a sender and the adopters).
 *
 * Signal-context invariant: zc_fast_adopt_locked, zc_fast_adopt_slot_locked
 * and zc_fast_sweep_locked run in the fault handler. They use atomics on
 * the ring memory mapped at start and the in-flight table (inflight.h):
 * no malloc, no stdio, no lock but the global one their caller holds.
 */
#include "fastring.h"
#include "bounce.h"
#include "guard.h"
#include "inflight.h"
#include "shim.h"
#include "sock.h"
#include "stats.h"
#include "sys.h"

#include <sys/mman.h>

uint64_t zc_fast_pin;
/* ZC_FAST_RING per ring in use (zc_fast_sock.active): what the table
 * keeps room for. Changed when a socket's ring starts or its socket
 * closes, not per send (a line every sender would write). */
static uint32_t fast_total;
static struct zc_fast_sock *rings;

int zc_fast_init(void)
{
	void *p = zc_sys_mmap(NULL, (size_t)ZC_SOCK_MAX * sizeof *rings, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	rings = p;
	return 0;
}

struct zc_fast_sock *zc_fast_of(uint32_t slot)
{
	return rings ? &rings[slot] : NULL;
}

int zc_fast_kept(uint32_t slot, uint32_t sgen, uintptr_t start, uintptr_t end, uint32_t *seq)
{
	struct zc_fast_sock *f = &rings[slot];
	uint32_t now = __atomic_load_n(&zc_ext.idle_seq, __ATOMIC_ACQUIRE);

	/* The same buffer as last time, and the idle set unchanged since. */
	if (f->kept_start == start && f->kept_end == end && f->kept_sgen == sgen &&
	    f->kept_seq == now && !(now & 1)) {
		*seq = now;
		return 1;
	}
	if (!zc_ext_idle_holds_racy(&zc_ext, start, end, seq, &f->hint))
		return 0;
	f->kept_start = start;
	f->kept_end = end;
	f->kept_sgen = sgen;
	f->kept_seq = *seq;
	return 1;
}

/* An entry leaves PENDING or SENT. */
static void gone_live(struct zc_fast_sock *f)
{
	__atomic_fetch_sub(&f->live, 1, __ATOMIC_RELEASE);
}

/* The ring's pinned bytes and bytes in flight go into the process's
 * figures (the lock is held): after a sweep, before an adoption. Between
 * two folds they are the ring's own, so that a send writes no line
 * another socket's sender writes. */
static void fold_locked(struct zc_fast_sock *f)
{
	uint64_t pa = __atomic_load_n(&f->pin_added, __ATOMIC_RELAXED);
	uint64_t ba = __atomic_load_n(&f->bytes_added, __ATOMIC_RELAXED);
	uint64_t pin = pa - f->pin_folded - f->pin_freed;
	uint64_t bytes = ba - f->bytes_folded - f->bytes_freed;

	f->pin_folded = pa;
	f->bytes_folded = ba;
	f->pin_freed = f->bytes_freed = 0;
	if (pin)
		__atomic_fetch_add(&zc_fast_pin, pin, __ATOMIC_RELAXED);
	if (bytes)
		zc_stats_inflight((int64_t)bytes);
}

/* Ring entries that keep their bounce slot from one call to the next
 * (the pool's free stack is a line every sender writes); the rest give
 * it back with each call, so that many sockets cannot empty the pool. */
#define OWNED_MAX (ZC_BOUNCE_SLOTS / 4)
static uint32_t owned;

/* The entry's call is done with its bounce slot (the entry is not free
 * yet: nobody else reads these fields now). Returns the slot to put
 * back once the entry is free, or -1. */
static int drop_bounce(struct zc_fast_call *c)
{
	int b = (int)c->bounce - 1;

	if (!c->bounce || c->own)
		return -1;
	c->bounce = 0;
	return b;
}

int zc_fast_retract(uint32_t slot, int i)
{
	struct zc_fast_sock *f = &rings[slot];
	uint32_t want = ZC_FAST_PENDING;

	if (__atomic_compare_exchange_n(&f->c[i].state, &want, ZC_FAST_FREE, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		/* (Only this thread uses a FREE entry: no hurry.) */
		zc_bounce_put(drop_bounce(&f->c[i]), 0);
		gone_live(f);
		return 0;
	}
	return 1;   /* TAKEN: the table has it */
}

static uint64_t pin_pages_of(const struct zc_fast_call *c)
{
	return (c->bytes / zc_page) + 2;
}

uint32_t zc_fast_total(void)
{
	return __atomic_load_n(&fast_total, __ATOMIC_RELAXED);
}

int zc_fast_publish(uint32_t slot, uint32_t sgen, uintptr_t start, uintptr_t end,
		    uint32_t seq, uint64_t bytes, int *bounce, int *adopted)
{
	struct zc_fast_sock *f = &rings[slot];
	const struct zc_sock *s = &zc_socks[slot];
	uint32_t i = f->head % ZC_FAST_RING, st;
	struct zc_fast_call *c = &f->c[i];
	int fresh = 0;

	*adopted = -1;
	st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
	if (st != ZC_FAST_FREE && st != ZC_FAST_TAKEN)
		return -1;   /* (a ring full of calls out: the locked path reaps) */
	if (st == ZC_FAST_TAKEN && c->bounce) {
		/* The table took the last call's slot with it. */
		if (c->own)
			__atomic_fetch_sub(&owned, 1, __ATOMIC_RELAXED);
		c->bounce = 0;
		c->own = 0;
	}
	if (*bounce && !c->bounce) {
		int b = zc_bounce_get();

		if (b < 0)
			return -1;
		c->bounce = (uint32_t)b + 1;
		c->own = __atomic_add_fetch(&owned, 1, __ATOMIC_RELAXED) <= OWNED_MAX;
		if (!c->own)
			__atomic_fetch_sub(&owned, 1, __ATOMIC_RELAXED);
		fresh = 1;
	}
	/* The adopters' table room (inflight.c keeps ZC_FAST_TOTAL_MAX) and
	 * the pin budget, the latter as a hint (the kernel's own limit,
	 * ENOBUFS, is what the locked path falls back on). */
	/* (The counts a publication raises are sequentially consistent too:
	 * an adopter that reads them after its bump and finds nothing to
	 * adopt has bumped before this sender looks.) */
	if (!__atomic_load_n(&f->active, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&f->active, 1, __ATOMIC_SEQ_CST) &&
	    __atomic_add_fetch(&fast_total, ZC_FAST_RING, __ATOMIC_SEQ_CST) > ZC_FAST_TOTAL_MAX) {
		/* No room kept for another ring: this socket goes the
		 * locked way (and counts as a ring no more). */
		__atomic_store_n(&f->active, 0, __ATOMIC_SEQ_CST);
		__atomic_fetch_sub(&fast_total, ZC_FAST_RING, __ATOMIC_SEQ_CST);
		if (fresh)
			zc_bounce_put(drop_bounce(c), 0);
		return -1;
	}
	if (!zc_inflight_fast_room() ||
	    __atomic_load_n(&zc_pin_bytes, __ATOMIC_RELAXED) +
			    __atomic_load_n(&zc_fast_pin, __ATOMIC_RELAXED) +
			    ((bytes / zc_page) + 2) * zc_page >
		    zc_pin_cap) {
		if (fresh)
			zc_bounce_put(drop_bounce(c), 0);
		return -1;
	}
	*bounce = (int)c->bounce - 1;   /* (-1: none; one it owns goes with the call, unused) */
	c->start = start;
	c->end = end;
	c->bytes = bytes;
	c->sgen = sgen;
	__atomic_fetch_add(&f->live, 1, __ATOMIC_SEQ_CST);
	/* Publish, then look: an idle removal raises the idle set's count
	 * and then adopts (zc_fast_adopt_locked), a close bumps the slot's
	 * generation and then adopts the slot's calls. Sequentially
	 * consistent on both sides: one of the two sees the other. */
	__atomic_store_n(&c->state, ZC_FAST_PENDING, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&zc_ext.idle_seq, __ATOMIC_SEQ_CST) != seq ||
	    !__atomic_load_n(&s->used, __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) != sgen) {
		if (zc_fast_retract(slot, (int)i))
			*adopted = (int)i;
		f->head++;
		return -1;
	}
	f->head++;
	return (int)i;
}

int zc_fast_commit(uint32_t slot, int i, uint32_t id, uint64_t sent)
{
	struct zc_fast_sock *f = &rings[slot];
	const struct zc_sock *s = &zc_socks[slot];
	struct zc_fast_call *c = &f->c[i];
	uint32_t want = ZC_FAST_PENDING;

	uint64_t pin;

	c->id = id;
	c->bytes = sent;
	pin = pin_pages_of(c);
	/* Charged before the entry can be adopted or swept, which undo it. */
	__atomic_store_n(&f->pin_added, f->pin_added + pin * zc_page, __ATOMIC_RELAXED);
	__atomic_store_n(&f->bytes_added, f->bytes_added + sent, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(&c->state, &want, ZC_FAST_SENT, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&f->pin_added, f->pin_added - pin * zc_page, __ATOMIC_RELAXED);
		__atomic_store_n(&f->bytes_added, f->bytes_added - sent, __ATOMIC_RELAXED);
		return 1;
	}
	if (!__atomic_load_n(&s->used, __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) != c->sgen)
		return 2;
	return 0;
}

/* SENT entry c's id was released (the lock is held): free it. */
static void free_released(struct zc_fast_sock *f, struct zc_fast_call *c)
{
	uint32_t st = ZC_FAST_SENT;
	uint64_t bytes = c->bytes, pin = pin_pages_of(c);
	int b = drop_bounce(c);

	/* Everything read and the slot dropped before the entry is free:
	 * its sender may fill it again at once. (Only adopters, under the
	 * same lock, move a SENT entry otherwise.) */
	if (!__atomic_compare_exchange_n(&c->state, &st, ZC_FAST_FREE, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (b >= 0)
			c->bounce = (uint32_t)b + 1;
		return;
	}
	f->pin_freed += pin * zc_page;   /* (the lock is held: folded next) */
	f->bytes_freed += bytes;
	zc_bounce_put(b, 0);
	gone_live(f);
}

/* Move entry c of slot into the table (the lock is held). */
static int adopt_one_locked(uint32_t slot, struct zc_fast_sock *f, int i)
{
	struct zc_fast_call *c = &f->c[i];
	uint32_t st = __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);
	const struct zc_sock *s = &zc_socks[slot];
	struct zc_call call;
	uint64_t pages;

	if (st != ZC_FAST_PENDING && st != ZC_FAST_SENT)
		return 0;
	if (st == ZC_FAST_SENT && s->used && s->gen == c->sgen &&
	    zc_inflight_id_done_locked(slot, c->id)) {
		/* Released already, not swept yet: nothing to hand over (a
		 * table entry would wait for a completion already read). */
		free_released(f, c);
		return 0;
	}
	call.slot = slot;
	call.sgen = c->sgen;
	call.sent = st == ZC_FAST_SENT;
	call.key = call.sent ? c->id : zc_fast_key(i);
	/* The pin the table charges: a pending call's at its commit, from
	 * its payload (as arming does); a sent call's now, from what went
	 * out (what zc_fast_commit charged). */
	pages = pin_pages_of(c);
	if (zc_inflight_adopt_locked(&call, c->start, c->end, c->bytes, pages, c->bounce))
		return -1;
	if (!__atomic_compare_exchange_n(&c->state, &st, ZC_FAST_TAKEN, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_ACQUIRE)) {
		/* The sender moved it meanwhile (PENDING to SENT or FREE):
		 * take the table's copy back and look again. */
		zc_inflight_unadopt_locked(&call);
		return adopt_one_locked(slot, f, i);
	}
	if (call.sent)
		__atomic_fetch_sub(&zc_fast_pin, pages * zc_page, __ATOMIC_RELAXED);
	gone_live(f);   /* (the caller folded the ring's figures first) */
	ZC_STAT_ADD(kept_adopted, 1);
	return 0;
}

int zc_fast_adopt_one_locked(uint32_t slot, int i)
{
	zc_assert_locked();
	return adopt_one_locked(slot, &rings[slot], i);
}

static int adopt_locked(uint32_t slot, uintptr_t start, uintptr_t end, int whole, uint32_t sgen)
{
	struct zc_fast_sock *f = &rings[slot];
	int rc = 0;

	if (!zc_fast_live(f))
		return 0;
	fold_locked(f);   /* (an adopted call's pin moves from the process's figure) */
	for (int i = 0; i < (int)ZC_FAST_RING; i++) {
		const struct zc_fast_call *c = &f->c[i];
		uint32_t st = __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);

		if (st != ZC_FAST_PENDING && st != ZC_FAST_SENT)
			continue;
		if (whole ? c->sgen != sgen : (c->end <= start || end <= c->start))
			continue;
		if (adopt_one_locked(slot, f, i))
			rc = -1;
	}
	return rc;
}

int zc_fast_adopt_locked(uintptr_t start, uintptr_t end)
{
	int rc = 0;

	zc_assert_locked();
	zc_ext_idle_mark(&zc_ext);
	if (!rings || !__atomic_load_n(&fast_total, __ATOMIC_SEQ_CST))
		return 0;
	for (uint32_t slot = 0; slot < zc_sock_hwm && slot < ZC_SOCK_MAX; slot++)
		if (adopt_locked(slot, start, end, 0, 0))
			rc = -1;
	return rc;
}

int zc_fast_adopt_slot_locked(uint32_t slot, uint32_t sgen)
{
	struct zc_fast_sock *f;
	int rc;

	zc_assert_locked();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!rings)
		return 0;
	f = &rings[slot];
	rc = adopt_locked(slot, 0, 0, 1, sgen);
	/* The socket is gone: its ring needs no room kept in the table (a
	 * sender of the next socket in the slot starts it again). */
	fold_locked(f);
	if (!zc_fast_live(f) && __atomic_exchange_n(&f->active, 0, __ATOMIC_SEQ_CST))
		__atomic_fetch_sub(&fast_total, ZC_FAST_RING, __ATOMIC_SEQ_CST);
	return rc;
}

void zc_fast_sweep_locked(uint32_t slot)
{
	struct zc_fast_sock *f;
	uint32_t sgen = zc_socks[slot].gen;

	zc_assert_locked();
	if (!rings)
		return;
	f = &rings[slot];
	for (int i = 0; zc_fast_live(f) && i < (int)ZC_FAST_RING; i++) {
		struct zc_fast_call *c = &f->c[i];

		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == ZC_FAST_SENT && c->sgen == sgen &&
		    zc_inflight_id_done_locked(slot, c->id))
			free_released(f, c);
	}
	fold_locked(f);
}

void zc_fast_child_reset(void)
{
	/* The parent's calls are not the child's; its pages are made
	 * writable with the idle set's (guard.c). */
	if (!rings)
		return;
	for (uint32_t slot = 0; slot < zc_sock_hwm && slot < ZC_SOCK_MAX; slot++) {
		struct zc_fast_sock *f = &rings[slot];

		if (!f->live && !f->head)
			continue;
		for (uint32_t i = 0; i < ZC_FAST_RING; i++) {
			f->c[i].state = ZC_FAST_FREE;
			f->c[i].bounce = 0;   /* (the pool is made anew: zc_bounce_reset) */
			f->c[i].own = 0;
		}
		f->live = 0;
		f->active = 0;
		f->pin_added = f->bytes_added = f->pin_folded = f->bytes_folded = 0;
		f->pin_freed = f->bytes_freed = 0;
		f->kept_start = f->kept_end = 0;
	}
	fast_total = 0;
	owned = 0;
	zc_fast_pin = 0;
}
