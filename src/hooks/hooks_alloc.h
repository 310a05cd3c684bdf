/*
 * hooks_alloc.h - malloc: large blocks on a page boundary (hooks_alloc.c).
 */
#ifndef ZC_HOOKS_ALLOC_H
#define ZC_HOOKS_ALLOC_H

#include <stddef.h>

/* Smallest malloc() size given a page-aligned block; SIZE_MAX: none (before
 * the constructor, and unless ZCSHIM_ALIGN=1). Set by the constructor. */
extern size_t zc_align_min;

/* Blocks of at least this many bytes are worth aligning whatever the
 * threshold: below it, the page that alignment may cost is too much. */
#define ZC_ALIGN_FLOOR (32u * 1024u)

/* ... and below this: glibc's malloc serves blocks from 128 KiB up with
 * mmap once its threshold says so, but its aligned allocations of that
 * size are mapped afresh every time (a block allocated per message: every
 * page faulted in again, 9x slower at 256 KiB, docs/PERF-HISTORY.md). */
#define ZC_ALIGN_CEIL (128u * 1024u)

/* Set zc_align_min from the settings. */
void zc_align_init(void);

/* Was p handed out from the bootstrap arena (malloc while the shim binds
 * its libc functions)? Such blocks are never freed; realloc copies them. */
int zc_boot_owns(const void *p);

/* The size asked for a bootstrap block. */
size_t zc_boot_size(const void *p);

#endif
