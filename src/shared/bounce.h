/*
 * bounce.h - shim-owned memory for the unaligned head and tail of a send.
 *
 * Bounce bytes go out with MSG_ZEROCOPY in the same call as the program's
 * pages, so a slot stays with its call until the call's completion. A slot
 * whose call can no longer complete (its socket was closed) is "orphaned":
 * fresh pages are mapped over it before reuse, and the kernel keeps the old
 * ones for as long as it needs them.
 */
#ifndef ZC_BOUNCE_H
#define ZC_BOUNCE_H

#include <stddef.h>

#define ZC_BOUNCE_SLOT (16u * 1024u)
#define ZC_BOUNCE_SLOTS 4096u

int zc_bounce_init(void);
/* A free slot, or -1. Lock-free and async-signal-safe. */
int zc_bounce_get(void);
/* Return a slot; orphaned: the kernel may still read it. Lock-free. */
void zc_bounce_put(int slot, int orphaned);
char *zc_bounce_addr(int slot);
/* The send plan of the call holding slot (kept beside it, not on the
 * program's stack, which may be a small signal stack). */
struct zc_plan *zc_bounce_plan(int slot);
/* Every slot free again (fork child). */
void zc_bounce_reset(void);

#endif
