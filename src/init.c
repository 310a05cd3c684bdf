/*
 * init.c - start-up: settings, memory the shim needs, handlers.
 *
 * The constructor runs before main(). Until it has finished, zc_ready is 0
 * and every wrapper passes its call straight through, so a program (or a
 * library constructor) that sends early is merely not accelerated.
 */
#include "bounce.h"
#include "calibrate.h"
#include "completion.h"
#include "fork.h"
#include "fastring.h"
#include "guard.h"
#include "hooks_alloc.h"
#include "owner.h"
#include "quarantine.h"
#include "relay.h"
#include "shim.h"
#include "signals.h"
#include "sock.h"
#include "stats.h"
#include "statsdest.h"
#include "statspage.h"
#include "vma.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

struct zc_config zc_cfg;
size_t zc_page = 4096;
int zc_ready;

#define DEFAULT_PIN_CAP ((uint64_t)256 << 20)

static const char *level_names[] = { "error", "warn", "info", "debug" };

void zc_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (level > zc_cfg.log_level)
		return;
	n = snprintf(buf, sizeof buf, "libzcshim[%d] %s: ", (int)getpid(), level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (zc_real.write)
		zc_real.write(2, buf, (size_t)n);
}

static const char *env_get(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

static const char *env_none(const char *name, void *ctx)
{
	(void)name;
	(void)ctx;
	return NULL;
}

/*
 * Secure execution (set-user-ID, set-group-ID, file capabilities: the
 * kernel's AT_SECURE): the environment is the caller's, not the user's the
 * program runs as, so no setting comes from it (a stats file, a signal
 * left to kill, the guard turned off...). The defaults apply; the stats
 * go only to a default place of the user the program runs as. Said once,
 * naming what was set and ignored.
 */
static void report_ignored(void)
{
	extern char **environ;
	static const char *const prefixes[] = { "ZCSHIM_", "XDG_RUNTIME_DIR=" };
	char names[640];
	size_t n = 0;

	for (size_t i = 0; i < 2; i++)
		for (char **e = environ; e && *e; e++) {
			size_t len = strcspn(*e, "=");

			if (strncmp(*e, prefixes[i], strlen(prefixes[i])) ||
			    n + len + 2 >= sizeof names)
				continue;
			names[n++] = ' ';
			memcpy(names + n, *e, len);
			n += len;
		}
	names[n] = '\0';
	if (n)
		zc_log(ZC_LOG_WARN, "secure-execution process (set-user-ID, set-group-ID or file "
		       "capabilities): ignoring%s; the defaults apply, and the stats go only to "
		       "/run/zcshim or /tmp/zcshim-%u", names, (unsigned)geteuid());
}

static void env_report(const char *msg, void *ctx)
{
	(void)ctx;
	if (zc_real.write)
		zc_real.write(2, msg, strlen(msg));
}

static int have_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof d);
	if (syscall(SYS_capget, &h, d))
		return 0;
	return (d[CAP_IPC_LOCK / 32].effective >> (CAP_IPC_LOCK % 32)) & 1;
}

/*
 * How much the shim keeps pinned. Without CAP_IPC_LOCK every zerocopy call
 * charges the user's RLIMIT_MEMLOCK, shared by all the user's processes:
 * the shim uses at most half of it, leaving the rest to the program and its
 * siblings (what is still refused comes back as ENOBUFS and is copied).
 */
static uint64_t pin_cap(void)
{
	struct rlimit rl;

	if (zc_cfg.max_inflight)
		return zc_cfg.max_inflight;
	if (have_ipc_lock() || getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return DEFAULT_PIN_CAP;
	return rl.rlim_cur / 2;
}

/* At ZCSHIM_LOG=info: one line with the version, every setting that is
 * not the default, and where the stats go. */
static void log_settings(void)
{
	struct zc_config d;
	char buf[900];
	size_t n = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__))
	zc_config_defaults(&d);
	if (zc_cfg.threshold != d.threshold)
		ADD(" ZCSHIM_THRESHOLD=%zu", zc_cfg.threshold);
	if (zc_cfg.local_force != d.local_force)
		ADD(" ZCSHIM_LOCAL=force");
	if (zc_cfg.stall_us != d.stall_us)
		ADD(" ZCSHIM_STALL_US=%u", zc_cfg.stall_us);
	if (zc_cfg.stats_path[0])
		ADD(" ZCSHIM_STATS_FILE=%s", zc_cfg.stats_path);
	if (zc_cfg.stats_signal != d.stats_signal)
		ADD(" ZCSHIM_STATS_SIGNAL=%d", zc_cfg.stats_signal);
	if (zc_cfg.stats_dir[0])
		ADD(" ZCSHIM_STATS_DIR=%s", zc_cfg.stats_dir);
	if (zc_cfg.log_level != d.log_level)
		ADD(" ZCSHIM_LOG=%s", level_names[zc_cfg.log_level]);
	if (zc_cfg.copied_limit != d.copied_limit)
		ADD(" ZCSHIM_COPIED_LIMIT=%u", zc_cfg.copied_limit);
	if (zc_cfg.max_inflight != d.max_inflight)
		ADD(" ZCSHIM_MAX_INFLIGHT=%zu", zc_cfg.max_inflight);
	if (zc_cfg.adapt != d.adapt)
		ADD(" ZCSHIM_ADAPT=0");
	if (zc_cfg.align != d.align)
		ADD(" ZCSHIM_ALIGN=1");
	if (zc_cfg.signals_block)
		ADD(" ZCSHIM_SIGNALS=block");
	if (zc_cfg.guard == ZC_GUARD_UFFD)
		ADD(" ZCSHIM_GUARD=uffd");
	if (zc_cfg.guard == ZC_GUARD_MPROTECT)
		ADD(" ZCSHIM_GUARD=mprotect");
