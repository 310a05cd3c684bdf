/*
 * check_stats.c - the statistics line (stats.c): zc_stats_format writes
 * one JSON object and a newline with pid, ts (seconds.milliseconds),
 * version (escaped) and every field of ZCSHIM_STATS_FIELDS, in that
 * order, with the snapshot's values; returns 0 when the buffer is too
 * small; and the inflight gauge keeps its high-water mark. The JSON is
 * checked with a small parser below, not an external library.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stats.h"
#include "suites.h"

static const char *field_names[] = {
#define NAME(name, what) #name,
	ZCSHIM_STATS_FIELDS(NAME)
#undef NAME
};
#define NFIELDS (sizeof field_names / sizeof field_names[0])

/* A snapshot where field i holds i * 1000 + 7, and one holds UINT64_MAX. */
static void fill(struct zc_stats *s, size_t max_field)
{
	uint64_t i = 0;

#define SET(name, what) s->name = i++ * 1000 + 7;
	ZCSHIM_STATS_FIELDS(SET)
#undef SET
	i = 0;
#define SETMAX(name, what) if (i++ == max_field) s->name = UINT64_MAX;
	ZCSHIM_STATS_FIELDS(SETMAX)
#undef SETMAX
}

/*
 * The JSON checker: an object of "key":value pairs separated by commas,
 * where a value is a number (digits, optionally '.' and digits) or a
 * string; then "\n" and the end. Keys and raw value texts are recorded.
 */
#define MAXPAIRS 96

struct pairs {
	int n;
	char key[MAXPAIRS][64];
	char val[MAXPAIRS][128];   /* numbers as written, strings unescaped */
	int is_str[MAXPAIRS];
};

/* Parse a JSON string at *p (at its opening quote) into out. */
static int json_string(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	size_t n = 0;

	if (*s++ != '"')
		return -1;
	while (*s != '"') {
		char c = *s++;

		if ((unsigned char)c < 0x20)
			return -1;          /* control characters must be escaped */
		if (c == '\\') {
			c = *s++;
			if (c == 'u') {
				unsigned v = 0;

				for (int k = 0; k < 4; k++, s++) {
					if (*s >= '0' && *s <= '9')
						v = v * 16 + (unsigned)(*s - '0');
					else if (*s >= 'a' && *s <= 'f')
						v = v * 16 + (unsigned)(*s - 'a' + 10);
					else if (*s >= 'A' && *s <= 'F')
						v = v * 16 + (unsigned)(*s - 'A' + 10);
					else
						return -1;
				}
				if (v > 0x7f)
					return -1;
				c = (char)v;
			} else if (c == 'n') {
				c = '\n';
			} else if (c == 't') {
				c = '\t';
			} else if (c != '"' && c != '\\' && c != '/') {
				return -1;
			}
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

static int json_number(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	size_t n;

	if (*s < '0' || *s > '9')
		return -1;
	if (*s == '0' && s[1] >= '0' && s[1] <= '9')
		return -1;                  /* no leading zeros */
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	n = (size_t)(s - *p);
	if (n >= cap)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = s;
	return 0;
}

/* 0 if line is one valid object and a newline; fills pairs. */
static int json_check(const char *line, struct pairs *pr)
{
	const char *p = line;
	int depth = 0;

	memset(pr, 0, sizeof *pr);
	if (*p++ != '{')
		return -1;
	depth++;
	for (;;) {
		if (pr->n == MAXPAIRS)
			return -2;
		if (json_string(&p, pr->key[pr->n], sizeof pr->key[0]))
			return -3;
		if (*p++ != ':')
			return -4;
		if (*p == '"') {
			if (json_string(&p, pr->val[pr->n], sizeof pr->val[0]))
				return -5;
			pr->is_str[pr->n] = 1;
		} else if (json_number(&p, pr->val[pr->n], sizeof pr->val[0])) {
			return -6;
		}
		pr->n++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}') {
			p++;
			depth--;
			break;
		}
		return -7;
	}
	if (depth != 0)
		return -8;
	if (*p++ != '\n')
		return -9;
	return *p == '\0' ? 0 : -10;
}

static int find_key(const struct pairs *pr, const char *key)
{
	int at = -1;

	for (int i = 0; i < pr->n; i++) {
		if (!strcmp(pr->key[i], key)) {
			if (at >= 0)
				return -2;          /* twice */
			at = i;
		}
	}
	return at;
}

START_TEST(test_checker_rejects)
{
	struct pairs pr;

	/* The checker itself must be able to fail. */
	ck_assert_int_eq(json_check("{\"a\":1,\"b\":\"x\"}\n", &pr), 0);
	ck_assert_int_eq(pr.n, 2);
	ck_assert_int_ne(json_check("{\"a\":1,\"b\":2\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":1,}\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":1}", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":1}\n\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":01}\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":1.}\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":\"x\"y\"}\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\":\"x\\q\"}\n", &pr), 0);
	ck_assert_int_ne(json_check("{\"a\" 1}\n", &pr), 0);
	ck_assert_int_ne(json_check("{a:1}\n", &pr), 0);
}
END_TEST

