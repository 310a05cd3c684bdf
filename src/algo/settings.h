/*
 * settings.h - the operator's settings, read once from the environment.
 *
 * Parsing is pure (no globals, no I/O): it takes a lookup function and a
 * reporting function so the unit tests can drive it with any environment.
 */
#ifndef ZC_SETTINGS_H
#define ZC_SETTINGS_H

/* ZCSHIM_GUARD: which guard backend (guard.c, choose_backend). */
enum { ZC_GUARD_AUTO = 0, ZC_GUARD_UFFD = 1, ZC_GUARD_MPROTECT = 2 };

#include <stddef.h>
#include <stdint.h>

enum zc_log_level { ZC_LOG_ERROR = 0, ZC_LOG_WARN, ZC_LOG_INFO, ZC_LOG_DEBUG };

#define ZC_STATS_PATH_MAX 512

struct zc_config {
	size_t threshold;          /* ZCSHIM_THRESHOLD: smallest payload sent with zerocopy */
	int local_force;           /* ZCSHIM_LOCAL=force: zerocopy to local peers too */
	uint32_t stall_us;         /* ZCSHIM_STALL_US: wait for a completion before copy-on-write */
	char stats_path[ZC_STATS_PATH_MAX]; /* ZCSHIM_STATS_FILE; "" means the default place */
	int stats_signal;          /* ZCSHIM_STATS_SIGNAL; 0 means none */
	char stats_dir[ZC_STATS_PATH_MAX]; /* ZCSHIM_STATS_DIR: the live page's directory; "" default, "none" */
	int log_level;             /* ZCSHIM_LOG */
	int disable;               /* ZCSHIM_DISABLE=1: pass everything through */
	uint32_t copied_limit;     /* ZCSHIM_COPIED_LIMIT: COPIED completions before a socket stops */
	size_t max_inflight;       /* ZCSHIM_MAX_INFLIGHT: cap on unreleased zerocopy bytes, 0 = auto */
	int adapt;                 /* ZCSHIM_ADAPT: copy buffers rewritten between sends */
	int align;                 /* ZCSHIM_ALIGN: large malloc() blocks on a page boundary */
	int signals_block;         /* ZCSHIM_SIGNALS=block: block signals in critical sections */
	int guard;                 /* ZCSHIM_GUARD: ZC_GUARD_AUTO, _UFFD or _MPROTECT */
#ifdef ZC_TEST_HOOKS              /* the test build only: testhooks.h */
	int test_no_guard;         /* ZCSHIM_TEST_NO_GUARD=1: sends unguarded */
	int test_no_altstack;      /* ZCSHIM_TEST_NO_ALTSTACK=1: no alternate stack (scripts/memcheck) */
	uint32_t test_hold_us;     /* ZCSHIM_TEST_HOLD_US: lengthen critical sections */
	int test_copy_signal;      /* ZCSHIM_TEST_COPY_SIGNAL: a signal in the first bounce copy */
	uint32_t test_reader_delay_us; /* ZCSHIM_TEST_READER_DELAY_US: hold reports read, not queued */
#endif
};

#define ZC_DEFAULT_THRESHOLD (64u * 1024u)
#define ZC_DEFAULT_STALL_US 50u
#define ZC_MAX_STALL_US 10000000u
#define ZC_MAX_TEST_HOLD_US 100000u
#define ZC_DEFAULT_COPIED_LIMIT 16u
#define ZC_MAX_THRESHOLD ((size_t)1 << 30)

typedef const char *(*zc_getenv_fn)(const char *name, void *ctx);
typedef void (*zc_report_fn)(const char *message, void *ctx);

void zc_config_defaults(struct zc_config *cfg);

/* Fill cfg from the lookup; each malformed value is reported once through
 * report (naming the variable, the value and what is used instead) and
 * replaced by its default. Returns the number of values reported. */
int zc_config_parse(struct zc_config *cfg, zc_getenv_fn get, void *ctx,
		    zc_report_fn report, void *report_ctx);

/* "64K" -> 65536. Returns 0 on success, -1 if s is not a byte count. */
int zc_parse_size(const char *s, size_t *out);

/* "USR1", "SIGUSR1", "12", "none" -> signal number (0 for none); -1 if bad. */
int zc_parse_signal(const char *s);

/* Expand %p (pid) and %% in a stats path template into out. Async-signal-safe.
 * Returns the length, or -1 if it does not fit. */
int zc_expand_path(const char *tmpl, int pid, char *out, size_t cap);

#endif
