/*
 * idleset - what the idle set (src/algo/idleset.c, through extent.c's
 * zc_ext_idle_* calls) costs at content-cache sizes, with no shim around it:
 *
 *   idleset N ordered|random
 *
 * N ranges of two pages, a page apart, added in address order or in a
 * random order (buffers kept as a cache happens to send them); then 20,000
 * "churns" (a random range taken, as a write or free of its buffer does,
 * and added again, as its next send keeps it); then 1,000,000 look-ups of
 * random ranges (what every send of a kept buffer does a few times).
 * Prints nanoseconds per operation of each kind. The global lock is held
 * around all of these in the shim: their cost is every thread's wait.
 * Built and run by scripts/bench-idleset.
 */
#include "extent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG 4096u

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static uintptr_t range_at(uint32_t i)
{
	return (uintptr_t)PG + (uintptr_t)i * 3u * PG;
}

int main(int argc, char **argv)
{
	static struct zc_ext_table t;
	struct zc_ext_range out[4];
	uint32_t n, *order, seed = 1;
	int random_order;
	double t0, t1, t2, t3;
	long found = 0;
	void *mem;

	if (argc != 3 || (strcmp(argv[2], "ordered") && strcmp(argv[2], "random"))) {
		fprintf(stderr, "usage: idleset N ordered|random\n");
		return 2;
	}
	n = (uint32_t)strtoul(argv[1], NULL, 10);
	random_order = !strcmp(argv[2], "random");
	/* Room for more than it holds, as in the shim (a million). */
	mem = calloc(1, zc_idle_bytes(n + n / 8));
	order = malloc((size_t)n * sizeof *order);
	if (!n || !mem || !order)
		return 1;
	zc_idle_setup(&t.idle, mem, n + n / 8);
	t.idle_cap = n + n / 8;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (uint32_t i = n - 1; random_order && i > 0; i--) {
		uint32_t j = lcg(&seed) % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	t0 = now();
	for (uint32_t i = 0; i < n; i++)
		if (zc_ext_idle_add(&t, range_at(order[i]), range_at(order[i]) + 2 * PG))
			return 1;
	t1 = now();
	for (uint32_t k = 0; k < 20000; k++) {
		uintptr_t a = range_at(lcg(&seed) % n);

		zc_ext_idle_take(&t, a, a + PG, out, 4);
		zc_ext_idle_add(&t, a, a + 2 * PG);
	}
	t2 = now();
	for (uint32_t k = 0; k < 1000000; k++)
		found += zc_ext_idle_get(&t, range_at(lcg(&seed) % n)) != NULL;
	t3 = now();
	if (found != 1000000 || zc_ext_nidle(&t) != n) {
		fprintf(stderr, "idleset: the set lost ranges (%ld found, %u held)\n", found,
			zc_ext_nidle(&t));
		return 1;
	}
	printf("idleset %u %s add %.0f churn %.0f lookup %.0f\n", n, argv[2],
	       (t1 - t0) / n * 1e9, (t2 - t1) / 20000 * 1e9, (t3 - t2) / 1e6 * 1e9);
	return 0;
}
