/*
 * hooks_read.c - calls in which the kernel writes into program memory.
 *
 * A kernel write into a write-protected page fails with EFAULT instead of
 * faulting into the guard, so a read() into a buffer still in flight would
 * fail (and a socket read could lose data). Before such a call, the shim
 * resolves the overlap exactly as a fault would: wait for the completion up
 * to ZCSHIM_STALL_US, then give the program a private copy.
 *
 * Only the calls below are covered; other kernel writes into a guarded
 * buffer (fstat, getsockopt results, libc-internal reads such as fread's)
 * are listed as a limit in libzcshim(7).
 *
 * The iovec arrays, msghdrs and lengths these calls point to are the
 * program's: the kernel answers a bad pointer there with EFAULT, so the
 * shim reads them in fault probe windows (probe.h) and leaves a bad one
 * for the kernel to report.
 */
#include "completion.h"
#include "guard.h"
#include "probe.h"
#include "shim.h"
#include "sock.h"
#include "stats.h"

#include <errno.h>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* A kernel write into a guarded page fails (EFAULT) with the mprotect
 * backend instead of waiting like the program's own write: so the buffer
 * is resolved first (guard_backend.h, kernel_writes_wait). Under the
 * userfaultfd backend with kernel-fault rights it would wait, but through
 * a fault served by another thread, several per call when it spans calls
 * in flight: resolving it here, in the caller's thread, once, costs less.
 * The kernel's waiting is for what no wrapper sees (fstat, getrandom, raw
 * system calls, the C library's own reads). */
static void before_write_to_addr(uintptr_t a, size_t len)
{
	if (len && a + len > a &&
	    zc_guard_resolve(a, a + len, ZC_RESOLVE_COPY, (uint64_t)zc_cfg.stall_us * 1000u))
		ZC_STAT_ADD(kernel_write_resolves, 1);
}

/* A macro: the address only, so the compiler does not take the buffer
 * (write-only for read()) as read here. */
#define before_write_to(buf, len) before_write_to_addr((uintptr_t)(buf), (len))

static void before_write_to_iov(const struct iovec *iov, int n)
{
	for (int i = 0; iov && i < n; i++) {
		struct iovec v;

		if (zc_probe_read(&v, &iov[i], sizeof v))
			return;
		before_write_to(v.iov_base, v.iov_len);
	}
}

/* For recvfrom: the address buffer's length, if fromlen can be read. */
static void before_write_to_name(const void *from, const socklen_t *fromlen)
{
	socklen_t n;

	if (from && fromlen && !zc_probe_read(&n, fromlen, sizeof n))
		before_write_to(from, n);
}

#define GUARDED() ZC_UNLIKELY(zc_guard_any())

ZC_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (GUARDED())
		before_write_to(buf, n);
	return ZC_REAL(read)(fd, buf, n);
}

ZC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	if (GUARDED())
		before_write_to_iov(iov, n);
	return ZC_REAL(readv)(fd, iov, n);
}

ZC_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (GUARDED())
		before_write_to(buf, n);
	return ZC_REAL(pread)(fd, buf, n, off);
}

ZC_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	if (GUARDED())
		before_write_to(buf, n);
	return ZC_REAL(pread64)(fd, buf, n, off);
}

ZC_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	if (GUARDED())
		before_write_to_iov(iov, n);
	return ZC_REAL(preadv)(fd, iov, n, off);
}

ZC_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
	if (GUARDED())
		before_write_to_iov(iov, n);
	return ZC_REAL(preadv64)(fd, iov, n, off);
}

ZC_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	if (GUARDED())
		before_write_to_iov(iov, n);
	return ZC_REAL(preadv2)(fd, iov, n, off, flags);
}

ZC_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	if (GUARDED())
		before_write_to_iov(iov, n);
	return ZC_REAL(preadv64v2)(fd, iov, n, off, flags);
}

ZC_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (GUARDED())
		before_write_to(buf, n);
	return ZC_REAL(recv)(fd, buf, n, flags);
}

ZC_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
			   socklen_t *fromlen)
{
	if (GUARDED()) {
		before_write_to(buf, n);
		before_write_to_name(from, fromlen);
	}
	return ZC_REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
}

static void before_recvmsg(const struct msghdr *m)
{
	struct msghdr h;

	if (!m || zc_probe_read(&h, m, sizeof h))
		return;
	before_write_to_iov(h.msg_iov, (int)h.msg_iovlen);
	if (h.msg_name)
		before_write_to(h.msg_name, h.msg_namelen);
	if (h.msg_control)
		before_write_to(h.msg_control, h.msg_controllen);
}

/*
 * recvmsg(MSG_ERRQUEUE) by the program on a socket the shim sends zerocopy
 * on: the shim's notifications are read first and never handed to the
 * program; one that arrives in between is taken back and the read done
 * again. The program gets its own entries, or EAGAIN as without the shim.
 */
static ssize_t recv_errqueue(int fd, struct msghdr *m, int flags)
{
	int saved = errno;
	ssize_t r;

	if (zc_fd_state(fd) >= ZC_FD_SLOT0)
		zc_sock_error_is_ours(fd, 0, NULL);
	errno = saved;
	for (int i = 0; i < 64; i++) {
		size_t ctl = 0;

		if (m && zc_probe_read(&ctl, &m->msg_controllen, sizeof ctl))
			return ZC_REAL(recvmsg)(fd, m, flags);   /* EFAULT */
		r = ZC_REAL(recvmsg)(fd, m, flags);
		if (r < 0 || !m || !zc_claim_errqueue_entry(fd, m))
			return r;
		m->msg_controllen = ctl;   /* the shim's: read again */
		errno = saved;
	}
	errno = EAGAIN;
	return -1;
}

ZC_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (GUARDED())
		before_recvmsg(m);
	if (ZC_UNLIKELY(flags & MSG_ERRQUEUE) && zc_ready &&
	    __atomic_load_n(&zc_live_zc, __ATOMIC_RELAXED))
		return recv_errqueue(fd, m, flags);
	return ZC_REAL(recvmsg)(fd, m, flags);
}

ZC_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
		       struct timespec *timeout)
{
	if (GUARDED())
		for (unsigned i = 0; vec && i < vlen; i++)
			before_recvmsg(&vec[i].msg_hdr);
	return ZC_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
}

/* _FORTIFY_SOURCE builds call these instead (declared here: the headers
 * declare them only in fortified builds). */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);

ZC_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (GUARDED() && n <= buflen)
		before_write_to(buf, n);
	return ZC_REAL(__read_chk)(fd, buf, n, buflen);
}

ZC_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (GUARDED() && n <= buflen)
		before_write_to(buf, n);
	return ZC_REAL(__pread_chk)(fd, buf, n, off, buflen);
}

ZC_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	if (GUARDED() && n <= buflen)
		before_write_to(buf, n);
	return ZC_REAL(__pread64_chk)(fd, buf, n, off, buflen);
}

ZC_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (GUARDED() && n <= buflen)
		before_write_to(buf, n);
	return ZC_REAL(__recv_chk)(fd, buf, n, buflen, flags);
}

ZC_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	if (GUARDED() && n <= buflen) {
		before_write_to(buf, n);
		before_write_to_name(from, fromlen);
	}
	return ZC_REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, from, fromlen);
}
