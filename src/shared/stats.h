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

/*
 * The live page (statspage.c): what zcstat reads, file-backed and shared
 * at /run/zcshim/PID.stats (or another stats directory). The counters are
 * stored in it, so that every ZC_STAT_ADD writes the file's page with no
 * system call: zc_stats is the start of zc_live_page, a page-aligned
 * object in .bss whose first page statspage.c replaces with a MAP_SHARED
 * mapping of the file (a process without a file keeps the anonymous page:
 * nothing else changes). Same address, same one instruction per counter
 * as a plain global.
 *
 * Layout (version ZC_LIVE_VERSION): the counters in X-macro order at
 * offset 0 (nfields 64-bit words), their names after them (NUL-separated,
 * names_len bytes at names_off), the header at ZC_LIVE_HDR_OFF. A field
 * added at the end of ZCSHIM_STATS_FIELDS changes nfields and the names,
 * not the version.
 */
#define ZC_LIVE_MAGIC "ZCSHIMLV"
#define ZC_LIVE_VERSION 1
#define ZC_LIVE_HDR_OFF 3072
#define ZC_LIVE_OBJ 65536       /* the largest page size */
enum { ZC_LIVE_STARTING = 0, ZC_LIVE_RUNNING = 1, ZC_LIVE_EXITED = 2 };

struct zc_live_hdr {
	char magic[8];             /* ZC_LIVE_MAGIC */
	uint32_t version;          /* ZC_LIVE_VERSION */
	uint32_t page_size;        /* the file's size */
	uint32_t counters_off, nfields;
	uint32_t names_off, names_len;
	uint32_t seq;              /* odd while the header changes (seqlock) */
	uint32_t state;            /* ZC_LIVE_*; RUNNING is stored last at start */
	int32_t pid;
	uint32_t uid;              /* effective uid at creation */
	uint64_t start_ticks;      /* /proc/PID/stat starttime: pid reuse test */
	uint64_t created_ns;       /* CLOCK_REALTIME when the page was made */
	uint64_t exited_ns;        /* CLOCK_REALTIME at exit (state EXITED) */
	char comm[16];             /* the thread name at creation */
	char version_str[32];      /* PACKAGE_VERSION */
};

union zc_live_page {
	struct zc_stats counters;  /* zc_stats is this, by alias (stats.c) */
	char bytes[ZC_LIVE_OBJ];
};
extern union zc_live_page zc_live_page;
extern struct zc_stats zc_stats;
#define zc_live_hdr_of(page) ((struct zc_live_hdr *)((char *)(page) + ZC_LIVE_HDR_OFF))
/* The guard backend in use and whether kernel writes into its pages wait:
 * for the stats line (set by guard.c, which owns the choice). */
extern const char *zc_stats_guard;
extern int zc_stats_guard_kernel_faults;

#define ZC_STAT_ADD(name, v) __atomic_fetch_add(&zc_stats.name, (uint64_t)(v), __ATOMIC_RELAXED)

/* The same for a counter that is only ever changed with the global lock
 * held (completions): a
 * load and a store, no locked instruction (three of them were half of
 * commit_locked's own time). A reader without the lock sees the old or
 * the new value, as with ZC_STAT_ADD. Every change of such a counter
 * must use this macro under the lock, or lose counts. */
#define ZC_STAT_ADD_LOCKED(name, v)                                                     \
	__atomic_store_n(&zc_stats.name,                                                \
			 __atomic_load_n(&zc_stats.name, __ATOMIC_RELAXED) + (uint64_t)(v), \
			 __ATOMIC_RELAXED)

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

/* The program installed handler for the stats signal sig: warn once that
 * each stats signal reaches it. in_handler: called from a signal handler
 * (no symbol lookup, no stdio: the address only). */
void zc_stats_warn_handler(int sig, void *handler, int in_handler);

/* Append the current line to the configured stats file (or standard error).
 * Async-signal-safe: it runs in the stats signal handler. */
void zc_stats_dump(void);

#endif
