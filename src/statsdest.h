/*
 * statsdest.h - where the stats line goes.
 *
 * ZCSHIM_STATS_FILE names a file (%p is the pid), or "stderr". Unset, the
 * line goes to a per-pid file in the first usable runtime directory, so
 * that daemons whose standard error is /dev/null still leave it where
 * zcstat looks:
 *   /run/zcshim/PID.json          (created 1777 by the first root process)
 *   $XDG_RUNTIME_DIR/zcshim/PID.json
 *   /tmp/zcshim-UID/PID.json      (created 0700, must be the user's own)
 * and standard error if none is.
 */
#ifndef ZC_STATSDEST_H
#define ZC_STATSDEST_H

#include <stddef.h>

/* Decide the path template once, at start (not signal context). */
void zc_statsdest_init(void);

/* The template in force ("" means standard error). */
const char *zc_statsdest_template(void);

/* Open the stats file for appending, safely: no symbolic link followed
 * (O_NOFOLLOW), created 0600, never truncated, and only a regular file
 * owned by this user. Returns the fd (2 for standard error), or -1; the
 * first failure is reported once on standard error. Async-signal-safe. */
int zc_statsdest_open(void);

#endif
