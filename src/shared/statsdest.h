/*
 * statsdest.h - where the stats line goes.
 *
 * ZCSHIM_STATS_FILE names a file (%p in its name is the pid), or "stderr".
 * Unset (and always in a secure-execution process, which takes no setting
 * from its environment), the line goes to a per-pid file in the first
 * usable runtime directory, so that daemons whose standard error is
 * /dev/null still leave it where zcstat looks:
 *   /run/zcshim/PID.json          (created 1777 by the first root process)
 *   $XDG_RUNTIME_DIR/zcshim/PID.json
 *   /tmp/zcshim-UID/PID.json      (created 0700, must be the user's own)
 * and standard error if none is (nowhere, in a secure-execution process:
 * its standard error is its caller's). Where the line may go, and why a
 * local user cannot redirect it: statsdest.c.
 */
#ifndef ZC_STATSDEST_H
#define ZC_STATSDEST_H

#include <stddef.h>

/* Decide and check the place once, at start (not signal context); secure:
 * ignore XDG_RUNTIME_DIR, never standard error. */
void zc_statsdest_init(int secure);

/* Where the line goes, for the start-up log: a path template, "standard
 * error" or "nowhere". */
const char *zc_statsdest_describe(void);

/* Open the stats file for appending, safely: never blocking, no symbolic
 * link followed, created 0600, never truncated, only a regular file of
 * this user with one link, in the directory checked at start. Returns the
 * fd (2 for standard error), or -1; the first failure is reported once on
 * standard error. Async-signal-safe. */
int zc_statsdest_open(void);

/* The checks, for the live stats page (statspage.c). checkdir: resolve
 * and check directory d as the stats file's is (at start; not signal
 * context): NULL with the canonical path in canon, or why, with the path
 * at fault in bad. unsafe_dir/unsafe_file: why a directory another user
 * may change, or a file not to be written, is refused, or NULL.
 * Async-signal-safe. */
const char *zc_statsdest_checkdir(const char *d, int want_private, int writable,
				  char *canon, size_t cap, char *bad, size_t badcap);
struct stat;
const char *zc_statsdest_unsafe_dir(const struct stat *st);
const char *zc_statsdest_unsafe_file(const struct stat *st);

#endif