START_TEST(test_format_fields)
{
	char buf[4096];
	char want[32];
	struct zc_stats s;
	struct pairs pr;
	struct timespec ts = { 1700000000, 5000000 };
	size_t max_field = NFIELDS / 2;
	size_t len;
	int at;

	memset(&s, 0, sizeof s);
	fill(&s, max_field);
	len = zc_stats_format(buf, sizeof buf, &s, 4321, &ts, "0.1.0");
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_int_eq(buf[len - 1], '\n');
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + len - 1);    /* one line */
	ck_assert_int_eq(strncmp(buf, "{\"pid\":", 7), 0);
	ck_assert_int_eq(json_check(buf, &pr), 0);

	ck_assert_int_eq(pr.n, (int)NFIELDS + 4);
	ck_assert_str_eq(pr.key[0], "pid");
	ck_assert_str_eq(pr.val[0], "4321");
	ck_assert_str_eq(pr.key[1], "ts");
	ck_assert_str_eq(pr.val[1], "1700000000.005");
	ck_assert_str_eq(pr.key[2], "version");
	ck_assert(pr.is_str[2]);
	ck_assert_str_eq(pr.val[2], "0.1.0");
	ck_assert_str_eq(pr.key[3], "guard");   /* the backend's name */
	ck_assert(pr.is_str[3]);

	for (size_t i = 0; i < NFIELDS; i++) {
		at = find_key(&pr, field_names[i]);
		ck_assert_msg(at >= 0, "field %s missing or repeated", field_names[i]);
		ck_assert_int_eq(at, (int)i + 4);       /* in the header's order */
		ck_assert(!pr.is_str[at]);
		if (i == max_field)
			snprintf(want, sizeof want, "18446744073709551615");
		else
			snprintf(want, sizeof want, "%zu", i * 1000 + 7);
		ck_assert_msg(!strcmp(pr.val[at], want), "%s is %s, expected %s",
			      field_names[i], pr.val[at], want);
	}
	/* The extreme value, and the other end: zero. */
	ck_assert_ptr_nonnull(strstr(buf, ":18446744073709551615"));
	memset(&s, 0, sizeof s);
	len = zc_stats_format(buf, sizeof buf, &s, 0, &ts, "v");
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(json_check(buf, &pr), 0);
	for (size_t i = 0; i < NFIELDS; i++)
		ck_assert_str_eq(pr.val[i + 4], "0");
	ck_assert_str_eq(pr.val[0], "0");
}
END_TEST

START_TEST(test_format_ts)
{
	static const struct { time_t sec; long nsec; const char *want; } cases[] = {
		{ 1700000000, 5000000, "1700000000.005" },
		{ 1700000000, 0, "1700000000.000" },
		{ 1700000000, 999999999, "1700000000.999" },
		{ 12, 123456789, "12.123" },
		{ 0, 50000000, "0.050" },
		{ 3, 999999, "3.000" },
		{ 3, 1000000, "3.001" },
	};
	char buf[4096];
	struct zc_stats s;
	struct pairs pr;

	memset(&s, 0, sizeof s);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct timespec ts = { cases[i].sec, cases[i].nsec };

		ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, 1, &ts, "x"), 0);
		ck_assert_int_eq(json_check(buf, &pr), 0);
		ck_assert_str_eq(pr.key[1], "ts");
		ck_assert_str_eq(pr.val[1], cases[i].want);
	}
}
END_TEST

START_TEST(test_format_small)
{
	char buf[4096], small[4096];
	struct zc_stats s;
	struct timespec ts = { 1700000000, 5000000 };
	size_t len;

	memset(&s, 0, sizeof s);
	fill(&s, 3);
	len = zc_stats_format(buf, sizeof buf, &s, 99, &ts, "0.1.0");
	ck_assert_uint_gt(len, 100);

	/* The line and its terminator fit exactly. */
	memset(small, '#', sizeof small);
	ck_assert_uint_eq(zc_stats_format(small, len + 1, &s, 99, &ts, "0.1.0"), len);
	ck_assert_str_eq(small, buf);

	/* One byte less, or much less, or nothing: 0, and nothing written
	 * past the end. */
	for (size_t cap = 0; cap <= len; cap += (cap < 20 || cap > len - 20) ? 1 : 37) {
		memset(small, '#', sizeof small);
		ck_assert_msg(zc_stats_format(small, cap, &s, 99, &ts, "0.1.0") == 0,
			      "cap %zu accepted", cap);
		for (size_t i = cap; i < sizeof small; i++)
			ck_assert_msg(small[i] == '#', "cap %zu: byte %zu written", cap, i);
	}
}
END_TEST

