/*
 * real.h - the libc functions the shim wraps, reached through dlsym(RTLD_NEXT).
 *
 * One line per function in ZC_REAL_FUNCS declares the pointer, binds it and
 * checks it: adding a wrapped function starts here.
 */
#ifndef ZC_REAL_H
#define ZC_REAL_H

#include <dlfcn.h>
#include <poll.h>
#include <setjmp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <spawn.h>
#include <time.h>
#include <ucontext.h>

typedef void (*zc_sighandler_t)(int);

#define ZC_REAL_FUNCS(X)                                                                      \
	X(void *, malloc, (size_t))                                                           \
	X(ssize_t, send, (int, const void *, size_t, int))                                    \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))                                \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int))                          \
	X(ssize_t, write, (int, const void *, size_t))                                        \
	X(ssize_t, writev, (int, const struct iovec *, int))                                  \
	X(ssize_t, read, (int, void *, size_t))                                               \
	X(ssize_t, readv, (int, const struct iovec *, int))                                   \
	X(ssize_t, pread, (int, void *, size_t, off_t))                                       \
	X(ssize_t, pread64, (int, void *, size_t, off64_t))                                   \
	X(ssize_t, preadv, (int, const struct iovec *, int, off_t))                           \
	X(ssize_t, preadv64, (int, const struct iovec *, int, off64_t))                       \
	X(ssize_t, preadv2, (int, const struct iovec *, int, off_t, int))                     \
	X(ssize_t, preadv64v2, (int, const struct iovec *, int, off64_t, int))                \
	X(ssize_t, recv, (int, void *, size_t, int))                                          \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))      \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                                      \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *))       \
	X(int, close, (int))                                                                  \
	X(int, close_range, (unsigned int, unsigned int, int))                                \
	X(int, dup2, (int, int))                                                              \
	X(int, dup3, (int, int, int))                                                         \
	X(int, dup, (int))                                                                    \
	X(int, fcntl, (int, int, ...))                                                        \
	X(int, fcntl64, (int, int, ...))                                                      \
	X(int, socket, (int, int, int))                                                       \
	X(int, accept, (int, struct sockaddr *, socklen_t *))                                 \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                           \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                            \
	X(int, setsockopt, (int, int, int, const void *, socklen_t))                          \
	X(void, free, (void *))                                                               \
	X(void *, realloc, (void *, size_t))                                                  \
	X(void *, reallocarray, (void *, size_t, size_t))                                     \
	X(int, munmap, (void *, size_t))                                                      \
	X(void *, mremap, (void *, size_t, size_t, int, ...))                                 \
	X(int, mprotect, (void *, size_t, int))                                               \
	X(int, pkey_mprotect, (void *, size_t, int, int))                                     \
	X(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
	X(void *, mmap, (void *, size_t, int, int, int, off_t))                               \
	X(void *, mmap64, (void *, size_t, int, int, int, off64_t))                           \
	X(int, brk, (void *))                                                                 \
	X(void *, sbrk, (intptr_t))                                                           \
	X(int, sigaction, (int, const struct sigaction *, struct sigaction *))                \
	X(int, sigprocmask, (int, const sigset_t *, sigset_t *))                              \
	X(int, pthread_sigmask, (int, const sigset_t *, sigset_t *))                          \
	X(int, sigsuspend, (const sigset_t *))                                                \
	X(int, setcontext, (const ucontext_t *))                                              \
	X(int, swapcontext, (ucontext_t *, const ucontext_t *))                               \
	X(int, execve, (const char *, char *const[], char *const[]))                          \
	X(int, execv, (const char *, char *const[]))                                          \
	X(int, execvp, (const char *, char *const[]))                                         \
	X(int, execvpe, (const char *, char *const[], char *const[]))                         \
	X(int, fexecve, (int, char *const[], char *const[]))                                  \
	X(int, execveat, (int, const char *, char *const[], char *const[], int))              \
	X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *,       \
			     const posix_spawnattr_t *, char *const[], char *const[]))        \
	X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *,      \
			      const posix_spawnattr_t *, char *const[], char *const[]))       \
	X(int, poll, (struct pollfd *, nfds_t, int))                                          \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))   \
	X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *))                 \
	X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *,          \
			 const sigset_t *))                                                   \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *))                              \
	X(int, epoll_wait, (int, struct epoll_event *, int, int))                             \
	X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *))          \
	X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *,        \
			      const sigset_t *))                                              \
	X(ssize_t, __read_chk, (int, void *, size_t, size_t))                                 \
	X(ssize_t, __pread_chk, (int, void *, size_t, off_t, size_t))                         \
	X(ssize_t, __pread64_chk, (int, void *, size_t, off64_t, size_t))                     \
	X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int))                            \
	X(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int, struct sockaddr *,      \
				    socklen_t *))                                             \
	X(int, __poll_chk, (struct pollfd *, nfds_t, int, size_t))                            \
	X(int, __ppoll_chk, (struct pollfd *, nfds_t, const struct timespec *,                \
			     const sigset_t *, size_t))                                       \
	X(int, fclose, (FILE *))                                                              \
	X(FILE *, freopen, (const char *, const char *, FILE *))                              \
	X(FILE *, freopen64, (const char *, const char *, FILE *))                            \
	X(int, fcloseall, (void))                                                             \
	X(void, closefrom, (int))                                                             \
	X(int, daemon, (int, int))                                                            \
	X(int, login_tty, (int))                                                              \
	X(pid_t, forkpty, (int *, char *, const struct termios *, const struct winsize *))  \
	X(void, longjmp, (struct __jmp_buf_tag[1], int))                                     \
	X(void, _longjmp, (struct __jmp_buf_tag[1], int))                                    \
	X(void, siglongjmp, (struct __jmp_buf_tag[1], int))                                  \
	X(void, __longjmp_chk, (struct __jmp_buf_tag[1], int))

/* Used, not wrapped. */
#define ZC_REAL_PLAIN(X)                                                                      \
	X(size_t, malloc_usable_size, (void *))                                               \
	X(int, posix_memalign, (void **, size_t, size_t))

struct zc_real_table {
#define ZC_REAL_PTR(ret, name, args) ret(*name) args;
	ZC_REAL_FUNCS(ZC_REAL_PTR)
	ZC_REAL_PLAIN(ZC_REAL_PTR)
#undef ZC_REAL_PTR
};

extern struct zc_real_table zc_real;

/* Bind every pointer (idempotent, thread-safe). Wrappers call it when they
 * run before the library constructor did. */
void zc_real_bind(void);

#define ZC_REAL(name) (__builtin_expect(zc_real.name != NULL, 1) ? zc_real.name : (zc_real_bind(), zc_real.name))

#endif
