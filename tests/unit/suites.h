/*
 * suites.h - the unit test suites check_main.c runs, one per source file.
 */
#ifndef ZC_TEST_SUITES_H
#define ZC_TEST_SUITES_H

#include <check.h>

Suite *idwin_suite(void);
Suite *extent_suite(void);
Suite *iovplan_suite(void);
Suite *config_suite(void);
Suite *stats_suite(void);
Suite *vma_suite(void);
Suite *costmodel_suite(void);
Suite *policy_suite(void);

#endif
