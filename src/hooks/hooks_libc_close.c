/*
 * hooks_libc_close.c - C library calls that close or replace fds inside
 * the library, where the shim's close/dup2 wrappers (hooks_fd.c) do not
 * see it: fclose of a stream over a socket (fdopen), freopen, fcloseall,
 * closefrom, and daemon, login_tty and forkpty, which put other files on
 * fds 0 to 2.
 *
 * Each bumps the fd epoch after the call: a socket's fd is checked against
 * the socket's cookie again on its next send (sendpath.c), so a number
 * that now names another file or socket never lends it the old socket's
 * state. Between such calls the send path reads no cookie. An fd closed or
 * replaced with a raw system call is not seen (a documented limit, like
 * memory mapped with one).
 */
#include "shim.h"
#include "sock.h"

#include <pty.h>
#include <stdio.h>
#include <unistd.h>
#include <utmp.h>

ZC_EXPORT int fclose(FILE *f)
{
	int r = ZC_REAL(fclose)(f);

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	FILE *r = ZC_REAL(freopen)(path, mode, f);

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	FILE *r = ZC_REAL(freopen64)(path, mode, f);

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT int fcloseall(void)
{
	int r = ZC_REAL(fcloseall)();

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT void closefrom(int lowfd)
{
	ZC_REAL(closefrom)(lowfd);
	zc_fd_epoch_bump();
}

ZC_EXPORT int daemon(int nochdir, int noclose)
{
	int r = ZC_REAL(daemon)(nochdir, noclose);

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT int login_tty(int fd)
{
	int r = ZC_REAL(login_tty)(fd);

	zc_fd_epoch_bump();
	return r;
}

ZC_EXPORT pid_t forkpty(int *amaster, char *name, const struct termios *tp,
			const struct winsize *wp)
{
	pid_t r = ZC_REAL(forkpty)(amaster, name, tp, wp);

	zc_fd_epoch_bump();
	return r;
}
