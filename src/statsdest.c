/*
 * statsdest.c - the stats file: its default place and safe opening.
 *
 * Signal-context invariant: zc_statsdest_open runs in the stats signal
 * handler. It uses only open, fstat, close, write, getpid and geteuid and
 * the stack.
 */
#include "statsdest.h"
#include "settings.h"
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpl[ZC_STATS_PATH_MAX];
static int reported;

/* A directory the stats may go to: a real directory (not a link), either
 * ours and private, or world-writable with the sticky bit (like /tmp). */
static int usable_dir(const char *dir, int want_private)
{
	struct stat st;

	if (lstat(dir, &st) || !S_ISDIR(st.st_mode))
		return 0;
	if (want_private)
		return st.st_uid == geteuid() && !(st.st_mode & 077);
	if ((st.st_mode & 01777) == 01777)
		return access(dir, W_OK | X_OK) == 0;
	return st.st_uid == geteuid() && access(dir, W_OK | X_OK) == 0;
}

static int set_dir(const char *dir)
{
	if (strlen(dir) + sizeof "/%p.json" > sizeof tmpl)
		return 0;
	snprintf(tmpl, sizeof tmpl, "%s/%%p.json", dir);
	return 1;
}

void zc_statsdest_init(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[ZC_STATS_PATH_MAX];

	if (zc_cfg.stats_path[0]) {
		if (strcmp(zc_cfg.stats_path, "stderr") && strcmp(zc_cfg.stats_path, "-"))
			snprintf(tmpl, sizeof tmpl, "%s", zc_cfg.stats_path);
		return;
	}
	/* /run/zcshim: shared by every user's processes, like /tmp. */
	if (!usable_dir("/run/zcshim", 0) && geteuid() == 0 &&
	    mkdir("/run/zcshim", 01777) == 0)
		chmod("/run/zcshim", 01777);   /* whatever the umask took away */
	if (usable_dir("/run/zcshim", 0) && set_dir("/run/zcshim"))
		return;
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof dir - 16) {
		snprintf(dir, sizeof dir, "%s/zcshim", xdg);
		mkdir(dir, 0700);
		if (usable_dir(dir, 1) && set_dir(dir))
			return;
	}
	snprintf(dir, sizeof dir, "/tmp/zcshim-%u", (unsigned)geteuid());
	mkdir(dir, 0700);
	if (usable_dir(dir, 1) && set_dir(dir))
		return;
	tmpl[0] = '\0';   /* standard error */
}

const char *zc_statsdest_template(void)
{
	return tmpl;
}

static void report_once(const char *path, const char *why)
{
	static const char a[] = "libzcshim: cannot write the stats line to ";
	static const char b[] = " (";
	static const char c[] = "); set ZCSHIM_STATS_FILE to a file this user may create\n";
	ssize_t r;

	if (__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	r = zc_real.write(2, a, sizeof a - 1);
	r = zc_real.write(2, path, strlen(path));
	r = zc_real.write(2, b, sizeof b - 1);
	r = zc_real.write(2, why, strlen(why));
	r = zc_real.write(2, c, sizeof c - 1);
	(void)r;
}

int zc_statsdest_open(void)
{
	char path[ZC_STATS_PATH_MAX];
	struct stat st;
	int fd;

	if (!tmpl[0])
		return 2;
	if (zc_expand_path(tmpl, (int)getpid(), path, sizeof path) <= 0) {
		report_once(tmpl, "the path is too long");
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		report_once(path, errno == ELOOP ? "it is a symbolic link"
				  : errno == EACCES ? "permission denied"
				  : errno == ENOENT ? "no such directory"
				  : "open failed");
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		zc_real.close(fd);
		report_once(path, "not a regular file of this user");
		return -1;
	}
	return fd;
}
