/*
 * hooks_fd.c - fds appearing and disappearing.
 *
 * Per-socket state follows the socket (its slot lists the socket's fds),
 * so every way a number can start to mean another socket resets it: close
 * (and close_range over it) resolves what was in flight first, unless
 * another fd of the socket stays open; dup2/dup3 onto it do the same once
 * they have succeeded; socket/accept give a fresh number; dup, dup2, dup3
 * and fcntl(F_DUPFD) add an fd to the socket's slot; connect may change
 * the peer (local or not), never the socket's calls in flight. setsockopt
 * tells when the program takes the error queue or zerocopy for itself:
 * the socket becomes its own once the shim's calls on it have completed. Numbers reused behind the shim's back (inside the C
 * library: hooks_libc_close.c) are caught by the socket cookie check on the
 * send path.
 */
#include "shim.h"
#include "sock.h"
#include "guard_backend.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

/* The guard's userfaultfd (guard_uffd.c) is not the program's: closing it
 * would end the guard's registrations with sends in flight. A number the
 * program closes or reuses is moved out of its way first, and the program
 * sees what it would without the shim (close: EBADF, nothing was open). */
static inline int guard_fd(int fd)
{
	if (ZC_LIKELY(fd != zc_uffd_fd()) || fd < 0)
		return 0;
	zc_uffd_fd_closing(fd);
	return fd != zc_uffd_fd();
}

ZC_EXPORT int close(int fd)
{
	if (ZC_UNLIKELY(guard_fd(fd))) {
		zc_sys_close(fd);
		errno = EBADF;
		return -1;
	}
	closing(fd);
	return ZC_REAL(close)(fd);
}

ZC_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	/* Arguments the kernel refuses (EINVAL) close nothing. */
	if (zc_ready && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last &&
	    !(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))) {
		unsigned int stop = last < ZC_FD_MAX ? last : ZC_FD_MAX - 1;

		for (unsigned int fd = first; fd <= stop && fd >= first; fd++)
			closing((int)fd);
	}
	return ZC_REAL(close_range)(first, last, flags);
}

/* fd2 is a new fd of fd's file. */
static int duplicated(int fd, int fd2)
{
	if (fd2 >= 0 && zc_ready) {
		int saved = errno;

		zc_sock_dup(fd, fd2);
		errno = saved;
	}
	return fd2;
}

ZC_EXPORT int dup(int fd)
{
	return duplicated(fd, ZC_REAL(dup)(fd));
}

/* dup2 and dup3 onto a socket the shim manages: whether new is replaced
 * is known only after the call (a bad old fd, bad flags: nothing
 * happens), so the socket's calls are resolved then, through a private fd
 * of the socket if new was its last (zc_sock_replace_begin). */
static int replace(int old, int new, int flags, int three)
{
	uint32_t slot = UINT32_MAX, gen = 0;
	int hold = -1, r, saved;

	if (zc_ready && old != new && zc_fd_state(new) >= ZC_FD_SLOT0) {
		saved = errno;
		hold = zc_sock_replace_begin(new, old, &slot, &gen);
		errno = saved;
	}
	if (ZC_UNLIKELY(guard_fd(new)))
		zc_sys_close(new);
	r = three ? ZC_REAL(dup3)(old, new, flags) : ZC_REAL(dup2)(old, new);
	if (!zc_ready)
		return r;
	saved = errno;
	zc_sock_replace_end(new, hold, slot, gen, r >= 0);
	if (r >= 0 && old != new)
		zc_sock_dup(old, new);
	errno = saved;
	return r;
}

ZC_EXPORT int dup2(int old, int new)
{
	return replace(old, new, 0, 0);
}

ZC_EXPORT int dup3(int old, int new, int flags)
{
	return replace(old, new, flags, 1);
}

/* fcntl's third argument is an int or a pointer, by command: passed on
 * as a pointer-sized value, as the C library does. */
static int fcntl_common(int fd, int cmd, void *arg, int (*real)(int, int, ...))
{
	int r = real(fd, cmd, arg);

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		duplicated(fd, r);
	return r;
}

ZC_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, ZC_REAL(fcntl));
}

ZC_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, ZC_REAL(fcntl64));
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

	/* A socket the shim manages keeps its calls in flight whatever
	 * connect() does (EISCONN, a new peer, AF_UNSPEC): the kernel numbers
	 * them per socket. Its peer is looked at again before the next
	 * zerocopy send. Other sockets classified before (a local peer) are
	 * looked at afresh if the peer may have changed. */
	if (zc_ready && zc_fd_state(fd) != ZC_FD_UNKNOWN) {
		zc_sock_connected(fd, r == 0 || saved == EINPROGRESS);
		errno = saved;
	}
	return r;
}

/* Options that give the program the socket's error queue or zerocopy. */
static int takes_errqueue(int level, int name)
{
	return (level == SOL_SOCKET && (name == SO_ZEROCOPY || name == SO_TIMESTAMPING ||
					name == SO_TIMESTAMPING_NEW)) ||
	       (level == SOL_IP && name == IP_RECVERR) || (level == SOL_IPV6 && name == IPV6_RECVERR);
}

ZC_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct zc_handoff h;
	int r, saved;

	if (!zc_ready || !takes_errqueue(level, name))
		return ZC_REAL(setsockopt)(fd, level, name, val, len);
	saved = errno;
	h = zc_sock_handoff_begin(fd, level, name);
	errno = saved;
	r = ZC_REAL(setsockopt)(fd, level, name, val, len);
	saved = errno;
	zc_sock_handoff_end(fd, h, r == 0);
	errno = saved;
	return r;
}
