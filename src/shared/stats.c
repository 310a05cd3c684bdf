/*
 * stats.c - counters, their JSON line, and the dump the stats signal does.
 *
 * Signal-context invariant: zc_stats_format and zc_stats_dump run inside a
 * signal handler. They use only the stack, relaxed atomic loads and the
 * async-signal-safe calls write, close, getpid and clock_gettime, and
 * those of zc_statsdest_open (statsdest.c), which never blocks.
 * zc_stats_warn_handler may run in a program's signal handler (a
 * sigaction() there): it then uses only write and the stack.
 */
#include "decimal.h"
#include "settings.h"
#include "stats.h"
#include "shim.h"
#include "statsdest.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* In .bss (anonymous, zero) until statspage.c maps the file over its
 * first page; aligned to the largest page size, so no other object shares
 * that page. */
union zc_live_page zc_live_page __attribute__((aligned(ZC_LIVE_OBJ)));
extern struct zc_stats zc_stats __attribute__((alias("zc_live_page")));
const char *zc_stats_guard = "mprotect";
int zc_stats_guard_kernel_faults;

void zc_stats_inflight(int64_t delta)
{
	uint64_t now = __atomic_add_fetch(&zc_stats.inflight_bytes, (uint64_t)delta,
					  __ATOMIC_RELAXED);
	uint64_t max = __atomic_load_n(&zc_stats.inflight_max_bytes, __ATOMIC_RELAXED);

	while (delta > 0 && now > max &&
	       !__atomic_compare_exchange_n(&zc_stats.inflight_max_bytes, &max, now, 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void zc_stats_snapshot(struct zc_stats *out)
{
#define ZC_STATS_LOAD(name, what) out->name = __atomic_load_n(&zc_stats.name, __ATOMIC_RELAXED);
	ZCSHIM_STATS_FIELDS(ZC_STATS_LOAD)
#undef ZC_STATS_LOAD
}

void zc_stats_reset(void)
{
#define ZC_STATS_ZERO(name, what) __atomic_store_n(&zc_stats.name, 0, __ATOMIC_RELAXED);
	ZCSHIM_STATS_FIELDS(ZC_STATS_ZERO)
#undef ZC_STATS_ZERO
}

struct out {
	char *buf;
	size_t cap, len;
	int overflow;
};

static void put_str(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len + n >= o->cap) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];

	tmp[sizeof tmp - 1] = '\0';
	put_str(o, zc_dec_before(tmp + sizeof tmp - 1, v));
}

/* JSON string body: the version is ours, but escape anyway. */
static void put_json_string(struct out *o, const char *s)
{
	char one[7];

	put_str(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			one[0] = '\\';
			one[1] = (char)c;
			one[2] = '\0';
		} else if (c < 0x20) {
			static const char hex[] = "0123456789abcdef";

			memcpy(one, "\\u00", 4);
			one[4] = hex[c >> 4];
			one[5] = hex[c & 15];
			one[6] = '\0';
		} else {
			one[0] = (char)c;
			one[1] = '\0';
		}
		put_str(o, one);
	}
	put_str(o, "\"");
}

size_t zc_stats_format(char *buf, size_t cap, const struct zc_stats *s, int pid,
		       const struct timespec *now, const char *version)
{
	struct out o = { buf, cap, 0, 0 };
	char ms[5];
	long msec = now->tv_nsec / 1000000;

	put_str(&o, "{\"pid\":");
	put_u64(&o, (uint64_t)(pid < 0 ? 0 : pid));
	put_str(&o, ",\"ts\":");
	put_u64(&o, (uint64_t)(now->tv_sec < 0 ? 0 : now->tv_sec));
	ms[0] = '.';
	ms[1] = (char)('0' + msec / 100);
	ms[2] = (char)('0' + msec / 10 % 10);
	ms[3] = (char)('0' + msec % 10);
	ms[4] = '\0';
	put_str(&o, ms);
	put_str(&o, ",\"version\":");
	put_json_string(&o, version);
	/* Which guard (the counters guard_uffd and guard_kernel_faults say
	 * it too, for the live page's readers). */
	put_str(&o, ",\"guard\":");
	put_json_string(&o, zc_stats_guard);
#define ZC_STATS_PUT(name, what) put_str(&o, ",\"" #name "\":"); put_u64(&o, s->name);
	ZCSHIM_STATS_FIELDS(ZC_STATS_PUT)
#undef ZC_STATS_PUT
	put_str(&o, "}\n");
	if (o.overflow)
		return 0;
	buf[o.len] = '\0';
	return o.len;
}

