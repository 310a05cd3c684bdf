/*
 * sendpath.h - the zerocopy send: decide, plan, guard, send, record.
 *
 * Each function returns 1 when it made the call itself (result in *ret,
 * errno as the call left it), or 0 when the wrapper should make the
 * original call unchanged (errno is then as the program left it).
 */
#ifndef ZC_SENDPATH_H
#define ZC_SENDPATH_H

#include <sys/socket.h>
#include <sys/types.h>

/* own: msg and its iovec array are the shim's (the send, sendto and write
 * wrappers build them from their arguments), so only an address in it is
 * the program's to read with care. */
int zc_send_msg(int fd, const struct msghdr *msg, int flags, int own, ssize_t *ret);
int zc_send_mmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, int *ret);

#endif
