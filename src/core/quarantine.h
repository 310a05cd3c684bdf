/*
 * quarantine.h - freed buffers still in flight wait for their completion.
 *
 * A program frees a reply buffer right after writing it, while the kernel
 * still reads its pages. Handing the chunk back to the allocator at once
 * would let the next allocation write into guarded pages (a fault and a
 * copy, or fresh pages mapped over them and zero-filled on first touch).
 * Instead the free is deferred: the chunk stays allocated, its pages
 * guarded, until the completion releases them; then the shim frees it for
 * the program, warm and whole. Bounded: when the quarantine is full the
 * guarded pages get fresh pages at once (discard) and the chunk is freed.
 */
#ifndef ZC_QUARANTINE_H
#define ZC_QUARANTINE_H

#include <stdint.h>

/* Hold p (a chunk spanning [start, end)) until none of its pages is
 * guarded. Returns 1 if held, 0 if it holds no guarded page (free it now),
 * -1 if the quarantine is full. Takes the lock. */
int zc_quarantine_put(void *p, uintptr_t start, uintptr_t end);

/* Free (with the real free) every held chunk whose pages were released.
 * Never in signal context. Cheap when nothing was released since the last
 * call. */
void zc_quarantine_drain(void);

/* Chunks held now (lock-free read). */
extern uint32_t zc_quarantine_count;

int zc_quarantine_init(void);

#endif
