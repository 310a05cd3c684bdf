/*
 * hooks_fd.c - fds appearing and disappearing.
 *
 * Per-socket state follows the fd number in the table, so every way a
 * number can start to mean another socket resets it: close (and dup2/dup3
 * onto it, close_range over it) resolves what was in flight first;
 * socket/accept give a fresh number; connect may change the peer (local or
 * not). setsockopt tells when the program takes the error queue or
 * zerocopy for itself. Numbers reused behind the shim's back (inside the C
 * library: hooks_libc_close.c) are caught by the socket cookie check on the
 * send path.
 */
#include "shim.h"
#include "sock.h"

#include <errno.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void closing(int fd)
{
	if (ZC_UNLIKELY(zc_fd_state(fd) != ZC_FD_UNKNOWN) && zc_ready) {
		int saved = errno;

		zc_sock_forget(fd);
		errno = saved;
	}
}

ZC_EXPORT int close(int fd)
{
	closing(fd);
	return ZC_REAL(close)(fd);
}

ZC_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (zc_ready && !(flags & CLOSE_RANGE_CLOEXEC)) {
		unsigned int stop = last < ZC_FD_MAX ? last : ZC_FD_MAX - 1;

		for (unsigned int fd = first; fd <= stop && fd >= first; fd++)
			closing((int)fd);
	}
	return ZC_REAL(close_range)(first, last, flags);
}

ZC_EXPORT int dup2(int old, int new)
{
	if (old != new)
		closing(new);
	return ZC_REAL(dup2)(old, new);
}

ZC_EXPORT int dup3(int old, int new, int flags)
{
	if (old != new)
		closing(new);
	return ZC_REAL(dup3)(old, new, flags);
}

static int fresh(int fd)
{
	if (fd >= 0 && zc_ready) {
		int saved = errno;

		zc_sock_reset(fd);
		errno = saved;
	}
	return fd;
}

ZC_EXPORT int socket(int domain, int type, int protocol)
{
	return fresh(ZC_REAL(socket)(domain, type, protocol));
}

ZC_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return fresh(ZC_REAL(accept)(fd, addr, len));
}

ZC_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return fresh(ZC_REAL(accept4)(fd, addr, len, flags));
}

ZC_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int r = ZC_REAL(connect)(fd, addr, len);
	int saved = errno;

	/* Classified before connect (an unconnected UDP socket, a TCP
	 * socket not yet connected): look again with the new peer. */
	if (zc_ready && zc_fd_state(fd) != ZC_FD_UNKNOWN) {
		zc_sock_reset(fd);
		errno = saved;
	}
	return r;
}

ZC_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r = ZC_REAL(setsockopt)(fd, level, name, val, len);
	int saved = errno;

	if (zc_ready && r == 0 &&
	    ((level == SOL_SOCKET && (name == SO_ZEROCOPY || name == SO_TIMESTAMPING ||
				      name == SO_TIMESTAMPING_NEW)) ||
	     (level == SOL_IP && name == IP_RECVERR) ||
	     (level == SOL_IPV6 && name == IPV6_RECVERR))) {
		zc_sock_hands_off(fd);
		errno = saved;
	}
	return r;
}
