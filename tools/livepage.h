/*
 * livepage.h - zcstat's reader of the live stats pages libzcshim keeps
 * (DIR/PID.stats; layout in src/shared/stats.h, writer and consistency
 * rule in src/shared/statspage.c).
 */
#ifndef ZC_LIVEPAGE_H
#define ZC_LIVEPAGE_H

#include <stdint.h>
#include <sys/types.h>

#define LP_MAXFIELDS 256

enum { LP_RUNNING, LP_EXITED, LP_GONE };

struct lp_snap {
	int pid;
	int state;                 /* LP_* */
	char comm[17];
	char version[33];
	char path[1024];
	uid_t owner;
	uint64_t start_ticks, created_ns, exited_ns;
	double ts;                 /* when read (CLOCK_REALTIME seconds) */
	unsigned nfields;
	char names[LP_MAXFIELDS][64];
	uint64_t v[LP_MAXFIELDS];
};

/* The directories pages may be in, most specific first: dir (--dir) if
 * given, then ZCSHIM_STATS_DIR of this process and of pid (if pid > 0 and
 * its environment is readable) or of the processes called name, then
 * /run/zcshim, $XDG_RUNTIME_DIR/zcshim, and /tmp/zcshim-* of the users
 * concerned (root: of all). */
int lp_dirs(const char *dir, int pid, const char *name, char out[][1024], int max);

/* Read pid's newest page into s. 0, -1 (none found), -2 (only pages
 * this user may not read: another user's process), or -3 (the pid is a
 * live process's, the page in s an earlier one's). */
int lp_read_pid(const char *dir, int pid, struct lp_snap *s);

/* The pages in the directories, at most max, one per pid (its newest):
 * of running processes, and with ended of exited and gone ones too;
 * name: only those whose comm is name. */
int lp_read_all(const char *dir, const char *name, int ended, struct lp_snap *out, int max);

/* s's value of field name, or 0. */
uint64_t lp_get(const struct lp_snap *s, const char *name);

const char *lp_state_name(int state);

/* The file at path into buf (at most cap - 1 bytes, then a NUL): its
 * length, or -1 if it cannot be opened. */
ssize_t lp_slurp(const char *path, char *buf, size_t cap);

#endif
