/*
 * fastring.h - zerocopy sends of kept buffers without the global lock.
 *
 * A buffer sent again while all its pages are kept read-only (the idle
 * set, extent.h) needs no new protection and no plan: the only record its
 * call needs is one that a write to those pages finds, so that the write
 * waits for the completion or gets a private copy. Its unaligned first and
 * last pages are either kept too (sent in place) or not (their bytes go
 * through a bounce slot, which the record holds until the completion). Such a
 * call is recorded in its socket's ring below, by the one thread sending
 * on the socket (it holds the socket's busy flag), with atomics only. The
 * global lock is taken once per REAP_BATCH sends, to read completions.
 *
 * Which buffer: one whose pages are all in the idle set, looked up without
 * the lock (extent.h, zc_ext_idle_holds_racy) under the set's sequence
 * count.
 *
 * Why the ring's calls are always found: every record under the lock that
 * could decide to make such pages writable starts from the idle set, and
 * every removal from the idle set (guard.c) first raises the set's
 * sequence count and then adopts the ring calls over the removed range
 * into the in-flight table (zc_fast_adopt_locked), where every existing
 * rule (wait, private copy, orphan, fork) applies to them. A sender
 * publishes its call (PENDING) and then reads the count, both sequentially
 * consistent: either the remover's adoption sees the call, or the sender
 * sees the count moved and takes its call back (the locked path decides). The same pairing with the
 * socket's generation covers a close racing the send.
 *
 * States of a ring entry, and who moves it:
 *   FREE -> PENDING           the sender, before its system call;
 *   PENDING -> SENT | FREE    the sender, after it (compare-and-swap);
 *   PENDING | SENT -> TAKEN   an adopter, under the lock (compare-and-swap):
 *                             the in-flight table owns the call from then on,
 *                             and a sender that finds its entry TAKEN
 *                             commits or disarms it there, under the lock;
 *   SENT -> FREE              the completion reader, under the lock, once
 *                             the socket's window says the kernel released
 *                             the id (zc_fast_sweep_locked).
 * TAKEN entries are free for the sender to reuse.
 *
 * Signal-context invariant: zc_fast_adopt_locked and zc_fast_sweep_locked
 * run in the fault handler (through the guard's idle removal and the
 * completion reader): atomics on memory the shim mapped itself, no malloc.
 */
#ifndef ZC_FASTRING_H
#define ZC_FASTRING_H

#include <stddef.h>
#include <stdint.h>

#include "idleset.h"

#define ZC_FAST_RING 32u
/* The most ring calls out in the process, ZC_FAST_RING per socket whose
 * ring is in use (512 sockets): the in-flight table keeps room to adopt
 * them all (inflight.c). */
#define ZC_FAST_TOTAL_MAX 16384u
/* A ring call adopted while PENDING is named in the table by this key
 * plus its ring index (a namespace apart from the bounce slots). */
#define ZC_FAST_KEY0 0x40000000u

enum { ZC_FAST_FREE, ZC_FAST_PENDING, ZC_FAST_SENT, ZC_FAST_TAKEN };

struct zc_fast_call {
	uintptr_t start, end;   /* the pages the kernel reads (whole pages) */
	uint64_t bytes;         /* payload bytes (sent bytes once SENT) */
	uint32_t sgen;          /* the slot's generation at publication */
	uint32_t id;            /* the kernel's id (SENT) */
	uint32_t state;         /* ZC_FAST_* (atomic) */
	uint32_t bounce;        /* bounce slot + 1 for its edges' bytes, or 0 */
	uint32_t own;           /* the entry keeps that slot for its next call
				 * (until the table takes it with a call) */
};

