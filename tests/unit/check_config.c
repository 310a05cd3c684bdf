/*
 * check_config.c - the ZCSHIM_* settings (settings.c), driven through
 * zc_config_parse with a fake environment and a recording report
 * callback: defaults, every variable's good and bad values (a bad one is
 * reported exactly once, naming the variable, the value and what is used
 * instead), and the helpers zc_parse_size, zc_parse_signal and
 * zc_expand_path.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* settings.h, not autoconf's config.h. */
#include "settings.h"
#include "suites.h"

struct env {
	const char *name[8];
	const char *value[8];
	int n;
	int lookups;
};

struct reports {
	int n;
	char msg[8][800];
};

static const char *env_get(const char *name, void *ctx)
{
	struct env *e = ctx;

	e->lookups++;
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static void env_set(struct env *e, const char *name, const char *value)
{
	ck_assert_int_lt(e->n, 8);
	e->name[e->n] = name;
	e->value[e->n] = value;
	e->n++;
}

static void record(const char *message, void *ctx)
{
	struct reports *r = ctx;

	if (r->n < 8) {
		strncpy(r->msg[r->n], message, sizeof r->msg[0] - 1);
		r->msg[r->n][sizeof r->msg[0] - 1] = '\0';
	}
	r->n++;
}

/* Parse an environment of one variable; returns the number reported. */
static int parse1(struct zc_config *cfg, struct reports *r, const char *name, const char *value)
{
	struct env e;
	int count;

	memset(&e, 0, sizeof e);
	memset(r, 0, sizeof *r);
	env_set(&e, name, value);
	count = zc_config_parse(cfg, env_get, &e, record, r);
	ck_assert_int_eq(count, r->n);
	return count;
}

/* Exactly one report, naming the variable and the value. */
static void check_one_report(const struct reports *r, const char *name, const char *value)
{
	char quoted[300];

	ck_assert_int_eq(r->n, 1);
	snprintf(quoted, sizeof quoted, "\"%s\"", value);
	ck_assert_msg(strstr(r->msg[0], name), "report does not name %s: %s", name, r->msg[0]);
	ck_assert_msg(strstr(r->msg[0], quoted), "report does not quote %s: %s", quoted,
		      r->msg[0]);
	ck_assert_msg(strstr(r->msg[0], "instead"), "report does not say instead: %s", r->msg[0]);
}

static void check_defaults(const struct zc_config *cfg)
{
	ck_assert_uint_eq(cfg->threshold, ZC_DEFAULT_THRESHOLD);
	ck_assert_int_eq(cfg->local_force, 0);
	ck_assert_uint_eq(cfg->stall_us, ZC_DEFAULT_STALL_US);
	ck_assert_str_eq(cfg->stats_path, "");
	ck_assert_int_eq(cfg->stats_signal, SIGUSR1);
	ck_assert_int_eq(cfg->log_level, ZC_LOG_WARN);
	ck_assert_int_eq(cfg->disable, 0);
	ck_assert_uint_eq(cfg->copied_limit, ZC_DEFAULT_COPIED_LIMIT);
	ck_assert_uint_eq(cfg->max_inflight, 0);
	ck_assert_int_eq(cfg->test_no_guard, 0);
	ck_assert_int_eq(cfg->test_no_altstack, 0);
	ck_assert_int_eq(cfg->signals_block, 0);
	ck_assert_uint_eq(cfg->test_hold_us, 0);
	ck_assert_int_eq(cfg->test_copy_signal, 0);
	ck_assert_uint_eq(cfg->test_reader_delay_us, 0);
}

START_TEST(test_defaults)
{
	struct zc_config cfg;
	struct reports r;
	struct env e;

	memset(&e, 0, sizeof e);
	memset(&r, 0, sizeof r);
	memset(&cfg, 0x5A, sizeof cfg);
	ck_assert_int_eq(zc_config_parse(&cfg, env_get, &e, record, &r), 0);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_gt(e.lookups, 0);
	check_defaults(&cfg);

	memset(&cfg, 0x5A, sizeof cfg);
	zc_config_defaults(&cfg);
	check_defaults(&cfg);

	/* Unknown variables are none of its business. */
	memset(&r, 0, sizeof r);
	env_set(&e, "ZCSHIM_BOGUS", "1");
	env_set(&e, "THRESHOLD", "1");
	ck_assert_int_eq(zc_config_parse(&cfg, env_get, &e, record, &r), 0);
	check_defaults(&cfg);
}
END_TEST

START_TEST(test_threshold_good)
{
	static const struct { const char *in; size_t want; } cases[] = {
		{ "64K", 65536 }, { "1M", 1048576 }, { "4096", 4096 }, { "1g", (size_t)1 << 30 },
		{ "64k", 65536 }, { "128KiB", 131072 }, { "2MB", 2097152 }, { "1", 1 },
		{ " 8K ", 8192 }, { "1073741824", (size_t)1 << 30 },
	};
	struct zc_config cfg;
	struct reports r;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_msg(parse1(&cfg, &r, "ZCSHIM_THRESHOLD", cases[i].in) == 0,
			      "\"%s\" reported", cases[i].in);
		ck_assert_msg(cfg.threshold == cases[i].want, "\"%s\" -> %zu, expected %zu",
			      cases[i].in, cfg.threshold, cases[i].want);
	}
}
END_TEST

