/*
 * sys.h - the kernel's calls for the shim's own use, under the names the
 * shim interposes.
 *
 * The library exports mmap, munmap, mprotect, write, close, setsockopt ...
 * (src/hooks/hooks_*.c, signals.c). Inside the library those names resolve to the
 * shim's own wrappers, not libc's: a call from the shim would run through
 * its own hooks, take locks its caller may hold, count and re-check what
 * the caller already decided, and for mmap/munmap/mprotect drop the VMA
 * cache (vma.c) the caller is using. The shim calls the kernel here
 * instead, or the libc function on purpose with ZC_REAL(name).
 * scripts/interposed fails the build check on any other call.
 *
 * Each wrapper keeps libc's return and errno contract: -1 (MAP_FAILED for
 * zc_sys_mmap) and errno set on failure, syscall(2) does that. They are
 * not cancellation points, which is what the shim wants of its own calls.
 * They are async-signal-safe, so the fault handler may use them. 64-bit
 * only, as is the shim (SYS_mmap takes a byte offset there).
 */
#ifndef ZC_SYS_H
#define ZC_SYS_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline void *zc_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static inline int zc_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static inline int zc_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

/* With MREMAP_FIXED: the fifth argument is the new address. */
static inline void *zc_sys_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *newaddr)
{
	return (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, newaddr);
}

static inline ssize_t zc_sys_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

static inline ssize_t zc_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

static inline int zc_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static inline int zc_sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

static inline ssize_t zc_sys_recvmsg(int fd, struct msghdr *m, int flags)
{
	return syscall(SYS_recvmsg, fd, m, flags);
}

/* The kernel writes the time left back into the timeout; libc's ppoll
 * does not, so neither does this. The signal mask is the kernel's
 * (_NSIG / 8 bytes), as libc passes it. */
static inline int zc_sys_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			       const sigset_t *mask)
{
	struct timespec t, *tp = NULL;

	if (ts) {
		t = *ts;
		tp = &t;
	}
	return (int)syscall(SYS_ppoll, fds, n, tp, mask, (size_t)(_NSIG / 8));
}

/* poll() over ppoll: arm64 has no poll system call. */
static inline int zc_sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec t;

	if (timeout_ms < 0)
		return zc_sys_ppoll(fds, n, NULL, NULL);
	t.tv_sec = timeout_ms / 1000;
	t.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	return zc_sys_ppoll(fds, n, &t, NULL);
}

#endif
