/*
 * hooks_exec.c - a new program starts with exactly the dispositions and
 * mask it would have had without the shim.
 *
 * exec keeps SIG_IGN and the mask, and resets handlers to SIG_DFL. The
 * shim's kernel state differs from the program's in two ways that would
 * cross an exec: SIGSEGV has the shim's handler where the program set
 * SIG_IGN, and the mask holds SIGSEGV's proxy (SIGRTMAX) where the program
 * blocked SIGSEGV (signals.c). Each exec call of the C library, and
 * posix_spawn (whose child inherits both), gives the kernel the program's
 * own for the call and takes the shim's back if it fails. (Linux 6.18
 * resets an ignored SIGSEGV to SIG_DFL at exec anyway; the shim hands the
 * kernel what the program set and lets it decide.) The stats signal needs
 * nothing here: the program's SIG_IGN of it is the kernel's.
 *
 * For that instant SIGSEGV is really blocked in this thread (it is about
 * to exec, or waits in posix_spawn), and, if the program ignores SIGSEGV,
 * ignored in the whole process: a guard fault then in another thread
 * would be fatal. A raw execve system call, and glibc's internal spawns
 * (system(), popen()), pass on the shim's state: SIGSEGV's disposition as
 * SIG_DFL where the program ignored it, and SIGRTMAX blocked where it
 * blocked SIGSEGV.
 */
#include "shim.h"
#include "signals.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <unistd.h>

/* Run call with the program's signal state; the state back if it returns
 * (the exec failed), errno kept. */
#define WITH_PROGRAM_SIGNALS(call)                                                            \
	do {                                                                                  \
		struct zc_exec_state st_;                                                     \
		int r_, e_;                                                                   \
		zc_exec_prepare(&st_);                                                        \
		r_ = (call);                                                                  \
		e_ = errno;                                                                   \
		zc_exec_undo(&st_);                                                           \
		errno = e_;                                                                   \
		return r_;                                                                    \
	} while (0)

ZC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(execve)(path, argv, envp));
}

ZC_EXPORT int execv(const char *path, char *const argv[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(execv)(path, argv));
}

ZC_EXPORT int execvp(const char *file, char *const argv[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(execvp)(file, argv));
}

ZC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(execvpe)(file, argv, envp));
}

ZC_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(fexecve)(fd, argv, envp));
}

ZC_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags)
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(execveat)(dirfd, path, argv, envp, flags));
}

/* The list forms, as glibc builds them: the arguments into an array on the
 * stack, then the vector form. */
#define ARGV_FROM_LIST(arg, ap, argv)                                                         \
	size_t n_ = 1;                                                                        \
	va_start(ap, arg);                                                                    \
	while (va_arg(ap, const char *))                                                      \
		n_++;                                                                         \
	va_end(ap);                                                                           \
	char *argv[n_ + 1];                                                                   \
	argv[0] = (char *)arg;                                                                \
	va_start(ap, arg);                                                                    \
	for (size_t i_ = 1; i_ <= n_; i_++)                                                   \
		argv[i_] = va_arg(ap, char *);

ZC_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	ARGV_FROM_LIST(arg, ap, argv)
	va_end(ap);
	return execv(path, argv);
}

ZC_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	ARGV_FROM_LIST(arg, ap, argv)
	va_end(ap);
	return execvp(file, argv);
}

ZC_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **envp;
	ARGV_FROM_LIST(arg, ap, argv)
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

ZC_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(posix_spawn)(pid, path, fa, attr, argv, envp));
}

ZC_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WITH_PROGRAM_SIGNALS(ZC_REAL(posix_spawnp)(pid, file, fa, attr, argv, envp));
}
