/*
 * costmodel.h - when is guarding a send once cheaper than copying it?
 *
 * A send whose pages are not read-only yet, and will not be kept read-only
 * after it (a buffer sent once, or no room left in the idle set), pays a
 * full guard cycle for that send alone: two mprotect calls, each a fixed
 * cost plus a cost per page. Copying it costs a cost per page. So guarding
 * pays from some number of pages on, or never if a page costs more to
 * protect and release than to copy. The numbers are measured on the running
 * machine (calibrate.c); this file is the arithmetic, kept pure for the
 * unit tests.
 */
#ifndef ZC_COSTMODEL_H
#define ZC_COSTMODEL_H

#include <stdint.h>

/* Pages measured by the calibration for the per-page slopes. */
#define ZC_COST_PAGES 16u

/* No number of pages pays for a single guard cycle. */
#define ZC_COST_NEVER UINT32_MAX

struct zc_cost {
	uint64_t pair_ns;        /* protect + unprotect of one page */
	uint64_t pair_page_ns;   /* what each further page adds to that pair */
	uint64_t copy_page_ns;   /* copying one page */
};

/* From the measured pair of one page, pair of ZC_COST_PAGES pages and
 * copy of ZC_COST_PAGES pages (ns), the model's three costs. */
struct zc_cost zc_cost_from_samples(uint64_t pair1_ns, uint64_t pair_n_ns, uint64_t copy_n_ns);

/* The fewest pages for which one guard cycle costs less than the copy:
 * pair_ns + (p - 1) * pair_page_ns < p * copy_page_ns. ZC_COST_NEVER if no
 * p does. */
uint32_t zc_cost_once_min_pages(const struct zc_cost *c);

#endif
