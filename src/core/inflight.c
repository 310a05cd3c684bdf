/*
 * inflight.c - the zerocopy calls in flight (see the header): every walk
 * and change of the table's call entries, and the pin budget.
 *
 * Signal-context invariant: zc_inflight_complete_locked,
 * zc_inflight_complete_done_locked, the window's mark and advance and the
 * lookups run in the fault handler (through zc_reap_locked and the guard's
 * resolve), and zc_inflight_child_reset in a fork child. They use the table the shim
 * mapped itself, raw syscalls and the guard's mechanism only: no malloc,
 * no stdio.
 */
#include "inflight.h"
#include "copywhy.h"
#include "bounce.h"
#include "completion.h"
#include "fastring.h"
#include "guard.h"
#include "shim.h"
#include "sock.h"
#include "stats.h"
#include "vma.h"

#include <errno.h>

uint64_t zc_pin_bytes;
uint64_t zc_pin_cap;

/*
 * Is entry e one of call c's? The entry's id field holds what the call's
 * key holds: the bounce slot while pending, the kernel id once sent (a
 * pending call's bounce slot is its sender's alone, and a sent call's id
 * is unique on its socket), so the state decides which is compared.
 */
static inline int same_call(const struct zc_ext *e, const struct zc_call *c)
{
	return e->sent == c->sent && e->slot == c->slot && e->sgen == c->sgen && e->id == c->key;
}

/* Is entry e a sent call of the socket of (slot, sgen)? */
static inline int sent_by(const struct zc_ext *e, uint32_t slot, uint32_t sgen)
{
	return e->sent && e->slot == slot && e->sgen == sgen;
}

/*
 * Where zc_inflight_arm_locked put a pending call's entries, by the call's
 * bounce slot: commit and disarm look there instead of walking the table
 * (a send's commit walked every entry of every call in flight: 3% of a
 * stable sender's CPU). Entries move only by zc_ext_remove (the last one
 * into the hole) and are made or dropped otherwise only by detach and
 * shift, which count themselves in zc_ext.reshaped. So while that count is
 * what it was at arming, the call has exactly the n entries it was armed
 * with, and if each of [at, at + n) is one of them, those are all of them.
 * Anything else, and the walk decides, as before.
 */
static struct armed_at {
	uint32_t at, n, reshaped;
} armed_at[ZC_BOUNCE_ALL];

/* The index of c's first entry, with all of them at [at, at + *n), or -1
 * (then walk the table). */
static int64_t armed_entries(const struct zc_call *c, uint32_t *n)
{
	const struct armed_at *h;

	if (c->sent || c->key >= ZC_BOUNCE_ALL)
		return -1;
	h = &armed_at[c->key];
	if (h->reshaped != zc_ext.reshaped || h->at > zc_ext.n || h->n > zc_ext.n - h->at)
		return -1;
	for (uint32_t k = 0; k < h->n; k++)
		if (!same_call(&zc_ext.v[h->at + k], c))
			return -1;
	*n = h->n;
	return h->at;
}

/* Room kept in the table for adopting the ring calls (fastring.h): the
 * calls out there, plus senders publishing while the count is read. */
#define FAST_SLACK 1024u

/* The entries the table keeps free beyond its reserve: for the rings. */
static uint32_t fast_kept(void)
{
	return zc_fast_total() + FAST_SLACK;
}

int zc_inflight_fast_room(void)
{
	return __atomic_load_n(&zc_ext.n, __ATOMIC_RELAXED) + zc_ext.reserve + fast_kept() <
	       zc_ext.cap;
}

int zc_inflight_adopt_locked(const struct zc_call *c, uintptr_t start, uintptr_t end,
			     uint64_t bytes, uint64_t pin_pages, uint32_t bounce)
{
	struct zc_ext e = { 0 };

	zc_assert_locked();
	e.start = start;
	e.end = end;
	e.slot = c->slot;
	e.sgen = c->sgen;
	e.id = c->key;
	e.head = 1;
	e.sent = c->sent;
	e.bytes = bytes;
	e.pin_pages = pin_pages;
	e.bounce = bounce;   /* (put back when the call is settled: settle_head_locked) */
	if (zc_ext_add(&zc_ext, &e) < 0)
		return -1;
	if (c->sent)
		zc_pin_bytes += pin_pages * zc_page;   /* (zc_fast_commit charged the bytes) */
	return 0;
}

void zc_inflight_unadopt_locked(const struct zc_call *c)
{
	zc_assert_locked();
	for (uint32_t k = zc_ext.n; k-- > 0;) {
		const struct zc_ext *e = &zc_ext.v[k];

		if (same_call(e, c) && e->head) {
			if (e->sent)
				zc_pin_bytes -= e->pin_pages * zc_page;
			zc_ext_remove(&zc_ext, k);
			return;
		}
	}
}

