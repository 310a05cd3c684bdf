/*
 * quarantine.c - deferred frees of buffers still in flight (see the header).
 */
#include "quarantine.h"
#include "guard.h"
#include "inflight.h"
#include "shim.h"
#include "sys.h"
#include "stats.h"

#include <sys/mman.h>

#define Q_MAX 8192
#define DRAIN_BATCH 64

struct held {
	void *p;
	uintptr_t start, end;
	int judged;   /* its free was told to the policy already (put) */
};

static struct held *held;       /* [0, zc_quarantine_count), under the lock */
uint32_t zc_quarantine_count;
static uint32_t drained_seq;    /* zc_release_seq at the last drain */

int zc_quarantine_init(void)
{
	void *p = zc_sys_mmap(NULL, Q_MAX * sizeof(struct held), PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	held = p;
	return 0;
}

int zc_quarantine_put(void *p, uintptr_t start, uintptr_t end)
{
	int r, judged;

	zc_lock();
	/* The free is told to the policy once: here if idle pages were
	 * dropped, else when the drain drops those of the calls still out. */
	judged = zc_guard_drop_idle_locked(zc_page_up(start), zc_page_down(end), ZC_DROP_FREED) > 0;
	if (!zc_inflight_overlaps_locked(zc_page_up(start), zc_page_down(end)))
		r = 0;
	else if (!held || zc_quarantine_count >= Q_MAX)
		r = -1;
	else {
		held[zc_quarantine_count].p = p;
		held[zc_quarantine_count].start = start;
		held[zc_quarantine_count].end = end;
		held[zc_quarantine_count].judged = judged;
		__atomic_store_n(&zc_quarantine_count, zc_quarantine_count + 1, __ATOMIC_RELEASE);
		ZC_STAT_ADD(quarantined, 1);
		r = 1;
	}
	zc_unlock();
	return r;
}

void zc_quarantine_drain(void)
{
	void *done[DRAIN_BATCH];
	int n = 0;

	if (!__atomic_load_n(&zc_quarantine_count, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&zc_release_seq, __ATOMIC_RELAXED) ==
		    __atomic_load_n(&drained_seq, __ATOMIC_RELAXED))
		return;
	zc_lock();
	drained_seq = zc_release_seq;
	for (uint32_t i = 0; i < zc_quarantine_count && n < DRAIN_BATCH;) {
		if (zc_inflight_overlaps_locked(zc_page_up(held[i].start),
						zc_page_down(held[i].end))) {
			i++;
			continue;
		}
		/* Released and kept read-only (idle): writable before the
		 * allocator touches it. */
		zc_guard_drop_idle_locked(zc_page_up(held[i].start), zc_page_down(held[i].end),
					  held[i].judged ? 0 : ZC_DROP_FREED);
		done[n++] = held[i].p;
		held[i] = held[zc_quarantine_count - 1];
		__atomic_store_n(&zc_quarantine_count, zc_quarantine_count - 1, __ATOMIC_RELEASE);
	}
	if (n == DRAIN_BATCH)
		drained_seq--;   /* more may be ready: look again next time */
	zc_unlock();
	/* The allocator's free, outside the lock: it may take its own locks
	 * and must never run under ours. */
	for (int i = 0; i < n; i++)
		ZC_REAL(free)(done[i]);
}