void zc_stats_dump(void)
{
	char line[4096];   /* every field at its widest fits (zcstat reads 4096) */
	struct zc_stats snap;
	struct timespec now;
	int saved = errno;
	int fd;
	size_t len;

	zc_stats_snapshot(&snap);
	clock_gettime(CLOCK_REALTIME, &now);
	len = zc_stats_format(line, sizeof line, &snap, (int)getpid(), &now,
			      PACKAGE_VERSION);
	fd = zc_statsdest_open();
	if (fd >= 0 && len) {
		const char *p = line;

		while (len) {
			ssize_t w = zc_real.write(fd, p, len);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			len -= (size_t)w;
		}
	}
	if (fd > 2)
		zc_real.close(fd);
	errno = saved;
}

static int warned_handler;

static void hex(char *out, uintptr_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[2 * sizeof v + 1];
	int n = sizeof tmp - 1;

	tmp[n] = '\0';
	do {
		tmp[--n] = digits[v & 15];
		v >>= 4;
	} while (v);
	memcpy(out, "0x", 2);
	memcpy(out + 2, tmp + n, sizeof tmp - (size_t)n);
}

/*
 * Programs give SIGUSR1 (the default stats signal) their own meaning:
 * memcached shuts down, rsync's daemon exits, varnish's child exits, nginx
 * reopens its logs. The shim dumps and then runs that handler, so whoever
 * sends the stats signal also triggers the program's action. Said once,
 * when the program installs it (usually at its start).
 */
void zc_stats_warn_handler(int sig, void *handler, int in_handler)
{
	char addr[2 + 2 * sizeof(uintptr_t) + 1];
	const char *sym = NULL;
	Dl_info di;

	if (__atomic_exchange_n(&warned_handler, 1, __ATOMIC_RELAXED))
		return;
	hex(addr, (uintptr_t)handler);
	if (!in_handler && dladdr(handler, &di) && di.dli_sname)
		sym = di.dli_sname;
	if (!in_handler) {
		zc_log(ZC_LOG_WARN, "the program installs its own handler for signal %d, the stats "
		       "signal (ZCSHIM_STATS_SIGNAL): %s%s%s%s; every stats signal runs the shim's "
		       "dump and then that handler (what the program does on it: exit, reload, "
		       "reopen logs). zcstat reads the live stats page without a signal; set "
		       "ZCSHIM_STATS_SIGNAL to a signal the program does not use, or none",
		       sig, addr, sym ? " (" : "", sym ? sym : "", sym ? ")" : "");
		return;
	}
	{
		char line[512];
		struct out o = { line, sizeof line, 0, 0 };

		put_str(&o, "libzcshim[");
		put_u64(&o, (uint64_t)getpid());
		put_str(&o, "] warn: the program installs its own handler for signal ");
		put_u64(&o, (uint64_t)sig);
		put_str(&o, ", the stats signal (ZCSHIM_STATS_SIGNAL): ");
		put_str(&o, addr);
		put_str(&o, "; every stats signal runs the shim's dump and then that handler; zcstat "
			"reads the live stats page without a signal; set ZCSHIM_STATS_SIGNAL to a "
			"signal the program does not use, or none\n");
		if (zc_real.write && zc_cfg.log_level >= ZC_LOG_WARN)
			zc_real.write(2, line, o.len);
	}
}