static uint64_t pin_bytes_of(size_t total)
{
	return ((uint64_t)(total / zc_page) + 2) * zc_page;
}

int zc_inflight_pin_fits_locked(size_t total)
{
	zc_assert_locked();
	return zc_pin_bytes + pin_bytes_of(total) <= zc_pin_cap;
}

/* The call's accounting, carried by its head entry. */
static void settle_head_locked(struct zc_ext *e, int orphan_bounce)
{
	zc_assert_locked();
	if (!e->head)
		return;
	if (e->bounce)
		zc_bounce_put((int)e->bounce - 1, orphan_bounce);
	if (e->sent) {
		zc_pin_bytes -= e->pin_pages * zc_page;
		zc_stats_inflight(-(int64_t)e->bytes);
	}
	e->head = 0;
	e->bounce = 0;
}

/* Remove entry i: settle its accounting (bounce slot back, orphaned or
 * not), then make writable what it alone guarded. */
static void remove_locked(uint32_t i, int orphan_bounce)
{
	struct zc_ext e = zc_ext.v[i];

	zc_assert_locked();
	settle_head_locked(&e, orphan_bounce);
	zc_ext_remove(&zc_ext, i);
	if (zc_ext_guarded(&e))
		zc_guard_unprotect_locked(e.start, e.end);
}

/* Entry i's call was released: settle its accounting, and let the guard
 * keep its pages read-only (idle) until written, or release them now. */
static void retire_locked(uint32_t i)
{
	struct zc_ext *e = &zc_ext.v[i];

	zc_assert_locked();
	settle_head_locked(e, 0);
	if (zc_guard_release_locked(e->start, e->end)) {
		/* The idle set holds it all: nothing to make writable. */
		zc_ext_remove(&zc_ext, i);
		return;
	}
	remove_locked(i, 0);
}

int zc_inflight_arm_locked(const struct zc_call *c, const struct zc_plan *p)
{
	unsigned char worth[ZC_PLAN_EXT_MAX];
	int b = (int)c->key;

	int why;

	zc_assert_locked();
	if (zc_ext.n + (uint32_t)p->next + zc_ext.reserve + fast_kept() >= zc_ext.cap) {
		why = ZC_WHY_RECORDS_FULL;
		goto refuse;
	}
	/* The cost model weighs a guard cycle against a copy per range; but
	 * the only other way for a range is to copy the whole call. So the
	 * call is copied when every range would rather be, and otherwise
	 * guarded whole (a large reply whose chunks were sent before, with
	 * one chunk new). */
	for (int i = 0, copy = 0; i < p->next; i++) {
		worth[i] = (unsigned char)zc_guard_worth_locked(p->ext[i].start, p->ext[i].end);
		copy += worth[i] == ZC_WORTH_COPY;
		if (i == p->next - 1 && copy == p->next) {
			ZC_STAT_ADD(unkept_copies, 1);
			why = ZC_WHY_COST_MODEL;
			goto refuse;
		}
	}
	armed_at[b].at = zc_ext.n;
	armed_at[b].n = 0;
	armed_at[b].reshaped = zc_ext.reshaped;
	for (int i = 0; i < p->next;) {
		int j = i + 1;

		/* (Covered stays covered: nothing below takes protection away
		 * before the entries are added.) Ranges that touch (a piece's
		 * pages and its edges) are protected in one call: the guard
		 * protects what of them is not read-only yet. */
		if (worth[i] != ZC_WORTH_COVERED) {
			while (j < p->next && p->ext[j].start == p->ext[j - 1].end &&
			       worth[j] != ZC_WORTH_COVERED)
				j++;
			if (zc_guard_protect_locked(p->ext[i].start, p->ext[j - 1].end)) {
				/* EAGAIN: the userfaultfd guard's threads do
				 * not run yet (guard_uffd.c). */
				int refused = errno == EAGAIN ? ZC_WHY_GUARD_THREADS
							      : ZC_WHY_GUARD_REFUSED;

				/* Undo the entries already armed; without a
				 * head entry yet, b goes back here. */
				if (i == 0)
					zc_bounce_put(b, 0);
				zc_inflight_disarm_locked(c);
				return refused;
			}
		}
		for (; i < j; i++) {
			struct zc_ext e = { 0 };

			e.start = p->ext[i].start;
			e.end = p->ext[i].end;
			e.slot = c->slot;
			e.sgen = c->sgen;
			e.id = c->key;   /* pending: the bounce slot names the call */
			e.head = i == 0;
			e.bounce = i == 0 ? (uint32_t)b + 1 : 0;
			e.bytes = p->total;
			e.pin_pages = pin_bytes_of(p->total) / zc_page;
			if (zc_ext_add(&zc_ext, &e) >= 0)
				armed_at[b].n++;
		}
	}
	return 0;
refuse:
	zc_bounce_put(b, 0);
	return why;
}

