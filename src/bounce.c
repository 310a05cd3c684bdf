/*
 * bounce.c - the bounce slot pool: one mapping, a stack of free slots.
 */
#include "bounce.h"
#include "iovplan.h"
#include "shim.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *pool;
static struct zc_plan *plans;
static uint32_t free_stack[ZC_BOUNCE_SLOTS];
static uint32_t nfree;

int zc_bounce_init(void)
{
	void *p = mmap(NULL, (size_t)ZC_BOUNCE_SLOT * ZC_BOUNCE_SLOTS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	pool = p;
	p = mmap(NULL, sizeof(struct zc_plan) * ZC_BOUNCE_SLOTS, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	plans = p;
	zc_bounce_reset();
	return 0;
}

void zc_bounce_reset(void)
{
	nfree = 0;
	for (uint32_t i = ZC_BOUNCE_SLOTS; i-- > 0;)
		free_stack[nfree++] = i;
}

int zc_bounce_get(void)
{
	if (!pool || !nfree)
		return -1;
	return (int)free_stack[--nfree];
}

char *zc_bounce_addr(int slot)
{
	return pool + (size_t)slot * ZC_BOUNCE_SLOT;
}

struct zc_plan *zc_bounce_plan(int slot)
{
	return &plans[slot];
}

void zc_bounce_put(int slot, int orphaned)
{
	if (slot < 0 || (uint32_t)slot >= ZC_BOUNCE_SLOTS)
		return;
	if (orphaned) {
		/* Fresh pages over the old ones; if that fails the slot is
		 * never reused (a leak of 16 KiB beats changed bytes). */
		long r = syscall(SYS_mmap, zc_bounce_addr(slot), (size_t)ZC_BOUNCE_SLOT,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

		if (r == -1)
			return;
	}
	free_stack[nfree++] = (uint32_t)slot;
}
