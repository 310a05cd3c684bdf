/*
 * stats.c - counters, their JSON line, and the dump the stats signal does.
 *
 * Signal-context invariant: zc_stats_format and zc_stats_dump run inside a
 * signal handler. They use only the stack, relaxed atomic loads and the
 * async-signal-safe calls write, close, getpid and clock_gettime, and
 * those of zc_statsdest_open (statsdest.c), which never blocks.
 */
#include "settings.h"
#include "stats.h"
#include "shim.h"
#include "statsdest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

struct zc_stats zc_stats;

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
	int n = sizeof tmp - 1;

	tmp[n] = '\0';
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_str(o, tmp + n);
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
