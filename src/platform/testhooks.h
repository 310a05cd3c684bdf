/*
 * testhooks.h - the ZCSHIM_TEST_* knobs, which exist only in the test build.
 *
 * The tests need to turn the guard off (to show a program really sees
 * corruption without it), to hold critical sections open, to signal in the
 * middle of a bounce copy, to hold the userfaultfd guard's reports between
 * the kernel's release of the reporting thread and their queueing, and to
 * run the handlers without the alternate stack under valgrind. None of that belongs in the library a program is
 * run with: the test build (tests/libzcshim-test.la, compiled from the same
 * sources with -DZC_TEST_HOOKS, never installed) has the knobs; in the
 * release build (src/libzcshim.la) each reads as the constant 0, so the
 * compiler drops the code behind it, the hot paths keep no branch for it,
 * and the library has neither the settings nor their names
 * (tests/integration/release.sh checks both builds).
 */
#ifndef ZC_TESTHOOKS_H
#define ZC_TESTHOOKS_H

#ifdef ZC_TEST_HOOKS
#define zc_test_no_guard() (zc_cfg.test_no_guard)
#define zc_test_no_altstack() (zc_cfg.test_no_altstack)
#define zc_test_hold_us() (zc_cfg.test_hold_us)
#define zc_test_copy_signal() (zc_cfg.test_copy_signal)
#define zc_test_reader_delay_us() (zc_cfg.test_reader_delay_us)
#else
#define zc_test_no_guard() 0
#define zc_test_no_altstack() 0
#define zc_test_hold_us() 0u
#define zc_test_copy_signal() 0
#define zc_test_reader_delay_us() 0u
#endif

#endif
