/*
 * completion.h - reading zerocopy notifications off the error queues of
 * the sockets the shim sends on (completion.c), and handing what they
 * release to the in-flight table (inflight.h).
 *
 * Signal-context invariant: zc_reap_locked and zc_reap_owners_locked run
 * in the SIGSEGV handler (through the guard's reaper pointer): raw
 * recvmsg and the caller's stack only.
 */
#ifndef ZC_COMPLETION_H
#define ZC_COMPLETION_H

#include <stdint.h>

/* Read the error queue of every socket with calls in flight (lock held). */
void zc_reap_all_locked(void);

/* Read the error queue of the sockets whose calls guard pages of
 * [start, end); put into fds (at most max) the ones still holding some,
 * for the caller to wait on (POLLERR). Returns how many. (lock held) */
struct pollfd;
int zc_reap_owners_locked(uintptr_t start, uintptr_t end, struct pollfd *fds, int max);

/* Read slot's error queue and complete what it releases (lock held).
 * Returns how many messages were read off the queue. */
int zc_reap_locked(uint32_t slot);
/* The same, reading at most max messages (0: all). */
int zc_reap_max_locked(uint32_t slot, int max);

/* The program read an error-queue message on fd (recvmsg MSG_ERRQUEUE): if
 * it was the shim's notification, take it and return 1 (the program reads
 * again); 0 if it is the program's own. */
struct msghdr;
int zc_claim_errqueue_entry(int fd, struct msghdr *msg);

/* Give the guard its reaper (guard.h, zc_guard_set_reaper). At start. */
void zc_completion_init(void);

#endif
