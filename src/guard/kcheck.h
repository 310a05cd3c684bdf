/*
 * kcheck.h - ask the kernel what a range of memory is now.
 *
 * The shim's records about memory (calls in flight, the idle set, the VMA
 * cache) can outlive the memory they describe: a raw munmap/mmap system
 * call, or one made inside the C library (ld.so, say), changes mappings
 * without passing through a wrapper. So no record alone may decide to
 * give write permission back, to copy pages over, or that a send is
 * already guarded: these ask the kernel first.
 *
 * MADV_POPULATE_READ / MADV_POPULATE_WRITE (Linux 5.14) fault pages in
 * without changing their content, and fail on a hole (ENOMEM) or on a page
 * the access is not allowed to (EINVAL, EFAULT). What they cannot tell is
 * whose a read-only page is: the guard's protection, or a read-only
 * mapping the program put there with a raw system call (see RELIABILITY.md).
 *
 * Async-signal-safe: raw syscalls only (the fault handler uses them).
 */
#ifndef ZC_KCHECK_H
#define ZC_KCHECK_H

#include <stdint.h>

/* Does this kernel answer? Once, from the constructor. */
void zc_kcheck_init(void);

/* 1: every page of [start, end) is mapped and readable now; 0: not;
 * -1: the kernel cannot say (before 5.14). */
int zc_kcheck_readable(uintptr_t start, uintptr_t end);

/* 1: every page of [start, end) is mapped and writable now; 0: not (a
 * hole, or a mapping that is not writable: only the first such mapping is
 * looked at); -1: the kernel cannot say. */
int zc_kcheck_writable(uintptr_t start, uintptr_t end);

#endif
