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

/* Slots of two sizes. A call's unaligned ends fit a small slot; a call
 * with more to copy (pieces in memory the guard cannot take, or the ends
 * of many iovecs: a large memcached reply is one iovec per 512 KiB chunk,
 * each with a head and a tail) takes a big one. The mappings are
 * MAP_NORESERVE: a slot costs memory once its pages are written. */
#define ZC_BOUNCE_SLOT (16u * 1024u)
#define ZC_BOUNCE_SLOTS 4096u
#define ZC_BOUNCE_BIG_SLOT (1024u * 1024u)
#define ZC_BOUNCE_BIG_SLOTS 128u
#define ZC_BOUNCE_ALL (ZC_BOUNCE_SLOTS + ZC_BOUNCE_BIG_SLOTS)

int zc_bounce_init(void);
/* A free small slot (zc_bounce_get) or big one (zc_bounce_get_big), or
 * -1. Lock-free and async-signal-safe. */
int zc_bounce_get(void);
int zc_bounce_get_big(void);
/* The bytes slot holds. */
size_t zc_bounce_cap(int slot);
/* Return a slot; orphaned: the kernel may still read it. Lock-free. */
void zc_bounce_put(int slot, int orphaned);
char *zc_bounce_addr(int slot);
/* The send plan of the call holding slot (kept beside it, not on the
 * program's stack, which may be a small signal stack). */
struct zc_plan *zc_bounce_plan(int slot);
/* Every slot free again (fork child). */
void zc_bounce_reset(void);

#endif
