/*
 * inflight.h - the zerocopy calls in flight: the owner of the in-flight
 * table's call entries (zc_ext.v[], extent.h) and of the pin budget.
 *
 * It also owns each socket's id window (idwin.h): which of the socket's
 * kernel ids are out and which the kernel has released. The window is
 * kept in the socket's slot (struct zc_sock), but only the functions below
 * read or change it, named by the slot.
 *
 * A call is named by a handle, struct zc_call: the socket slot and its
 * generation, and a key whose meaning follows the call's state:
 *   - pending (armed, the syscall not yet returned): the bounce slot the
 *     sender holds for it, which no other call of the process holds now;
 *   - sent (committed): the kernel's zerocopy id, which the completion
 *     names.
 * An entry belongs to a call when same_call() (inflight.c) says so; every
 * walk of the table is here. The send path arms a call (pending entries,
 * pages made read-only), then commits it with its id or disarms it; the
 * completion path completes calls; a socket going away orphans its calls.
 * The guard (guard.h) is the mechanism these use for the pages: protect,
 * release (retire to the idle set, or make writable), private copies.
 *
 * All functions but zc_inflight_child_reset and zc_inflight_outstanding
 * expect the global lock held (shim.h). The ones the fault handler
 * reaches (complete, the lookups, marking and advancing a window) are
 * async-signal-safe: no malloc, no stdio, memory the shim mapped itself.
 */
#ifndef ZC_INFLIGHT_H
#define ZC_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "idwin.h"
#include "iovplan.h"

struct zc_call {
	uint32_t slot;      /* socket slot */
	uint32_t sgen;      /* that slot's generation when the call was made */
	uint32_t sent;      /* 0: pending, key is the bounce slot; 1: key is the id */
	uint32_t key;       /* the bounce slot while pending, the kernel id once sent */
};

static inline struct zc_call zc_call_pending(uint32_t slot, uint32_t sgen, int bounce)
{
	struct zc_call c = { slot, sgen, 0, (uint32_t)bounce };

	return c;
}

extern uint64_t zc_pin_bytes;     /* locked-memory charge of calls in flight */
extern uint64_t zc_pin_cap;       /* the most the shim keeps pinned */

/* Would a call of total payload bytes fit the pin budget now? */
int zc_inflight_pin_fits_locked(size_t total);

/* Record call c (pending) with plan p, whose pages the caller found the
 * guard may take (zc_vma_eligible, under the same hold of the lock): ask
 * the guard whether guarding is worth it, make the pages read-only and add
 * one pending entry per guarded run (the first, the head, carries the
 * accounting and the bounce slot). Returns 0, or why the call must be
 * copied (copywhy.h): nothing armed, the bounce slot put back. */
int zc_inflight_arm_locked(const struct zc_call *c, const struct zc_plan *p);

/* Remove pending call c's entries (the head puts its bounce slot back):
 * the syscall was not made, or failed without taking an id. */
void zc_inflight_disarm_locked(const struct zc_call *c);

/* Pending call c went out under kernel id id with sent payload bytes:
 * its entries become sent (c too), the pin budget and the in-flight bytes
 * are charged. trim: drop the guard of the plan's pieces past what the
 * kernel took (a partial send). Returns 1 if releasing every entry would
 * leave its pages as they are (guard.h, zc_guard_release_keeps), so that
 * nothing waits on reading its completion soon. */
int zc_inflight_commit_locked(struct zc_call *c, uint32_t id, const struct zc_plan *p,
			      size_t sent, int trim);

/* The kernel released sent call c: its pages are retired (guard.h). */
void zc_inflight_complete_locked(const struct zc_call *c);

/* Complete every sent call of (slot, sgen) whose id the slot's window
 * marks released. */
void zc_inflight_complete_done_locked(uint32_t slot, uint32_t sgen);

/* Kept buffers' calls (fastring.h). */

/* Is there room in the table to adopt one more ring call? (a hint, no
 * lock) */
int zc_inflight_fast_room(void);

/* Record ring call c over [start, end) as the table's (a head entry with
 * the call's bounce slot + 1, or 0): pending (its sender commits or
 * disarms it under the lock) or sent (the pin budget charged now). -1: no
 * room. */
int zc_inflight_adopt_locked(const struct zc_call *c, uintptr_t start, uintptr_t end,
			     uint64_t bytes, uint64_t pin_pages, uint32_t bounce);

/* Undo zc_inflight_adopt_locked of c (nothing else happened to it). */
void zc_inflight_unadopt_locked(const struct zc_call *c);

/* The busy holder, without the lock: room in slot's window for one more
 * call, and the id the call that just succeeded got (fastring.h). */
int zc_inflight_has_room_busy(uint32_t slot);
uint32_t zc_inflight_next_id_busy(uint32_t slot);
void zc_inflight_take_id_busy(uint32_t slot);

/* The id window of the socket in slot (idwin.h). */

/* A new socket in slot: no call out, its first call gets id 0. */
void zc_inflight_window_reset_locked(uint32_t slot);

/* How many of slot's calls are out (taken ids not yet retired). Without
 * the lock, a hint only: a value that may be out of date by the time it
 * is used, for a caller that then takes the lock and looks again or only
 * decides whether to wait. */
uint32_t zc_inflight_outstanding(uint32_t slot);

/* Is there room in slot's window for one more call? */
int zc_inflight_has_room_locked(uint32_t slot);

/* The id the call on slot that just succeeded got. */
uint32_t zc_inflight_take_id_locked(uint32_t slot);

/* Has the kernel released id on slot? (ids already retired: yes) */
int zc_inflight_id_done_locked(uint32_t slot, uint32_t id);

/* Would the next call on slot fit the window, and has the kernel already
 * released the id it would get? (A failed call that took an id.) */
int zc_inflight_next_id_done_locked(uint32_t slot);

/* The kernel released [lo, hi] (inclusive, wrapping) on slot: mark it.
 * Returns how many ids out became released by this. */
uint32_t zc_inflight_mark_released_locked(uint32_t slot, uint32_t lo, uint32_t hi);

/* Retire the released prefix of slot's window. */
void zc_inflight_advance_locked(uint32_t slot);

/* The socket of (slot, sgen) is going away: calls it has sent can never
 * complete. Their guarded pages become private copies, their bounce slots
 * are orphaned. Calls still being sent are left to their sender. */
void zc_inflight_orphan_slot_locked(uint32_t slot, uint32_t sgen);

/* The distinct live sockets (slots whose generation is still the call's)
 * with sent calls in flight, at most max; returns how many. */
int zc_inflight_sockets_locked(uint32_t *slots, int max);

/* The same, for sent calls whose entries guard a byte of [start, end). */
int zc_inflight_owners_locked(uintptr_t start, uintptr_t end, uint32_t *slots, int max);

/* Does a call in flight (not the idle set) guard a byte of [start, end)? */
int zc_inflight_overlaps_locked(uintptr_t start, uintptr_t end);

/* May bytes of [start, end) be read without SIGBUS (vma.h), given what the
 * table guards? */
int zc_inflight_copyable_locked(uintptr_t start, uintptr_t end);

/* Fork child, before anything else runs (no lock; async-signal-safe):
 * make the child's copies of the calls' guarded pages writable and forget
 * every call; the child's pages are its own. first: as for
 * zc_vma_child_unprotect; returns it for the caller's next range. The
 * idle set is the guard's (zc_guard_child_reset, which calls this). */
int zc_inflight_child_reset(int first);

#endif