void zc_inflight_disarm_locked(const struct zc_call *c)
{
	uint32_t n;
	int64_t at;

	zc_assert_locked();
	if ((at = armed_entries(c, &n)) >= 0) {
		/* From the last: a removal moves the table's last entry into
		 * the hole, never one of these below it. */
		while (n--)
			remove_locked((uint32_t)at + n, 0);
		return;
	}
	for (uint32_t k = 0; k < zc_ext.n;) {
		if (same_call(&zc_ext.v[k], c))
			remove_locked(k, 0);
		else
			k++;
	}
}

int zc_inflight_commit_locked(struct zc_call *c, uint32_t id, const struct zc_plan *p,
			      size_t sent, int trim)
{
	int keeps = 1;
	uint32_t from = 0, to = zc_ext.n, n;
	int64_t at;

	zc_assert_locked();
	if ((at = armed_entries(c, &n)) >= 0) {
		from = (uint32_t)at;
		to = from + n;
	}
	for (uint32_t k = from; k < to; k++) {
		struct zc_ext *e = &zc_ext.v[k];

		if (!same_call(e, c))
			continue;
		e->sent = 1;
		e->id = id;   /* sent: the kernel's id names the call from now on */
		keeps = keeps && zc_guard_release_keeps(e->start, e->end);
		if (e->head) {
			e->bytes = sent;
			zc_pin_bytes += e->pin_pages * zc_page;
			zc_stats_inflight((int64_t)sent);
		}
	}
	c->sent = 1;
	c->key = id;
	if (!trim)
		return keeps;
	/* A partial send: pages past what the kernel took need no guard. */
	for (int i = 0; i < p->next; i++) {
		if (p->ext[i].off < sent)
			continue;
		for (uint32_t k = 0; k < zc_ext.n;) {
			struct zc_ext *e = &zc_ext.v[k];

			if (same_call(e, c) && e->start == p->ext[i].start && e->end == p->ext[i].end) {
				if (e->head) {
					uintptr_t s0 = e->start, e0 = e->end;

					e->start = e->end = 0;
					zc_guard_unprotect_locked(s0, e0);
					k++;
				} else {
					remove_locked(k, 0);
				}
			} else {
				k++;
			}
		}
	}
	return keeps;
}

void zc_inflight_complete_locked(const struct zc_call *c)
{
	zc_assert_locked();
	for (uint32_t i = 0; i < zc_ext.n;) {
		if (same_call(&zc_ext.v[i], c))
			retire_locked(i);
		else
			i++;
	}
}

void zc_inflight_complete_done_locked(uint32_t slot, uint32_t sgen)
{
	const struct zc_idwin *win = &zc_socks[slot].win;

	zc_assert_locked();
	for (uint32_t i = 0; i < zc_ext.n;) {
		const struct zc_ext *e = &zc_ext.v[i];

		if (sent_by(e, slot, sgen) && zc_idwin_is_done(win, e->id))
			retire_locked(i);
		else
			i++;
	}
}

/*
 * The id windows. The storage is the slot's (struct zc_sock.win, so that a
 * window lives and dies with its slot and needs no table of its own); these
 * are the only functions that touch it. The fault handler reaches mark and
 * advance through zc_reap_locked: pure arithmetic on the slot, no malloc.
 */
void zc_inflight_window_reset_locked(uint32_t slot)
{
	zc_assert_locked();
	zc_idwin_init(&zc_socks[slot].win, 0);
}

uint32_t zc_inflight_outstanding(uint32_t slot)
{
	return zc_idwin_outstanding(&zc_socks[slot].win);
}

int zc_inflight_has_room_locked(uint32_t slot)
{
	zc_assert_locked();
	return zc_idwin_has_room(&zc_socks[slot].win);
}

uint32_t zc_inflight_take_id_locked(uint32_t slot)
{
	zc_assert_locked();
	return zc_idwin_take(&zc_socks[slot].win);
}

/*
 * The window's next id is only ever changed by the socket's busy holder
 * (a send, on the locked path or the ring's), so that thread may read and
 * advance it without the lock; the completion readers, under the lock,
 * change only base and the done bits, which it reads atomically here.
 */
int zc_inflight_has_room_busy(uint32_t slot)
{
	const struct zc_idwin *w = &zc_socks[slot].win;

	return w->next - __atomic_load_n(&w->base, __ATOMIC_ACQUIRE) < ZC_IDWIN_BITS - 1;
}

uint32_t zc_inflight_next_id_busy(uint32_t slot)
{
	return zc_socks[slot].win.next;
}

void zc_inflight_take_id_busy(uint32_t slot)
{
	struct zc_idwin *w = &zc_socks[slot].win;

	__atomic_store_n(&w->next, w->next + 1, __ATOMIC_RELEASE);
}

