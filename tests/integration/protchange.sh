# See protchange.c: no call (pkey_mprotect, mprotect, mmap MAP_FIXED,
# mremap, madvise, raw munmap/mmap) makes the shim give back access the
# program took away, or send from memory it no longer guards.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
# Not under valgrind: it reports each deliberate read of PROT_NONE memory.
wrapped && EXTRA_ENV="PROTCHANGE_NO_NONE_READ=1"
# Records left behind by raw system calls are found out by the kernel
# checks, not trusted (stale_pages); the sends from memory mapped anew
# are guarded (guard_faults).
expect_intact stale_pages,guard_faults protchange
expect_corrupt protchange
finish
