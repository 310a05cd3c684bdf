/*
 * bounce.c - the bounce slot pool: one mapping, a stack of free slots.
 */
#include "bounce.h"
#include "iovplan.h"
#include "shim.h"
#include "sys.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *pool;
static struct zc_plan *plans;
/*
 * The free slots: two lock-free stacks, small and big (the send path
 * takes a slot before it takes the global lock). head packs the top slot
 * + 1 (0: empty) with a tag bumped on every change, so a slot popped and
 * pushed back between a reader's load and its compare-and-swap is noticed.
 */
static uint64_t head[2];
static uint32_t next_free[ZC_BOUNCE_ALL];   /* slot + 1 below each, 0: none */

#define POOL_BYTES ((size_t)ZC_BOUNCE_SLOT * ZC_BOUNCE_SLOTS + \
		    (size_t)ZC_BOUNCE_BIG_SLOT * ZC_BOUNCE_BIG_SLOTS)

int zc_bounce_init(void)
{
	void *p = zc_sys_mmap(NULL, POOL_BYTES, PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	pool = p;
	p = zc_sys_mmap(NULL, sizeof(struct zc_plan) * ZC_BOUNCE_ALL, PROT_READ | PROT_WRITE,
		        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	plans = p;
	zc_bounce_reset();
	return 0;
}

void zc_bounce_reset(void)
{
	for (uint32_t i = 0; i < ZC_BOUNCE_SLOTS; i++)
		next_free[i] = i + 1 < ZC_BOUNCE_SLOTS ? i + 2 : 0;
	for (uint32_t i = ZC_BOUNCE_SLOTS; i < ZC_BOUNCE_ALL; i++)
		next_free[i] = i + 1 < ZC_BOUNCE_ALL ? i + 2 : 0;
	__atomic_store_n(&head[0], (uint64_t)1, __ATOMIC_RELEASE);   /* slot 0 on top */
	__atomic_store_n(&head[1], (uint64_t)ZC_BOUNCE_SLOTS + 1, __ATOMIC_RELEASE);
}

static int pop(uint64_t *hd)
{
	uint64_t h = __atomic_load_n(hd, __ATOMIC_ACQUIRE), nh;
	uint32_t top;

	if (!pool)
		return -1;
	do {
		top = (uint32_t)h;
		if (!top)
			return -1;
		nh = ((h >> 32) + 1) << 32 | __atomic_load_n(&next_free[top - 1], __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(hd, &h, nh, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return (int)top - 1;
}

int zc_bounce_get(void)
{
	return pop(&head[0]);
}

int zc_bounce_get_big(void)
{
	return pop(&head[1]);
}

static void push(uint32_t slot)
{
	uint64_t *hd = &head[slot >= ZC_BOUNCE_SLOTS];
	uint64_t h = __atomic_load_n(hd, __ATOMIC_ACQUIRE), nh;

	do {
		__atomic_store_n(&next_free[slot], (uint32_t)h, __ATOMIC_RELAXED);
		nh = ((h >> 32) + 1) << 32 | (slot + 1);
	} while (!__atomic_compare_exchange_n(hd, &h, nh, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
}

size_t zc_bounce_cap(int slot)
{
	return (uint32_t)slot < ZC_BOUNCE_SLOTS ? ZC_BOUNCE_SLOT : ZC_BOUNCE_BIG_SLOT;
}

char *zc_bounce_addr(int slot)
{
	if ((uint32_t)slot < ZC_BOUNCE_SLOTS)
		return pool + (size_t)slot * ZC_BOUNCE_SLOT;
	return pool + (size_t)ZC_BOUNCE_SLOT * ZC_BOUNCE_SLOTS +
	       (size_t)(slot - (int)ZC_BOUNCE_SLOTS) * ZC_BOUNCE_BIG_SLOT;
}

struct zc_plan *zc_bounce_plan(int slot)
{
	return &plans[slot];
}

void zc_bounce_put(int slot, int orphaned)
{
	if (slot < 0 || (uint32_t)slot >= ZC_BOUNCE_ALL)
		return;
	if (orphaned) {
		/* Fresh pages over the old ones; if that fails the slot is
		 * never reused (a leak of one slot beats changed bytes). */
		long r = syscall(SYS_mmap, zc_bounce_addr(slot), zc_bounce_cap(slot),
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

		if (r == -1)
			return;
	}
	push((uint32_t)slot);
}