struct zc_fast_sock {
	struct zc_fast_call c[ZC_FAST_RING];
	uint32_t head;          /* the sender's next entry */
	uint32_t live;          /* entries PENDING or SENT (atomic) */
	uint32_t active;        /* counted in the rings the table keeps room for */
	/* Pinned bytes and bytes in flight of its SENT calls, folded into the
	 * process's figures under the lock (a sweep, an adoption): added by
	 * its sender alone (relaxed stores, no locked instruction), what the
	 * lock side folded of that, and what it freed since. */
	uint64_t pin_added, bytes_added;
	uint64_t pin_folded, bytes_folded;
	uint64_t pin_freed, bytes_freed;
	/* The last buffer found kept: pages [kept_start, kept_end) were all
	 * in the idle set when its count was kept_seq (busy holder only). */
	uintptr_t kept_start, kept_end;
	uint32_t kept_seq, kept_sgen;
	struct zc_idle_hint hint;   /* where its last look-up ended */
};

extern uint64_t zc_fast_pin;      /* pinned bytes of SENT ring calls, as last folded (atomic) */

int zc_fast_init(void);

/* The ring of slot (memory reserved for every slot, touched on use). */
struct zc_fast_sock *zc_fast_of(uint32_t slot);

/* The busy holder, without the lock: are the pages [start, end) all in
 * the idle set? Looked up without the lock (the socket's last answer
 * again if the set has not changed since); *seq: the idle set's count
 * the answer holds for, to pass to zc_fast_publish. */
int zc_fast_kept(uint32_t slot, uint32_t sgen, uintptr_t start, uintptr_t end, uint32_t *seq);

/* The busy holder, without the lock: publish a call over [start, end) of
 * bytes payload bytes if the idle set's count is still seq (zc_fast_kept
 * said the range is all idle under it) and the socket is still sgen. If
 * *bounce, the call needs a bounce slot for its edges: *bounce is set to
 * it (the entry's own, kept from call to call, or one taken now; the slot
 * goes with the call until its release), or -1. Returns the entry's
 * index, or -1 if not published: then nothing is out, unless *adopted >=
 * 0: that entry was adopted before it could be taken back, and the caller
 * disarms it under the lock (its table key is zc_fast_key(*adopted); the
 * slot goes back with it). */
int zc_fast_publish(uint32_t slot, uint32_t sgen, uintptr_t start, uintptr_t end,
		    uint32_t seq, uint64_t bytes, int *bounce, int *adopted);

/* The busy holder, without the lock: entry i's call went out under id
 * with sent bytes. Returns 0; 1 if the entry was adopted meanwhile (then
 * commit it under the lock: zc_fast_key), or 2 if the socket was closed
 * meanwhile (then, under the lock, adopt the slot's calls and orphan
 * them). */
int zc_fast_commit(uint32_t slot, int i, uint32_t id, uint64_t sent);

/* The busy holder: entry i's call was not made or failed. Returns 0 if
 * it was taken back (its bounce slot too), 1 if it was adopted (the table
 * has it pending, under zc_fast_key, with its bounce slot). */
int zc_fast_retract(uint32_t slot, int i);

static inline uint32_t zc_fast_key(int i) { return ZC_FAST_KEY0 + (uint32_t)i; }

/* Under the lock: raise the idle set's count, then move every ring call over
 * [start, end) into the in-flight table. Returns 0, or -1 if the table
 * had no room for one (its pages must then stay in the idle set). */
int zc_fast_adopt_locked(uintptr_t start, uintptr_t end);

/* Under the lock: move every ring call of slot's socket of generation
 * sgen into the table (a close). -1 as above. */
int zc_fast_adopt_slot_locked(uint32_t slot, uint32_t sgen);

/* Under the lock: move slot's entry i into the table (its sender's call
 * failed). -1 as above. */
int zc_fast_adopt_one_locked(uint32_t slot, int i);

/* Under the lock: free slot's SENT entries whose id the window says
 * the kernel released. */
void zc_fast_sweep_locked(uint32_t slot);

/* Does slot have ring calls out (a hint)? */
static inline int zc_fast_live(const struct zc_fast_sock *f)
{
	return f && __atomic_load_n(&f->live, __ATOMIC_SEQ_CST) != 0;
}

/* Ring calls out in the process (PENDING or SENT), a hint. */
uint32_t zc_fast_total(void);

/* Fork child: no ring call is the child's. */
void zc_fast_child_reset(void);

#endif
