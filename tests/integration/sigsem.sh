# See sigsem.c: signal masks, SA_RESETHAND, SIGSEGV blocked by the program.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults sigsem
expect_corrupt sigsem
finish
