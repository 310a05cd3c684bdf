/*
 * statspage.h - the live stats page, DIR/PID.stats, that zcstat reads
 * without a signal. Its layout is stats.h's; where it is, who writes it,
 * the reader's consistency rule and the directory's bound: statspage.c.
 */
#ifndef ZC_STATSPAGE_H
#define ZC_STATSPAGE_H

/* At start, after the settings (not signal context): choose the directory
 * (ZCSHIM_STATS_DIR, else the stats file's default places; secure: no
 * environment), make the page, map it under the counters. A failure is
 * said once; the program runs on with its counters unshared. */
void zc_statspage_init(int secure);

/* Child reset (fork.c): leave the parent's page, make the child's own.
 * Async-signal-safe. */
void zc_statspage_child(void);

/* The page's directory, or NULL (none, or refused). */
const char *zc_statspage_dir(void);

#endif
