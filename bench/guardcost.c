/*
 * guardcost - what the guard's operations cost on this machine: the
 * numbers behind ZCSHIM_STALL_US's default (docs/DESIGN.md).
 *
 * For 1, 15 and 64 pages: a PROT_READ/PROT_READ|PROT_WRITE mprotect pair,
 * a private copy swapped in (mmap + memcpy + mremap, what the guard does
 * on a late completion), and a plain memcpy of the same size. Median of
 * many runs, in microseconds.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define RUNS 301

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof *v, cmp);
	return v[RUNS / 2];
}

int main(void)
{
	static const size_t pages[] = { 1, 15, 64 };
	double t[RUNS];

	printf("%-6s %14s %14s %14s\n", "pages", "mprotect pair", "private copy", "memcpy");
	for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
		size_t len = pages[k] * 4096;
		char *region = mmap(NULL, len * 4, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *buf = region + len, *dst = malloc(len);
		double mp, cow, cpy;

		memset(region, 1, len * 4);
		for (int i = 0; i < RUNS; i++) {
			double a = now_us();

			mprotect(buf, len, PROT_READ);
			mprotect(buf, len, PROT_READ | PROT_WRITE);
			t[i] = now_us() - a;
		}
		mp = median(t);
		for (int i = 0; i < RUNS; i++) {
			double a;
			char *tmp;

			mprotect(buf, len, PROT_READ);
			a = now_us();
			tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				   -1, 0);
			memcpy(tmp, buf, len);
			mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, buf);
			t[i] = now_us() - a;
			buf[0]++;
		}
		cow = median(t);
		for (int i = 0; i < RUNS; i++) {
			double a = now_us();

			memcpy(dst, buf, len);
			__asm__ volatile("" ::: "memory");
			t[i] = now_us() - a;
		}
		cpy = median(t);
		printf("%-6zu %11.1f us %11.1f us %11.1f us\n", pages[k], mp, cow, cpy);
		free(dst);
		munmap(region, len * 4);
	}
	return 0;
}
