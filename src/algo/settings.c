/*
 * settings.c - parse the ZCSHIM_* environment variables.
 *
 * A program under the shim must keep running whatever the operator typed:
 * a bad value is reported once, naming the variable, the value and what is
 * used instead, and the default takes its place.
 */
#include "decimal.h"
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void zc_config_defaults(struct zc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->threshold = ZC_DEFAULT_THRESHOLD;
	cfg->stall_us = ZC_DEFAULT_STALL_US;
	cfg->stats_signal = SIGUSR1;
	cfg->log_level = ZC_LOG_WARN;
	cfg->copied_limit = ZC_DEFAULT_COPIED_LIMIT;
	cfg->adapt = 1;
}

int zc_parse_size(const char *s, size_t *out)
{
	const char *p = s;
	unsigned long long v = 0;
	unsigned shift = 0;

	if (!s)
		return -1;
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (~0ull - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: break;
	}
	if (shift && (*p == 'i' || *p == 'I'))
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	while (*p == ' ')
		p++;
	if (*p)
		return -1;
	if (shift && v > (~0ull >> shift))
		return -1;
	v <<= shift;
	if (v > (unsigned long long)SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

int zc_parse_signal(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "HUP", SIGHUP },
		{ "WINCH", SIGWINCH }, { "PWR", SIGPWR }, { "URG", SIGURG },
	};
	char *end;
	long n;

	if (!s || !*s)
		return -1;
	if (!strcasecmp(s, "none") || !strcasecmp(s, "off") || !strcmp(s, "0"))
		return 0;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	if (!strncasecmp(s, "RTMIN+", 6)) {
		errno = 0;
		n = strtol(s + 6, &end, 10);
		if (errno || end == s + 6 || *end || n < 0 || n > SIGRTMAX - SIGRTMIN)
			return -1;
		return SIGRTMIN + (int)n;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n <= 0 || n > SIGRTMAX)
		return -1;
	/* 32 and 33 belong to the C library (thread cancellation, setxid). */
	if (n > 31 && n < SIGRTMIN)
		return -1;
	/* Signals the shim cannot or must not take over. */
	if (n == SIGKILL || n == SIGSTOP || n == SIGSEGV || n == SIGBUS ||
	    n == SIGILL || n == SIGFPE || n == SIGABRT || n == SIGTRAP)
		return -1;
	return (int)n;
}

static size_t put_uint(char *out, size_t cap, size_t at, unsigned long v)
{
	char tmp[24];

	for (char *p = zc_dec_before(tmp + sizeof tmp, v); p < tmp + sizeof tmp; p++) {
		if (at + 1 >= cap)
			return cap;
		out[at++] = *p;
	}
	return at;
}

int zc_expand_path(const char *tmpl, int pid, char *out, size_t cap)
{
	size_t at = 0;

	if (!cap)
		return -1;
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			at = put_uint(out, cap, at, (unsigned long)pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			if (at + 1 < cap)
				out[at++] = '%';
			else
				at = cap;
			p++;
		} else if (at + 1 < cap) {
			out[at++] = *p;
		} else {
			at = cap;
		}
		if (at >= cap)
			return -1;
	}
	out[at] = '\0';
	return (int)at;
}

/* %p before the last '/': the directory is checked once, at start, and
 * must be the very one written to (statsdest.c), so only the file name may
 * change with the pid. */
static int pid_in_dir(const char *v)
{
	const char *slash = strrchr(v, '/');

	for (const char *p = v; slash && p < slash; p++) {
		if (p[0] == '%' && p[1] == 'p')
			return 1;
		if (p[0] == '%' && p[1] == '%')
			p++;
	}
	return 0;
}

struct reporter {
	zc_report_fn fn;
	void *ctx;
	int count;
};

static void report(struct reporter *r, const char *var, const char *value,
		   const char *why, const char *instead)
{
	char msg[768];

	snprintf(msg, sizeof msg,
		 "libzcshim: %s=\"%.200s\" %s; using %s instead\n", var, value,
		 why, instead);
	r->count++;
	if (r->fn)
		r->fn(msg, r->ctx);
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "on")) {
		*out = 1;
		return 0;
	}
	if (!*v || !strcmp(v, "0") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "false") || !strcasecmp(v, "off")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