START_TEST(test_format_escape)
{
	char buf[4096];
	struct zc_stats s;
	struct pairs pr;
	struct timespec ts = { 1, 0 };

	memset(&s, 0, sizeof s);
	ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, 7, &ts, "1.0 \"beta\" C:\\x"), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"version\":\"1.0 \\\"beta\\\" C:\\\\x\","));
	ck_assert_int_eq(json_check(buf, &pr), 0);
	ck_assert_str_eq(pr.val[2], "1.0 \"beta\" C:\\x");

	/* Control characters become \u00XX: the line stays one line. */
	ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, 7, &ts, "a\nb\x01"), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"a\\u000ab\\u0001\""));
	ck_assert_int_eq(json_check(buf, &pr), 0);
	ck_assert_str_eq(pr.val[2], "a\nb\x01");

	ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, 7, &ts, "\x1f~\x7f"), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"\\u001f~\x7f\""));
	ck_assert_int_eq(json_check(buf, &pr), 0);

	ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, 7, &ts, ""), 0);
	ck_assert_int_eq(json_check(buf, &pr), 0);
	ck_assert_str_eq(pr.val[2], "");

	/* A negative pid is written as 0, not as a huge number. */
	ck_assert_uint_gt(zc_stats_format(buf, sizeof buf, &s, -5, &ts, "v"), 0);
	ck_assert_int_eq(json_check(buf, &pr), 0);
	ck_assert_str_eq(pr.val[0], "0");
}
END_TEST

START_TEST(test_inflight)
{
	struct zc_stats snap;

	zc_stats_reset();
	zc_stats_inflight(1);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 1);
	ck_assert_uint_eq(snap.inflight_max_bytes, 1);
	zc_stats_inflight(1);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_max_bytes, 2);
	zc_stats_inflight(-2);

	zc_stats_reset();
	zc_stats_inflight(100);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 100);
	ck_assert_uint_eq(snap.inflight_max_bytes, 100);

	zc_stats_inflight(-40);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 60);
	ck_assert_uint_eq(snap.inflight_max_bytes, 100);

	zc_stats_inflight(30);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 90);
	ck_assert_uint_eq(snap.inflight_max_bytes, 100);

	zc_stats_inflight(50);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 140);
	ck_assert_uint_eq(snap.inflight_max_bytes, 140);

	zc_stats_inflight(-140);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 0);
	ck_assert_uint_eq(snap.inflight_max_bytes, 140);

	/* Counters and reset. */
	ZC_STAT_ADD(zc_sends, 3);
	ZC_STAT_ADD(zc_bytes, 1 << 20);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.zc_sends, 3);
	ck_assert_uint_eq(snap.zc_bytes, 1 << 20);
	zc_stats_reset();
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.zc_sends, 0);
	ck_assert_uint_eq(snap.zc_bytes, 0);
	ck_assert_uint_eq(snap.inflight_max_bytes, 0);
	ck_assert_uint_eq(snap.inflight_bytes, 0);
}
END_TEST

#define THREADS 4
#define UNIT 1000

static void *inflight_worker(void *arg)
{
	for (int i = 0; i < 20000; i++) {
		zc_stats_inflight(UNIT);
		zc_stats_inflight(-UNIT);
	}
	return arg;
}

/* Concurrent updates: the gauge returns to zero and the high water is
 * a value the gauge really had (a multiple of UNIT, at most THREADS). */
START_TEST(test_inflight_threads)
{
	pthread_t th[THREADS];
	struct zc_stats snap;

	zc_stats_reset();
	zc_stats_inflight(5 * UNIT);
	zc_stats_inflight(-5 * UNIT);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, inflight_worker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 0);
	ck_assert_uint_eq(snap.inflight_max_bytes, 5 * UNIT);

	zc_stats_reset();
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, inflight_worker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	zc_stats_snapshot(&snap);
	ck_assert_uint_eq(snap.inflight_bytes, 0);
	ck_assert_uint_ge(snap.inflight_max_bytes, UNIT);
	ck_assert_uint_le(snap.inflight_max_bytes, THREADS * UNIT);
	ck_assert_uint_eq(snap.inflight_max_bytes % UNIT, 0);
}
END_TEST

/* The counters are the start of the live page (stats.h): zc_stats is an
 * alias of zc_live_page, which is page-aligned for any page size, and the
 * counters and their names end before the header. */
START_TEST(test_live_layout)
{
	ck_assert_ptr_eq((void *)&zc_stats, (void *)&zc_live_page);
	ck_assert_uint_eq((uintptr_t)&zc_live_page % ZC_LIVE_OBJ, 0);
	ck_assert_uint_le(sizeof(struct zc_stats), ZC_LIVE_HDR_OFF);
	ck_assert_uint_eq(ZC_LIVE_HDR_OFF % 8, 0);
	ZC_STAT_ADD(zc_sends, 3);
	ck_assert_uint_eq(((uint64_t *)(void *)&zc_live_page)[0], zc_stats.zc_sends);
	zc_stats_reset();
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_checker_rejects);
	tcase_add_test(tc, test_format_fields);
	tcase_add_test(tc, test_format_ts);
	tcase_add_test(tc, test_format_small);
	tcase_add_test(tc, test_format_escape);
	tcase_add_test(tc, test_inflight);
	tcase_add_test(tc, test_inflight_threads);
	tcase_add_test(tc, test_live_layout);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
