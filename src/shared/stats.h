/*
 * stats.h - the shim's counters and their one-line JSON form.
 *
 * Counters are relaxed atomics: every path may bump them, including the
 * fault handler, and the stats signal handler reads them without a lock.
 */
#ifndef ZC_STATS_H
#define ZC_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "zcshim.h"

struct zc_stats {
#define ZC_STATS_MEMBER(name, what) uint64_t name;
	ZCSHIM_STATS_FIELDS(ZC_STATS_MEMBER)
#undef ZC_STATS_MEMBER
};

extern struct zc_stats zc_stats;
/* The guard backend in use and whether kernel writes into its pages wait:
 * for the stats line (set by guard.c, which owns the choice). */
extern const char *zc_stats_guard;
extern int zc_stats_guard_kernel_faults;

#define ZC_STAT_ADD(name, v) __atomic_fetch_add(&zc_stats.name, (uint64_t)(v), __ATOMIC_RELAXED)

/* inflight_bytes += delta, keeping inflight_max_bytes as the high water. */
void zc_stats_inflight(int64_t delta);

/* Copy the counters with relaxed loads. Async-signal-safe. */
void zc_stats_snapshot(struct zc_stats *out);

/* Zero every counter (a forked child starts its own account). */
void zc_stats_reset(void);

/* One JSON object and a newline: {"pid":N,"ts":S.mmm,"version":"V",<fields>}.
 * Async-signal-safe (no malloc, no stdio). Returns the length written, or 0
 * if cap is too small. */
size_t zc_stats_format(char *buf, size_t cap, const struct zc_stats *s, int pid,
		       const struct timespec *now, const char *version);

/* Append the current line to the configured stats file (or standard error).
 * Async-signal-safe: it runs in the stats signal handler. */
void zc_stats_dump(void);

#endif