int zc_config_parse(struct zc_config *cfg, zc_getenv_fn get, void *ctx,
		    zc_report_fn report_fn, void *report_ctx)
{
	struct reporter r = { report_fn, report_ctx, 0 };
	char dflt[64];
	const char *v;
	unsigned long n;
	size_t sz;

	zc_config_defaults(cfg);

	if ((v = get("ZCSHIM_DISABLE", ctx)) && parse_bool(v, &cfg->disable))
		report(&r, "ZCSHIM_DISABLE", v, "is not 0 or 1", "0 (enabled)");

	if ((v = get("ZCSHIM_THRESHOLD", ctx))) {
		if (zc_parse_size(v, &sz) || sz < 1 || sz > ZC_MAX_THRESHOLD) {
			snprintf(dflt, sizeof dflt, "%u", ZC_DEFAULT_THRESHOLD);
			report(&r, "ZCSHIM_THRESHOLD", v,
			       "is not a byte count from 1 to 1G (digits with an optional K, M or G suffix)",
			       dflt);
		} else {
			cfg->threshold = sz;
		}
	}

	if ((v = get("ZCSHIM_LOCAL", ctx))) {
		if (!strcasecmp(v, "force"))
			cfg->local_force = 1;
		else if (strcasecmp(v, "skip") && *v)
			report(&r, "ZCSHIM_LOCAL", v, "is not skip or force", "skip");
	}

	if ((v = get("ZCSHIM_GUARD", ctx))) {
		if (!strcasecmp(v, "uffd") || !strcasecmp(v, "userfaultfd"))
			cfg->guard = ZC_GUARD_UFFD;
		else if (!strcasecmp(v, "mprotect"))
			cfg->guard = ZC_GUARD_MPROTECT;
		else if (strcasecmp(v, "auto") && *v)
			report(&r, "ZCSHIM_GUARD", v, "is not auto, uffd or mprotect", "auto");
	}

	if ((v = get("ZCSHIM_STALL_US", ctx))) {
		if (parse_uint(v, ZC_MAX_STALL_US, &n)) {
			snprintf(dflt, sizeof dflt, "%u", ZC_DEFAULT_STALL_US);
			report(&r, "ZCSHIM_STALL_US", v,
			       "is not a number of microseconds from 0 to 10000000", dflt);
		} else {
			cfg->stall_us = (uint32_t)n;
		}
	}

	if ((v = get("ZCSHIM_STATS_FILE", ctx)) && *v) {
		char probe[ZC_STATS_PATH_MAX];

		if (strlen(v) >= sizeof cfg->stats_path ||
		    zc_expand_path(v, 4194304, probe, sizeof probe) < 0)
			report(&r, "ZCSHIM_STATS_FILE", v,
			       "is too long (511 bytes at most after %p expands)",
			       "the default place");
		else if (pid_in_dir(v))
			report(&r, "ZCSHIM_STATS_FILE", v,
			       "has %p in a directory (only the file name may have it)",
			       "the default place");
		else
			strcpy(cfg->stats_path, v);
	}

	/* The live stats page's directory (statspage.c): an absolute path
	 * (checked at start like the stats file's), or "none". */
	if ((v = get("ZCSHIM_STATS_DIR", ctx)) && *v) {
		if (strlen(v) >= sizeof cfg->stats_dir - 32 || (v[0] != '/' && strcmp(v, "none")))
			report(&r, "ZCSHIM_STATS_DIR", v,
			       "is not an absolute directory path (480 bytes at most) or none",
			       "the default place");
		else
			strcpy(cfg->stats_dir, v);
	}

	if ((v = get("ZCSHIM_STATS_SIGNAL", ctx))) {
		int sig = zc_parse_signal(v);

		if (sig < 0)
			report(&r, "ZCSHIM_STATS_SIGNAL", v,
			       "is not a usable signal (USR1, USR2, HUP, a number, or none)",
			       "USR1");
		else
			cfg->stats_signal = sig;
	}

	if ((v = get("ZCSHIM_LOG", ctx))) {
		static const char *levels[] = { "error", "warn", "info", "debug" };
		int found = -1;

		for (int i = 0; i < 4; i++)
			if (!strcasecmp(v, levels[i]))
				found = i;
		if (!strcasecmp(v, "warning"))
			found = ZC_LOG_WARN;
		if (found < 0)
			report(&r, "ZCSHIM_LOG", v, "is not error, warn, info or debug", "warn");
		else
			cfg->log_level = found;
	}

	if ((v = get("ZCSHIM_COPIED_LIMIT", ctx))) {
		if (parse_uint(v, 1000000, &n)) {
			snprintf(dflt, sizeof dflt, "%u", ZC_DEFAULT_COPIED_LIMIT);
			report(&r, "ZCSHIM_COPIED_LIMIT", v,
			       "is not a count from 0 to 1000000", dflt);
		} else {
			cfg->copied_limit = (uint32_t)n;
		}
	}

	if ((v = get("ZCSHIM_MAX_INFLIGHT", ctx))) {
		if (zc_parse_size(v, &sz))
			report(&r, "ZCSHIM_MAX_INFLIGHT", v,
			       "is not a byte count (digits with an optional K, M or G suffix)",
			       "0 (derived from RLIMIT_MEMLOCK)");
		else
			cfg->max_inflight = sz;
	}

	if ((v = get("ZCSHIM_ADAPT", ctx)) && parse_bool(v, &cfg->adapt)) {
		cfg->adapt = 1;
		report(&r, "ZCSHIM_ADAPT", v, "is not 0 or 1", "1");
	}

	if ((v = get("ZCSHIM_ALIGN", ctx)) && parse_bool(v, &cfg->align)) {
		cfg->align = 0;
		report(&r, "ZCSHIM_ALIGN", v, "is not 0 or 1", "0");
	}

	if ((v = get("ZCSHIM_SIGNALS", ctx))) {
		if (!strcasecmp(v, "block"))
			cfg->signals_block = 1;
		else if (strcasecmp(v, "defer") && *v)
			report(&r, "ZCSHIM_SIGNALS", v, "is not defer or block", "defer");
	}

#ifdef ZC_TEST_HOOKS
	/* The test build's knobs (testhooks.h): the release library has
	 * neither these settings nor their names. */
	if ((v = get("ZCSHIM_TEST_NO_GUARD", ctx)) && parse_bool(v, &cfg->test_no_guard))
		report(&r, "ZCSHIM_TEST_NO_GUARD", v, "is not 0 or 1", "0");

	if ((v = get("ZCSHIM_TEST_NO_ALTSTACK", ctx)) &&
	    parse_bool(v, &cfg->test_no_altstack))
		report(&r, "ZCSHIM_TEST_NO_ALTSTACK", v, "is not 0 or 1", "0");

	if ((v = get("ZCSHIM_TEST_HOLD_US", ctx))) {
		if (parse_uint(v, ZC_MAX_TEST_HOLD_US, &n))
			report(&r, "ZCSHIM_TEST_HOLD_US", v,
			       "is not a number of microseconds from 0 to 100000", "0");
		else
			cfg->test_hold_us = (uint32_t)n;
	}

	if ((v = get("ZCSHIM_TEST_READER_DELAY_US", ctx))) {
		if (parse_uint(v, ZC_MAX_TEST_HOLD_US, &n))
			report(&r, "ZCSHIM_TEST_READER_DELAY_US", v,
			       "is not a number of microseconds from 0 to 100000", "0");
		else
			cfg->test_reader_delay_us = (uint32_t)n;
	}

	if ((v = get("ZCSHIM_TEST_COPY_SIGNAL", ctx))) {
		if (parse_uint(v, 64, &n))
			report(&r, "ZCSHIM_TEST_COPY_SIGNAL", v, "is not a signal number from 0 to 64", "0");
		else
			cfg->test_copy_signal = (int)n;
	}
#endif

	return r.count;
}
