/*
 * check_costmodel.c - the guard-once crossover (costmodel.c): the costs
 * taken from the calibration's samples, the fewest pages for which one
 * guard cycle beats a copy (exact at the boundary), "never" when a page
 * costs more to protect than to copy, and samples that contradict each
 * other (a larger range measured cheaper: noise).
 */
#include <stdint.h>

#include "costmodel.h"
#include "suites.h"

START_TEST(test_from_samples)
{
	/* 1 page 7000 ns, N pages 7000 + (N - 1) * 250, copy of N pages N * 130 */
	struct zc_cost c = zc_cost_from_samples(7000, 7000 + (ZC_COST_PAGES - 1) * 250,
						 ZC_COST_PAGES * 130);

	ck_assert_uint_eq(c.pair_ns, 7000);
	ck_assert_uint_eq(c.pair_page_ns, 250);
	ck_assert_uint_eq(c.copy_page_ns, 130);
	/* The measurements of this project's machines: protecting a page
	 * costs more than copying it, so no size pays for one cycle. */
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), ZC_COST_NEVER);
}
END_TEST

START_TEST(test_noisy_slope)
{
	/* N pages measured cheaper than one: the slope is zero, not huge. */
	struct zc_cost c = zc_cost_from_samples(5000, 4000, ZC_COST_PAGES * 100);

	ck_assert_uint_eq(c.pair_page_ns, 0);
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), 51);   /* 5000 / 100 + 1 */
}
END_TEST

START_TEST(test_crossover_exact)
{
	/* Cheap protection (bare metal): pair 1000 ns + 10 ns/page, copy
	 * 60 ns/page. 1000 + (p - 1) * 10 < 60 p  <=>  p > 19.8: from 20. */
	struct zc_cost c = { .pair_ns = 1000, .pair_page_ns = 10, .copy_page_ns = 60 };
	uint32_t p = zc_cost_once_min_pages(&c);

	ck_assert_uint_eq(p, 20);
	ck_assert(c.pair_ns + (p - 1) * c.pair_page_ns < p * c.copy_page_ns);
	ck_assert(!(c.pair_ns + (p - 2) * c.pair_page_ns < (p - 1) * c.copy_page_ns));

	/* A boundary that divides evenly: 990 = 18 * 55, so 18 pages tie
	 * (no gain) and 19 win. */
	c.pair_ns = 1000;
	c.pair_page_ns = 10;
	c.copy_page_ns = 65;
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), 19);
}
END_TEST

START_TEST(test_never_and_free)
{
	struct zc_cost c = { .pair_ns = 1000, .pair_page_ns = 60, .copy_page_ns = 60 };

	ck_assert_uint_eq(zc_cost_once_min_pages(&c), ZC_COST_NEVER);   /* a tie never pays */
	c.copy_page_ns = 0;
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), ZC_COST_NEVER);
	/* A pair no dearer than its pages: one page already pays. */
	c.pair_ns = 5;
	c.pair_page_ns = 5;
	c.copy_page_ns = 6;
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), 1);
	/* A huge fixed cost against a tiny gain saturates at "never". */
	c.pair_ns = UINT64_MAX;
	c.pair_page_ns = 0;
	c.copy_page_ns = 1;
	ck_assert_uint_eq(zc_cost_once_min_pages(&c), ZC_COST_NEVER);
}
END_TEST

Suite *costmodel_suite(void)
{
	Suite *s = suite_create("costmodel");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_from_samples);
	tcase_add_test(tc, test_noisy_slope);
	tcase_add_test(tc, test_crossover_exact);
	tcase_add_test(tc, test_never_and_free);
	suite_add_tcase(s, tc);
	return s;
}
