/*
 * check_main.c - run every unit test suite and summarise the result.
 *
 * The last line of output is "N passed, N failed"; the exit status is
 * EXIT_FAILURE when any test failed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(idwin_suite());
	int run, failed;

	srunner_add_suite(sr, extent_suite());
	srunner_add_suite(sr, iovplan_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, vma_suite());
	srunner_add_suite(sr, costmodel_suite());
	srunner_add_suite(sr, policy_suite());

	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	printf("%d passed, %d failed\n", run - failed, failed);
	fflush(stdout);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