START_TEST(test_threshold_bad)
{
	static const char *bad[] = {
		"abc", "12X", "0", "", "-1", "2G", "1073741825", "1.5M", "K", "64 K", "64KK",
		"99999999999999999999",
	};
	struct zc_config cfg;
	struct reports r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse1(&cfg, &r, "ZCSHIM_THRESHOLD", bad[i]) == 1,
			      "\"%s\" not reported once", bad[i]);
		check_one_report(&r, "ZCSHIM_THRESHOLD", bad[i]);
		ck_assert_msg(strstr(r.msg[0], "65536"), "default not named: %s", r.msg[0]);
		ck_assert_uint_eq(cfg.threshold, ZC_DEFAULT_THRESHOLD);
	}
}
END_TEST

START_TEST(test_local)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOCAL", "force"), 0);
	ck_assert_int_eq(cfg.local_force, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOCAL", "FORCE"), 0);
	ck_assert_int_eq(cfg.local_force, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOCAL", "skip"), 0);
	ck_assert_int_eq(cfg.local_force, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOCAL", ""), 0);
	ck_assert_int_eq(cfg.local_force, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOCAL", "bogus"), 1);
	check_one_report(&r, "ZCSHIM_LOCAL", "bogus");
	ck_assert(strstr(r.msg[0], "skip"));
	ck_assert_int_eq(cfg.local_force, 0);
}
END_TEST

START_TEST(test_stall)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STALL_US", "0"), 0);
	ck_assert_uint_eq(cfg.stall_us, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STALL_US", "200"), 0);
	ck_assert_uint_eq(cfg.stall_us, 200);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STALL_US", "10000000"), 0);
	ck_assert_uint_eq(cfg.stall_us, ZC_MAX_STALL_US);

	static const char *bad[] = { "-5", "99999999999", "10000001", "", "abc", "5ms", " 5" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse1(&cfg, &r, "ZCSHIM_STALL_US", bad[i]) == 1,
			      "\"%s\" not reported once", bad[i]);
		check_one_report(&r, "ZCSHIM_STALL_US", bad[i]);
		ck_assert_uint_eq(cfg.stall_us, ZC_DEFAULT_STALL_US);
	}
}
END_TEST

START_TEST(test_stats_file)
{
	struct zc_config cfg;
	struct reports r;
	char longer[700];

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", "/tmp/zc.%p.json"), 0);
	/* The template is kept; %p is expanded when the file is written. */
	ck_assert_str_eq(cfg.stats_path, "/tmp/zc.%p.json");
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", ""), 0);
	ck_assert_str_eq(cfg.stats_path, "");

	memset(longer, 'a', sizeof longer);
	longer[0] = '/';
	longer[sizeof longer - 1] = '\0';
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", longer), 1);
	ck_assert(strstr(r.msg[0], "ZCSHIM_STATS_FILE"));
	ck_assert(strstr(r.msg[0], "instead"));
	ck_assert_str_eq(cfg.stats_path, "");

	/* Short enough as typed, too long once %p is a pid. */
	longer[ZC_STATS_PATH_MAX - 10] = '\0';
	memcpy(longer + ZC_STATS_PATH_MAX - 14, "%p%p", 4);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", longer), 1);
	ck_assert_str_eq(cfg.stats_path, "");

	/* %p only in the file name: the directory is checked once. */
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", "/run/%p/zc.json"), 1);
	ck_assert(strstr(r.msg[0], "directory"));
	ck_assert_str_eq(cfg.stats_path, "");
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", "/run/%%p/zc.%p.json"), 0);
	ck_assert_str_eq(cfg.stats_path, "/run/%%p/zc.%p.json");
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", "zc.%p.json"), 0);

	/* 511 bytes fits. */
	memset(longer, 'b', ZC_STATS_PATH_MAX - 1);
	longer[ZC_STATS_PATH_MAX - 1] = '\0';
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_FILE", longer), 0);
	ck_assert_str_eq(cfg.stats_path, longer);
}
END_TEST

START_TEST(test_stats_dir)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_DIR", "/var/run/zc"), 0);
	ck_assert_str_eq(cfg.stats_dir, "/var/run/zc");
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_DIR", "none"), 0);
	ck_assert_str_eq(cfg.stats_dir, "none");
	/* Relative: refused (the directory is resolved once, at start). */
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_STATS_DIR", "run/zc"), 1);
	ck_assert(strstr(r.msg[0], "ZCSHIM_STATS_DIR"));
	ck_assert_str_eq(cfg.stats_dir, "");
}
END_TEST

START_TEST(test_expand_path)
{
	char out[64];

	ck_assert_int_eq(zc_expand_path("/tmp/zc.%p.json", 123, out, sizeof out), 16);
	ck_assert_str_eq(out, "/tmp/zc.123.json");
	ck_assert_int_eq(zc_expand_path("100%%", 1, out, sizeof out), 4);
	ck_assert_str_eq(out, "100%");
	ck_assert_int_eq(zc_expand_path("%p-%%p-%p", 42, out, sizeof out), 8);
	ck_assert_str_eq(out, "42-%p-42");
	ck_assert_int_eq(zc_expand_path("a%pb", 0, out, sizeof out), 3);
	ck_assert_str_eq(out, "a0b");
	ck_assert_int_eq(zc_expand_path("", 5, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
	/* A lone % and %x are copied as they are. */
	ck_assert_int_eq(zc_expand_path("x%", 5, out, sizeof out), 2);
	ck_assert_str_eq(out, "x%");
	ck_assert_int_eq(zc_expand_path("%x", 5, out, sizeof out), 2);
	ck_assert_str_eq(out, "%x");

	/* Exactly fitting: 16 characters and the terminator. */
	ck_assert_int_eq(zc_expand_path("/tmp/zc.%p.json", 123, out, 17), 16);
	ck_assert_str_eq(out, "/tmp/zc.123.json");
	/* Too small, at every place the output can end. */
	for (size_t cap = 0; cap <= 16; cap++) {
		memset(out, '#', sizeof out);
		ck_assert_msg(zc_expand_path("/tmp/zc.%p.json", 123, out, cap) == -1,
			      "cap %zu accepted", cap);
		for (size_t i = cap; i < sizeof out; i++)
			ck_assert_msg(out[i] == '#', "cap %zu: byte %zu written", cap, i);
	}
	ck_assert_int_eq(zc_expand_path("ab%p", 12345, out, 7), -1);
	ck_assert_int_eq(zc_expand_path("ab%p", 12345, out, 8), 7);
	ck_assert_int_eq(zc_expand_path("a%%", 0, out, 2), -1);
	ck_assert_int_eq(zc_expand_path("a%%", 0, out, 3), 2);
}
END_TEST

START_TEST(test_stats_signal)
{
	static const struct { const char *in; int want; } good[] = {
		{ "USR2", SIGUSR2 }, { "SIGUSR1", SIGUSR1 }, { "usr1", SIGUSR1 },
		{ "sigusr2", SIGUSR2 }, { "HUP", SIGHUP }, { "none", 0 }, { "off", 0 },
		{ "0", 0 }, { "12", 12 }, { "WINCH", SIGWINCH },
	};
	static const char *bad[] = { "SEGV", "9", "KILL", "SIGKILL", "11", "STOP", "", "-1",
				     "USR3", "1x", "SIGSEGV", "6", "99999" };
	struct zc_config cfg;
	struct reports r;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_msg(parse1(&cfg, &r, "ZCSHIM_STATS_SIGNAL", good[i].in) == 0,
			      "\"%s\" reported", good[i].in);
		ck_assert_msg(cfg.stats_signal == good[i].want, "\"%s\" -> %d, expected %d",
			      good[i].in, cfg.stats_signal, good[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse1(&cfg, &r, "ZCSHIM_STATS_SIGNAL", bad[i]) == 1,
			      "\"%s\" not reported once", bad[i]);
		check_one_report(&r, "ZCSHIM_STATS_SIGNAL", bad[i]);
		ck_assert_int_eq(cfg.stats_signal, SIGUSR1);
	}
}
END_TEST

START_TEST(test_parse_signal)
{
	ck_assert_int_eq(zc_parse_signal(NULL), -1);
	ck_assert_int_eq(zc_parse_signal("RTMIN+0"), SIGRTMIN);
	ck_assert_int_eq(zc_parse_signal("SIGRTMIN+2"), SIGRTMIN + 2);
	ck_assert_int_eq(zc_parse_signal("RTMIN+-1"), -1);
	ck_assert_int_eq(zc_parse_signal("RTMIN+1000"), -1);
	ck_assert_int_eq(zc_parse_signal("RTMIN+x"), -1);
	ck_assert_int_eq(zc_parse_signal("PWR"), SIGPWR);
	ck_assert_int_eq(zc_parse_signal("URG"), SIGURG);
	ck_assert_int_eq(zc_parse_signal("SIG"), -1);
	ck_assert_int_eq(zc_parse_signal("BUS"), -1);
	ck_assert_int_eq(zc_parse_signal("7"), -1);      /* SIGBUS */
	ck_assert_int_eq(zc_parse_signal("4"), -1);      /* SIGILL */
	ck_assert_int_eq(zc_parse_signal("8"), -1);      /* SIGFPE */
	ck_assert_int_eq(zc_parse_signal("5"), -1);      /* SIGTRAP */
	ck_assert_int_eq(zc_parse_signal("19"), -1);     /* SIGSTOP */
	ck_assert_int_eq(zc_parse_signal("10"), SIGUSR1);
	{
		char buf[16];

		snprintf(buf, sizeof buf, "%d", SIGRTMAX);
		ck_assert_int_eq(zc_parse_signal(buf), SIGRTMAX);
		snprintf(buf, sizeof buf, "%d", SIGRTMAX + 1);
		ck_assert_int_eq(zc_parse_signal(buf), -1);
	}
}
END_TEST

/* "RTMIN+n" with n near LONG_MAX: SIGRTMIN + n overflows a long (undefined
 * behaviour), the wrapped sum passes the range check, and the truncated
 * value is returned: 33 for LONG_MAX, a signal glibc reserves for itself. */
START_TEST(test_parse_signal_rtmin_overflow)
{
	ck_assert_int_eq(zc_parse_signal("RTMIN+9223372036854775807"), -1);
	ck_assert_int_eq(zc_parse_signal("RTMIN+9223372036854775800"), -1);
}
END_TEST

/* "RTMIN+" with no number: strtol converts nothing, leaves end at the
 * terminator, and the text is taken as RTMIN+0. */
START_TEST(test_parse_signal_rtmin_empty)
{
	ck_assert_int_eq(zc_parse_signal("RTMIN+"), -1);
	ck_assert_int_eq(zc_parse_signal("SIGRTMIN+"), -1);
}
END_TEST

START_TEST(test_log)
{
	static const struct { const char *in; int want; } good[] = {
		{ "error", ZC_LOG_ERROR }, { "warn", ZC_LOG_WARN }, { "warning", ZC_LOG_WARN },
		{ "info", ZC_LOG_INFO }, { "debug", ZC_LOG_DEBUG }, { "DEBUG", ZC_LOG_DEBUG },
		{ "Error", ZC_LOG_ERROR },
	};
	static const char *bad[] = { "verbose", "", "3", "debug2" };
	struct zc_config cfg;
	struct reports r;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOG", good[i].in), 0);
		ck_assert_msg(cfg.log_level == good[i].want, "\"%s\" -> %d", good[i].in,
			      cfg.log_level);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_LOG", bad[i]), 1);
		check_one_report(&r, "ZCSHIM_LOG", bad[i]);
		ck_assert_int_eq(cfg.log_level, ZC_LOG_WARN);
	}
}
END_TEST

START_TEST(test_disable)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_DISABLE", "1"), 0);
	ck_assert_int_eq(cfg.disable, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_DISABLE", "yes"), 0);
	ck_assert_int_eq(cfg.disable, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_DISABLE", "0"), 0);
	ck_assert_int_eq(cfg.disable, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_DISABLE", ""), 0);
	ck_assert_int_eq(cfg.disable, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_DISABLE", "maybe"), 1);
	check_one_report(&r, "ZCSHIM_DISABLE", "maybe");
	ck_assert_int_eq(cfg.disable, 0);

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_NO_GUARD", "true"), 0);
	ck_assert_int_eq(cfg.test_no_guard, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_NO_GUARD", "2"), 1);
	check_one_report(&r, "ZCSHIM_TEST_NO_GUARD", "2");
	ck_assert_int_eq(cfg.test_no_guard, 0);

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_NO_ALTSTACK", "1"), 0);
	ck_assert_int_eq(cfg.test_no_altstack, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_NO_ALTSTACK", "yes please"), 1);
	check_one_report(&r, "ZCSHIM_TEST_NO_ALTSTACK", "yes please");
	ck_assert_int_eq(cfg.test_no_altstack, 0);
}
END_TEST

START_TEST(test_signals)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_SIGNALS", "block"), 0);
	ck_assert_int_eq(cfg.signals_block, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_SIGNALS", "BLOCK"), 0);
	ck_assert_int_eq(cfg.signals_block, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_SIGNALS", "defer"), 0);
	ck_assert_int_eq(cfg.signals_block, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_SIGNALS", ""), 0);
	ck_assert_int_eq(cfg.signals_block, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_SIGNALS", "mask"), 1);
	check_one_report(&r, "ZCSHIM_SIGNALS", "mask");
	ck_assert_int_eq(cfg.signals_block, 0);

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_HOLD_US", "200"), 0);
	ck_assert_uint_eq(cfg.test_hold_us, 200);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_HOLD_US", "100001"), 1);
	check_one_report(&r, "ZCSHIM_TEST_HOLD_US", "100001");
	ck_assert_uint_eq(cfg.test_hold_us, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_READER_DELAY_US", "50000"), 0);
	ck_assert_uint_eq(cfg.test_reader_delay_us, 50000);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_READER_DELAY_US", "x"), 1);
	check_one_report(&r, "ZCSHIM_TEST_READER_DELAY_US", "x");
	ck_assert_uint_eq(cfg.test_reader_delay_us, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_COPY_SIGNAL", "12"), 0);
	ck_assert_int_eq(cfg.test_copy_signal, 12);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_TEST_COPY_SIGNAL", "65"), 1);
	check_one_report(&r, "ZCSHIM_TEST_COPY_SIGNAL", "65");
	ck_assert_int_eq(cfg.test_copy_signal, 0);
}
END_TEST

START_TEST(test_align)
{
	struct zc_config cfg;
	struct reports r;

	zc_config_defaults(&cfg);
	ck_assert_int_eq(cfg.align, 0);   /* malloc() left alone by default */
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_ALIGN", "1"), 0);
	ck_assert_int_eq(cfg.align, 1);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_ALIGN", "0"), 0);
	ck_assert_int_eq(cfg.align, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_ALIGN", "page"), 1);
	check_one_report(&r, "ZCSHIM_ALIGN", "page");
	ck_assert_int_eq(cfg.align, 0);   /* a bad value keeps the default */
}
END_TEST

START_TEST(test_other_numbers)
{
	struct zc_config cfg;
	struct reports r;

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_COPIED_LIMIT", "0"), 0);
	ck_assert_uint_eq(cfg.copied_limit, 0);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_COPIED_LIMIT", "1000000"), 0);
	ck_assert_uint_eq(cfg.copied_limit, 1000000);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_COPIED_LIMIT", "1000001"), 1);
	check_one_report(&r, "ZCSHIM_COPIED_LIMIT", "1000001");
	ck_assert_uint_eq(cfg.copied_limit, ZC_DEFAULT_COPIED_LIMIT);

	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_MAX_INFLIGHT", "256M"), 0);
	ck_assert_uint_eq(cfg.max_inflight, (size_t)256 << 20);
	ck_assert_int_eq(parse1(&cfg, &r, "ZCSHIM_MAX_INFLIGHT", "lots"), 1);
	check_one_report(&r, "ZCSHIM_MAX_INFLIGHT", "lots");
	ck_assert_uint_eq(cfg.max_inflight, 0);
}
END_TEST

START_TEST(test_several_bad)
{
	struct zc_config cfg;
	struct reports r;
	struct env e;

	memset(&e, 0, sizeof e);
	memset(&r, 0, sizeof r);
	env_set(&e, "ZCSHIM_THRESHOLD", "huge");
	env_set(&e, "ZCSHIM_STALL_US", "100");
	env_set(&e, "ZCSHIM_LOG", "loud");
	env_set(&e, "ZCSHIM_STATS_SIGNAL", "USR2");
	ck_assert_int_eq(zc_config_parse(&cfg, env_get, &e, record, &r), 2);
	ck_assert_int_eq(r.n, 2);
	ck_assert(strstr(r.msg[0], "ZCSHIM_THRESHOLD") || strstr(r.msg[1], "ZCSHIM_THRESHOLD"));
	ck_assert(strstr(r.msg[0], "ZCSHIM_LOG") || strstr(r.msg[1], "ZCSHIM_LOG"));
	ck_assert_uint_eq(cfg.threshold, ZC_DEFAULT_THRESHOLD);
	ck_assert_uint_eq(cfg.stall_us, 100);
	ck_assert_int_eq(cfg.log_level, ZC_LOG_WARN);
	ck_assert_int_eq(cfg.stats_signal, SIGUSR2);

	/* Without a callback the count is still right. */
	ck_assert_int_eq(zc_config_parse(&cfg, env_get, &e, NULL, NULL), 2);
}
END_TEST

START_TEST(test_parse_size)
{
	size_t v = 777;

	ck_assert_int_eq(zc_parse_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(zc_parse_size("16G", &v), 0);
	ck_assert_uint_eq(v, (size_t)16 << 30);
	ck_assert_int_eq(zc_parse_size("3GiB", &v), 0);
	ck_assert_uint_eq(v, (size_t)3 << 30);
	ck_assert_int_eq(zc_parse_size("17B", &v), 0);
	ck_assert_uint_eq(v, 17);

	v = 777;
	ck_assert_int_eq(zc_parse_size(NULL, &v), -1);
	ck_assert_int_eq(zc_parse_size("", &v), -1);
	ck_assert_int_eq(zc_parse_size("12T", &v), -1);
	ck_assert_int_eq(zc_parse_size("12i", &v), -1);
	ck_assert_int_eq(zc_parse_size("+5", &v), -1);
	ck_assert_int_eq(zc_parse_size("0x10", &v), -1);
	/* Overflow, in the digits and in the suffix. */
	ck_assert_int_eq(zc_parse_size("99999999999999999999", &v), -1);
	ck_assert_int_eq(zc_parse_size("18446744073709551615K", &v), -1);
	ck_assert_int_eq(zc_parse_size("18446744073709551616", &v), -1);
	ck_assert_int_eq(zc_parse_size("17179869184G", &v), -1);      /* 2^64 */
	ck_assert_int_eq(zc_parse_size("18014398509481984K", &v), -1); /* 2^64 */
	ck_assert_uint_eq(v, 777);

	ck_assert_int_eq(zc_parse_size("17179869183G", &v), 0);
	ck_assert_uint_eq(v, (size_t)17179869183u << 30);
	ck_assert_int_eq(zc_parse_size("1844674407370955161", &v), 0);
	ck_assert_uint_eq(v, (size_t)1844674407370955161u);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_threshold_good);
	tcase_add_test(tc, test_threshold_bad);
	tcase_add_test(tc, test_local);
	tcase_add_test(tc, test_stall);
	tcase_add_test(tc, test_stats_dir);
	tcase_add_test(tc, test_stats_file);
	tcase_add_test(tc, test_expand_path);
	tcase_add_test(tc, test_stats_signal);
	tcase_add_test(tc, test_parse_signal);
	tcase_add_test(tc, test_parse_signal_rtmin_overflow);
	tcase_add_test(tc, test_parse_signal_rtmin_empty);
	tcase_add_test(tc, test_log);
	tcase_add_test(tc, test_disable);
	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_align);
	tcase_add_test(tc, test_other_numbers);
	tcase_add_test(tc, test_several_bad);
	tcase_add_test(tc, test_parse_size);
	suite_add_tcase(s, tc);
	return s;
}
