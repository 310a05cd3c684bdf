/*
 * calibrate.c - measure what the cost model (costmodel.h) needs: an
 * mprotect pair on one page and on ZC_COST_PAGES pages, and a copy of
 * ZC_COST_PAGES pages, each the best of a few tries (the machine is
 * shared: a try that lost the CPU says nothing about the cost).
 *
 * The pages are the shim's own: a private mapping with a page on each side
 * of the measured range, so each pair splits and merges a mapping as the
 * guard does in the middle of a program's heap. The copy is from memory
 * just written, in cache: a kernel copy of a program's buffer is no
 * cheaper, so the model leans towards copying when in doubt.
 */
#include "calibrate.h"
#include "costmodel.h"
#include "shim.h"
#include "stats.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TRIES 5

int zc_calib_state;   /* 0: not measured, 1: being measured, 2: done */
static struct zc_cost cost;
static uint32_t once_min = ZC_COST_NEVER;

static uint64_t pair_ns(char *p, size_t len)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < TRIES; i++) {
		uint64_t t0 = zc_now_ns(), t;

		if (syscall(SYS_mprotect, p, len, PROT_READ) ||
		    syscall(SYS_mprotect, p, len, PROT_READ | PROT_WRITE))
			return 0;
		t = zc_now_ns() - t0;
		best = t < best ? t : best;
	}
	return best;
}

static uint64_t copy_ns(char *dst, const char *src, size_t len)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < TRIES; i++) {
		uint64_t t0 = zc_now_ns(), t;

		memcpy(dst, src, len);
		__asm__ volatile("" : : "r"(dst) : "memory");   /* the copy is the point */
		t = zc_now_ns() - t0;
		best = t < best ? t : best;
	}
	return best;
}

void zc_calib_publish(void)
{
	if (!zc_calibrated())
		return;
	__atomic_store_n(&zc_stats.cost_pair_ns, cost.pair_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&zc_stats.cost_pair_page_ns, cost.pair_page_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&zc_stats.cost_copy_page_ns, cost.copy_page_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&zc_stats.guard_once_min_pages,
			 once_min == ZC_COST_NEVER ? 0 : (uint64_t)once_min, __ATOMIC_RELAXED);
}

void zc_calibrate(void)
{
	int idle = 0;
	size_t n = (size_t)ZC_COST_PAGES * zc_page;
	/* [page][src: n][page][dst: n][page] */
	size_t len = 2 * n + 3 * zc_page;
	long m;
	char *src, *dst;
	uint64_t p1, pn, cn, t0;

	if (!__atomic_compare_exchange_n(&zc_calib_state, &idle, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	t0 = zc_now_ns();
	m = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == -1) {
		/* No memory to measure with: copy such sends. A copy is
		 * always correct and costs a memcpy of the send; what the
		 * guard would cost is what could not be measured. */
		__atomic_store_n(&zc_calib_state, 2, __ATOMIC_RELEASE);
		return;
	}
	src = (char *)m + zc_page;
	dst = src + n + zc_page;
	memset((char *)m, 1, len);   /* every page present, as a program's buffer is */
	p1 = pair_ns(src, zc_page);
	pn = pair_ns(src, n);
	cn = copy_ns(dst, src, n);
	syscall(SYS_munmap, (void *)m, len);
	if (p1 && pn) {
		cost = zc_cost_from_samples(p1, pn, cn);
		once_min = zc_cost_once_min_pages(&cost);
	}
	__atomic_store_n(&zc_calib_state, 2, __ATOMIC_RELEASE);
	zc_calib_publish();
	t0 = (zc_now_ns() - t0) / 1000;
	if (once_min == ZC_COST_NEVER)
		zc_debug("cost model (measured in %llu us): mprotect pair %llu ns + %llu ns/page, "
			 "copy %llu ns/page: a send guarded for itself alone never pays; such sends "
			 "are copied", (unsigned long long)t0, (unsigned long long)cost.pair_ns,
			 (unsigned long long)cost.pair_page_ns, (unsigned long long)cost.copy_page_ns);
	else
		zc_debug("cost model (measured in %llu us): mprotect pair %llu ns + %llu ns/page, "
			 "copy %llu ns/page: a send guarded for itself alone pays from %u pages",
			 (unsigned long long)t0, (unsigned long long)cost.pair_ns,
			 (unsigned long long)cost.pair_page_ns, (unsigned long long)cost.copy_page_ns,
			 once_min);
}

uint32_t zc_calib_once_min_pages(void)
{
	return zc_calibrated() ? once_min : ZC_COST_NEVER;
}
