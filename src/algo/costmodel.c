/*
 * costmodel.c - the guard-once crossover (see costmodel.h).
 */
#include "costmodel.h"

struct zc_cost zc_cost_from_samples(uint64_t pair1_ns, uint64_t pair_n_ns, uint64_t copy_n_ns)
{
	struct zc_cost c;

	c.pair_ns = pair1_ns;
	/* A larger range never costs less to protect; a sample that says so
	 * is noise, and the slope is taken as zero. */
	c.pair_page_ns = pair_n_ns > pair1_ns ? (pair_n_ns - pair1_ns) / (ZC_COST_PAGES - 1) : 0;
	c.copy_page_ns = copy_n_ns / ZC_COST_PAGES;
	return c;
}

uint32_t zc_cost_once_min_pages(const struct zc_cost *c)
{
	uint64_t gain, fixed, p;

	/* pair_ns + (p - 1) * pair_page_ns < p * copy_page_ns
	 * <=> p * (copy_page_ns - pair_page_ns) > pair_ns - pair_page_ns */
	if (c->copy_page_ns <= c->pair_page_ns)
		return ZC_COST_NEVER;
	gain = c->copy_page_ns - c->pair_page_ns;
	fixed = c->pair_ns > c->pair_page_ns ? c->pair_ns - c->pair_page_ns : 0;
	p = fixed / gain;
	return p >= ZC_COST_NEVER - 1 ? ZC_COST_NEVER : (uint32_t)p + 1;
}