#ifdef ZC_TEST_HOOKS
	if (zc_cfg.test_no_guard)
		ADD(" ZCSHIM_TEST_NO_GUARD=1 (GUARD DISABLED: test build)");
	if (zc_cfg.test_no_altstack)
		ADD(" ZCSHIM_TEST_NO_ALTSTACK=1 (test build)");
	if (zc_cfg.test_hold_us)
		ADD(" ZCSHIM_TEST_HOLD_US=%u (test build)", zc_cfg.test_hold_us);
	if (zc_cfg.test_copy_signal)
		ADD(" ZCSHIM_TEST_COPY_SIGNAL=%d (test build)", zc_cfg.test_copy_signal);
	if (zc_cfg.test_reader_delay_us)
		ADD(" ZCSHIM_TEST_READER_DELAY_US=%u (test build)", zc_cfg.test_reader_delay_us);
#endif
#undef ADD
	zc_log(ZC_LOG_INFO, "libzcshim %s:%s; pins at most %llu bytes; stats on signal %d to %s; "
	       "%s%s; guard: %s", PACKAGE_VERSION, n ? buf : " all settings at their defaults",
	       (unsigned long long)zc_pin_cap, zc_cfg.stats_signal, zc_statsdest_describe(),
	       zc_statspage_dir() ? "live stats page in " : "no live stats page",
	       zc_statspage_dir() ? zc_statspage_dir() : "", zc_guard_describe());
}

/* valgrind (3.19) ignores a handler's change to its ucontext's signal mask
 * at sigreturn, which holding a signal back relies on (sigdefer.c): under
 * valgrind the shim blocks signals in its critical sections instead, as
 * with ZCSHIM_SIGNALS=block. Known only when built with valgrind's header. */
static void under_valgrind(void)
{
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
	if (RUNNING_ON_VALGRIND && !zc_cfg.signals_block) {
		zc_cfg.signals_block = 1;
		zc_log(ZC_LOG_INFO, "running under valgrind: ZCSHIM_SIGNALS=block");
	}
	/* valgrind does not know userfaultfd's ioctls. */
	if (RUNNING_ON_VALGRIND && zc_cfg.guard != ZC_GUARD_MPROTECT) {
		zc_cfg.guard = ZC_GUARD_MPROTECT;
		zc_log(ZC_LOG_INFO, "running under valgrind: ZCSHIM_GUARD=mprotect");
	}
#endif
#endif
}

__attribute__((constructor)) static void zc_init(void)
{
	long ps;
	int secure, wipe_err;

	zc_real_bind();
	ps = sysconf(_SC_PAGESIZE);
	if (ps > 0)
		zc_page = (size_t)ps;
	wipe_err = zc_owner_init();   /* first: the lock's word is there */
	secure = getauxval(AT_SECURE) != 0;
	zc_config_parse(&zc_cfg, secure ? env_none : env_get, NULL, env_report, NULL);
	if (secure)
		report_ignored();
	if (wipe_err)
		zc_log(ZC_LOG_WARN, "the kernel cannot wipe a page in fork children (madvise "
		       "MADV_WIPEONFORK: %s; Linux 4.14 or later needed): a child made with "
		       "_Fork() or a raw clone/fork system call is not noticed, use fork()",
		       strerror(wipe_err));
	under_valgrind();
	if (zc_cfg.disable) {
		zc_log(ZC_LOG_INFO, "disabled by ZCSHIM_DISABLE; every call passes through");
		return;
	}
	if (zc_vma_init() || zc_sock_init() || zc_guard_init() || zc_bounce_init() ||
	    zc_quarantine_init() || zc_fast_init()) {
		zc_log(ZC_LOG_ERROR, "cannot map the shim's tables (%s); every call passes through",
		       strerror(errno));
		return;
	}
	zc_completion_init();
	zc_local_addrs_load();
	zc_relay_init();
	/* Sockets open before main() came from the process that exec'd this
	 * one, which may be sending zerocopy on them (sock.c). */
	zc_sock_note_inherited(0);
	zc_statsdest_init(secure);
	zc_statspage_init(secure);
	zc_pin_cap = pin_cap();
	if (zc_signals_install()) {
		zc_log(ZC_LOG_ERROR, "cannot install the SIGSEGV handler (%s); every call passes through",
		       strerror(errno));
		return;
	}
	zc_fork_install();
	zc_align_init();
	log_settings();
	__atomic_store_n(&zc_ready, 1, __ATOMIC_RELEASE);
}
