/*
 * probe.c - the fault probe windows (see probe.h).
 */
#include "probe.h"
#include "owner.h"
#include "shim.h"
#include "sigdefer.h"
#include "stats.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread sigjmp_buf *volatile probe_env ZC_TLS_MODEL;
static __thread uint64_t window_saved ZC_TLS_MODEL;   /* ZCSHIM_SIGNALS=block */

static void window_open(void)
{
	if (ZC_UNLIKELY(zc_cfg.signals_block)) {
		uint64_t m = ~ZC_SYNC_SIGNALS;

		syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, &window_saved, sizeof m);
	} else {
		zc_crit_enter();
	}
}

static void window_close(void)
{
	if (ZC_UNLIKELY(zc_cfg.signals_block))
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &window_saved, NULL, sizeof window_saved);
	else
		zc_crit_leave();
}

int zc_probe_run(void (*fn)(void *), void *arg)
{
	sigjmp_buf env;

	window_open();
	if (sigsetjmp(env, 0)) {
		window_close();   /* zc_probe_jump cleared probe_env */
		ZC_STAT_ADD(probe_faults, 1);
		return -1;
	}
	probe_env = &env;
	fn(arg);
	probe_env = NULL;
	window_close();
	return 0;
}

struct read_args {
	void *dst;
	const void *src;
	size_t n;
};

static void do_read(void *a)
{
	struct read_args *r = a;

	memcpy(r->dst, r->src, r->n);
}

int zc_probe_read(void *dst, const void *src, size_t n)
{
	struct read_args r = { dst, src, n };

	return zc_probe_run(do_read, &r);
}

static int kread_off;   /* the kernel refused process_vm_readv: not again */

int zc_probe_kread_works(void)
{
	return !__atomic_load_n(&kread_off, __ATOMIC_RELAXED);
}

int zc_probe_kread(void *dst, const void *src, size_t n)
{
	struct iovec l = { dst, n }, r = { (void *)src, n };
	/* The owner's pid (owner.h): the memory is the same in a vfork or
	 * CLONE_VM child, and a fork child takes the pid over before its
	 * first send. No getpid() system call per send. */
	pid_t pid = __atomic_load_n(&zc_own->pid, __ATOMIC_RELAXED);
	long got;

	if (!pid)
		pid = (pid_t)syscall(SYS_getpid);
	do
		got = syscall(SYS_process_vm_readv, pid, &l, 1UL, &r, 1UL, 0UL);
	while (got < 0 && errno == EINTR);
	if (got == (long)n)
		return 0;
	if (got < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES)) {
		/* A seccomp filter or an old kernel: these pieces are not
		 * bounced any more (the call is copied whole). */
		__atomic_store_n(&kread_off, 1, __ATOMIC_RELAXED);
		return -2;
	}
	ZC_STAT_ADD(probe_faults, 1);
	return -1;   /* EFAULT: a page unmapped, unreadable or past its file's end */
}

/* Signal context: a TLS read and store, and siglongjmp (the SIGSEGV
 * handler runs with SA_NODEFER and an empty sa_mask, so jumping without
 * restoring a mask leaves the thread's mask as the window had it). */
int zc_probe_jump(void)
{
	sigjmp_buf *env = probe_env;

	if (!env)
		return 0;
	probe_env = NULL;
	ZC_REAL(siglongjmp)(*env, 1);   /* (not the wrapper: no handler of the program's to leave) */
	return 0;   /* (never reached) */
}
