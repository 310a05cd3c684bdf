/*
 * relay.c - the ring of notifications children read for their parents
 * (see relay.h).
 *
 * Writers (any process of the tree, any thread) take a sequence number
 * with one atomic add and fill the record it names; the record's seq is
 * written last. A reader keeps its own position (private memory, so each
 * process of the tree reads every record; each acts only on sockets it
 * sends on) and takes a record only if its seq reads the same before and
 * after the copy: a record being written, or overwritten by a writer a
 * lap ahead, is skipped (lost: only a wait for the parent).
 */
#include "relay.h"
#include "shim.h"
#include "sys.h"

#include <sys/mman.h>

#define RELAY_RECORDS 4096u   /* 96 KiB */

struct relay_rec {
	uint64_t seq;      /* number + 1 of the record held; 0 while written */
	uint64_t cookie;
	uint32_t lo, hi;
	uint32_t copied;
	uint32_t pad;
};

struct relay {
	uint64_t head;     /* records ever taken (atomic) */
	char pad[56];
	struct relay_rec rec[RELAY_RECORDS];
};

static struct relay *ring;
static uint64_t seen;   /* this process: records looked at */

void zc_relay_init(void)
{
	void *p = zc_sys_mmap(NULL, sizeof *ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		              -1, 0);

	if (p != MAP_FAILED)
		ring = p;   /* else: children's reads are lost, as after exec */
	seen = 0;
}

void zc_relay_put(uint64_t cookie, uint32_t lo, uint32_t hi, int copied)
{
	struct relay_rec *r;
	uint64_t n;

	if (!ring)
		return;
	n = __atomic_fetch_add(&ring->head, 1, __ATOMIC_ACQ_REL);
	r = &ring->rec[n % RELAY_RECORDS];
	__atomic_store_n(&r->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&r->cookie, cookie, __ATOMIC_RELAXED);
	__atomic_store_n(&r->lo, lo, __ATOMIC_RELAXED);
	__atomic_store_n(&r->hi, hi, __ATOMIC_RELAXED);
	__atomic_store_n(&r->copied, (uint32_t)copied, __ATOMIC_RELAXED);
	__atomic_store_n(&r->seq, n + 1, __ATOMIC_RELEASE);
}

int zc_relay_pending(void)
{
	return ring && __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) != seen;
}

void zc_relay_take(void (*fn)(uint64_t cookie, uint32_t lo, uint32_t hi, int copied))
{
	uint64_t head;

	if (!ring)
		return;
	head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	if (head - seen > RELAY_RECORDS)
		seen = head - RELAY_RECORDS;   /* lapped: the older ones are gone */
	for (; seen != head; seen++) {
		struct relay_rec *r = &ring->rec[seen % RELAY_RECORDS];
		uint64_t s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE), cookie;
		uint32_t lo, hi, copied;

		if (s1 != seen + 1)
			continue;   /* being written, or overwritten: lost */
		cookie = __atomic_load_n(&r->cookie, __ATOMIC_RELAXED);
		lo = __atomic_load_n(&r->lo, __ATOMIC_RELAXED);
		hi = __atomic_load_n(&r->hi, __ATOMIC_RELAXED);
		copied = __atomic_load_n(&r->copied, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&r->seq, __ATOMIC_RELAXED) != s1)
			continue;
		fn(cookie, lo, hi, (int)copied);
	}
}
