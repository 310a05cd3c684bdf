/*
 * relay.h - notifications a child read for its parent, handed back.
 *
 * A child's poll family reads its parent's zerocopy notifications off an
 * inherited socket (sock.c, theirs_error): without the shim the child
 * would never see them. The parent would then never learn that those
 * calls completed: they would stay counted in flight (the pin budget, the
 * socket's id window) until the socket closed. So the child writes what
 * it read (socket cookie, id range) to a ring in memory shared by every
 * process forked from the one that started the shim, and the process
 * that sends zerocopy on that socket reads the ring when it reads its
 * own notifications. A record is what the kernel said on that socket, so
 * it is trusted as much: the ids of a socket are only ever its one
 * sender's (no child sends zerocopy on a socket it inherited). A record
 * lost (the ring lapped, a writer interrupted) costs the parent only the
 * wait for its buffer, as before. After exec the ring is gone: such
 * children's reads stay lost.
 *
 * Signal-context invariant: both sides run in the fault handler's paths
 * (zc_reap_locked; the poll family's). Memory only, no syscall.
 */
#ifndef ZC_RELAY_H
#define ZC_RELAY_H

#include <stdint.h>

/* Constructor: map the ring (MAP_SHARED: fork children share it). */
void zc_relay_init(void);

/* Child: the kernel reported zerocopy ids [lo, hi] (wrapping) of the
 * socket with this cookie released; copied: its COPIED flag. */
void zc_relay_put(uint64_t cookie, uint32_t lo, uint32_t hi, int copied);

/* Records written since this process last looked? (one load) */
int zc_relay_pending(void);

/* Hand each new record to fn, in order. Lock held. */
void zc_relay_take(void (*fn)(uint64_t cookie, uint32_t lo, uint32_t hi, int copied));

#endif
