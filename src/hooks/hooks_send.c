/*
 * hooks_send.c - the send family, as the program calls it.
 *
 * No logic here: a call below the threshold (or before the shim is ready)
 * goes straight to libc after one compare; a large one is offered to the
 * send path, which either makes it (zerocopy) or hands it back unchanged.
 * Nothing here reads the program's msghdr or iovec array: a bad pointer
 * there gets EFAULT from the kernel, and the send path reads them under
 * its fault probe (sendpath.c, read_msg).
 */
#include "sendpath.h"
#include "shim.h"

#include <sys/socket.h>
#include <sys/uio.h>

#define SMALL(n) (ZC_LIKELY((size_t)(n) < zc_cfg.threshold) || ZC_UNLIKELY(!zc_ready))

ZC_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (SMALL(len) || !zc_send_msg(fd, &m, flags, 1, &r))
		return ZC_REAL(send)(fd, buf, len, flags);
	return r;
}

ZC_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
			    .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (SMALL(len) || !zc_send_msg(fd, &m, flags, 1, &r))
		return ZC_REAL(sendto)(fd, buf, len, flags, to, tolen);
	return r;
}

ZC_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r;

	if (ZC_UNLIKELY(!zc_ready) || !msg || !zc_send_msg(fd, msg, flags, 0, &r))
		return ZC_REAL(sendmsg)(fd, msg, flags);
	return r;
}

ZC_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	int r;

	if (ZC_UNLIKELY(!zc_ready) || !vec || !zc_send_mmsg(fd, vec, vlen, flags, &r))
		return ZC_REAL(sendmmsg)(fd, vec, vlen, flags);
	return r;
}

ZC_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (SMALL(len) || !zc_send_msg(fd, &m, 0, 1, &r))
		return ZC_REAL(write)(fd, buf, len);
	return r;
}

ZC_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t r;

	if (ZC_UNLIKELY(!zc_ready) || iovcnt <= 0 || !iov || !zc_send_msg(fd, &m, 0, 0, &r))
		return ZC_REAL(writev)(fd, iov, iovcnt);
	return r;
}