int zc_inflight_id_done_locked(uint32_t slot, uint32_t id)
{
	zc_assert_locked();
	return zc_idwin_is_done(&zc_socks[slot].win, id);
}

int zc_inflight_next_id_done_locked(uint32_t slot)
{
	const struct zc_idwin *w = &zc_socks[slot].win;

	zc_assert_locked();
	return zc_idwin_has_room(w) && zc_idwin_is_done(w, w->next);
}

uint32_t zc_inflight_mark_released_locked(uint32_t slot, uint32_t lo, uint32_t hi)
{
	zc_assert_locked();
	return zc_idwin_mark(&zc_socks[slot].win, lo, hi);
}

void zc_inflight_advance_locked(uint32_t slot)
{
	zc_assert_locked();
	zc_idwin_advance(&zc_socks[slot].win);
}

void zc_inflight_orphan_slot_locked(uint32_t slot, uint32_t sgen)
{
	zc_assert_locked();
	/* First give the program private copies of every guarded page these
	 * calls hold (the copy detaches them, so each pass finds fewer). */
	for (int tries = 0; tries < 1024; tries++) {
		uintptr_t s0 = 0, e0 = 0;

		for (uint32_t i = 0; i < zc_ext.n; i++) {
			const struct zc_ext *e = &zc_ext.v[i];

			if (sent_by(e, slot, sgen) && zc_ext_guarded(e)) {
				s0 = e->start;
				e0 = e->end;
				break;
			}
		}
		if (s0 == e0 || zc_guard_copy_locked(s0, e0))
			break;
	}
	/* Then drop the calls. An entry whose copy failed keeps guarding its
	 * pages: a write to them retries the copy (see zc_guard_resolve). */
	for (uint32_t i = 0; i < zc_ext.n;) {
		struct zc_ext *e = &zc_ext.v[i];

		if (sent_by(e, slot, sgen)) {
			if (!zc_ext_guarded(e)) {
				remove_locked(i, 1);
				continue;
			}
			if (e->head && e->bounce) {
				zc_bounce_put((int)e->bounce - 1, 1);
				e->bounce = 0;
			}
		}
		i++;
	}
}

/* Add e's socket to slots[0..*n) unless it is there, or gone (its slot
 * is another socket's now). */
static void note_socket(const struct zc_ext *e, uint32_t *slots, int *n)
{
	for (int k = 0; k < *n; k++)
		if (slots[k] == e->slot)
			return;
	if (zc_socks[e->slot].used && zc_socks[e->slot].gen == e->sgen)
		slots[(*n)++] = e->slot;
}

int zc_inflight_sockets_locked(uint32_t *slots, int max)
{
	int n = 0;

	zc_assert_locked();
	for (uint32_t i = 0; i < zc_ext.n && n < max; i++) {
		const struct zc_ext *e = &zc_ext.v[i];

		if (e->head && e->sent)
			note_socket(e, slots, &n);
	}
	/* Sockets with calls out in their rings only (fastring.h). */
	for (uint32_t slot = 0; slot < zc_sock_hwm && n < max; slot++) {
		struct zc_ext e = { .slot = slot, .sgen = zc_socks[slot].gen };

		if (zc_socks[slot].used && zc_fast_live(zc_fast_of(slot)))
			note_socket(&e, slots, &n);
	}
	return n;
}

int zc_inflight_owners_locked(uintptr_t start, uintptr_t end, uint32_t *slots, int max)
{
	int n = 0;

	zc_assert_locked();
	for (uint32_t i = 0; i < zc_ext.n && n < max; i++) {
		const struct zc_ext *e = &zc_ext.v[i];

		if (e->sent && zc_ext_guarded(e) && e->start < end && start < e->end)
			note_socket(e, slots, &n);
	}
	return n;
}

int zc_inflight_overlaps_locked(uintptr_t start, uintptr_t end)
{
	zc_assert_locked();
	return zc_ext_overlaps_active(&zc_ext, start, end);
}

int zc_inflight_copyable_locked(uintptr_t start, uintptr_t end)
{
	zc_assert_locked();
	return zc_vma_copyable(start, end, &zc_ext);
}

int zc_inflight_child_reset(int first)
{
	uint32_t n = zc_ext.n < zc_ext.cap ? zc_ext.n : zc_ext.cap;

	/* The child's copies of the guarded pages become writable, and only
	 * they: the records may be half-written (the guard's backend checks
	 * each range, guard_backend.h). */
	for (uint32_t i = 0; i < n && !zc_test_no_guard(); i++)
		if (zc_ext_guarded(&zc_ext.v[i])) {
			zc_guard_backend->child_reset(zc_ext.v[i].start, zc_ext.v[i].end, first);
			first = 0;
		}
	zc_ext.n = 0;
	zc_pin_bytes = 0;
	return first;
}
