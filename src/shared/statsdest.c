/*
 * statsdest.c - the stats file: its place, decided once, and its safe
 * opening, at every stats signal.
 *
 * The promise: nothing another local user can put in a shared directory
 * stops the program or redirects its stats line. So:
 *  - the directory is resolved and checked once, at start, component by
 *    component (walk): every directory on the way belongs to root or to
 *    the user the process runs as, and is writable by no one else unless
 *    it has the sticky bit (where no one may rename or remove another's
 *    entries: /tmp, /run/zcshim); a symbolic link on the way is followed
 *    only where no other user could have put it. What that leaves in
 *    place can only be changed by root or this user. Only the file name
 *    has %p; the directory string is never expanded, so the directory
 *    checked is the directory written to;
 *  - at each signal the directory is opened without following a link and
 *    checked again on the descriptor, and the file is reached with openat
 *    on it: no check-then-use window on the path;
 *  - the file is opened only if it is a regular file of this user with one
 *    link (fstatat before, fstat after), or created 0600 with O_EXCL; the
 *    open is O_NONBLOCK, so a FIFO put there between the two never waits
 *    for a reader (ENXIO), and O_NOCTTY, O_NOFOLLOW, O_APPEND: never a
 *    terminal, a link or a truncation;
 *  - a file that is refused is reported once on standard error, and the
 *    line is dropped: the program runs on.
 *
 * Signal-context invariant: zc_statsdest_open runs in the stats signal
 * handler. It uses only open, openat, fstat, fstatat, close, write,
 * getpid and geteuid and the stack; everything else here runs at start.
 */
#include "statsdest.h"
#include "settings.h"
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DEST_NONE, DEST_STDERR, DEST_FILE };

static int dest = DEST_STDERR;
static char dir[ZC_STATS_PATH_MAX];    /* canonical, no expansion */
static char name[ZC_STATS_PATH_MAX];   /* the file name; %p is the pid */
static char shown[2 * ZC_STATS_PATH_MAX];
static int reported;

/* Why a directory may let another user swap the entries in it, or NULL. */
const char *zc_statsdest_unsafe_dir(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "belongs to another user";
	if (st->st_mode & S_ISVTX)
		return NULL;
	if (st->st_mode & S_IWOTH)
		return "is writable by every user and has no sticky bit";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid())
		return "is writable by another group and has no sticky bit";
	return NULL;
}

/* Others may create entries in it (with or without the sticky bit). */
static int shared_dir(const struct stat *st)
{
	return (st->st_mode & S_IWOTH) ||
	       ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid());
}

/*
 * Resolve the directory path like the kernel would, checking every
 * directory met with unsafe_dir, and following a symbolic link only if it
 * sits in a directory no other user may write, or belongs to root or this
 * user (the rule of fs.protected_symlinks). out: the canonical path.
 * Returns NULL, or why with the path at fault in bad. Not signal context.
 */
static const char *walk(const char *path, char *out, size_t cap, char *bad, size_t badcap)
{
	char rest[2 * PATH_MAX], cur[PATH_MAX], cand[PATH_MAX], target[PATH_MAX];
	struct stat curst, st;
	const char *why;
	int hops = 0;

	if (path[0] == '/') {
		snprintf(rest, sizeof rest, "%s", path);
	} else {
		if (!getcwd(cur, sizeof cur)) {
			snprintf(bad, badcap, "%s", path);
			return "is relative and the working directory is unknown";
		}
		if ((size_t)snprintf(rest, sizeof rest, "%s/%s", cur, path) >= sizeof rest)
			goto too_long;
	}
	cur[0] = '\0';   /* "" is "/" */
	if (lstat("/", &curst)) {
		snprintf(bad, badcap, "/");
		return "cannot be examined";
	}
	if ((why = zc_statsdest_unsafe_dir(&curst))) {
		snprintf(bad, badcap, "/");
		return why;
	}
	for (;;) {
		char *p = rest, *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			memmove(rest, p + len, strlen(p + len) + 1);
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* Up into a directory already checked. */
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = '\0';
			if (lstat(cur[0] ? cur : "/", &curst))
				goto gone;
			memmove(rest, p + len, strlen(p + len) + 1);
			continue;
		}
		if (strlen(cur) + 1 + len >= sizeof cand)
			goto too_long;
		{
			size_t at = strlen(cur);

			cand[at] = '/';
			memcpy(cand, cur, at);
			memcpy(cand + at + 1, p, len);
			cand[at + 1 + len] = '\0';
		}
		memmove(rest, p + len, strlen(p + len) + 1);
		if (lstat(cand, &st)) {
			snprintf(bad, badcap, "%s", cand);
			return errno == ENOENT ? "does not exist" : "cannot be examined";
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if (shared_dir(&curst) && st.st_uid != 0 && st.st_uid != geteuid()) {
				snprintf(bad, badcap, "%s", cand);
				return "is a symbolic link another user made in a shared directory";
			}
			if (++hops > 40) {
				snprintf(bad, badcap, "%s", cand);
				return "leads through too many symbolic links";
			}
			n = readlink(cand, target, sizeof target - 1);
			if (n <= 0)
				goto gone;
			target[n] = '\0';
			if (strlen(target) + 1 + strlen(rest) >= sizeof rest)
				goto too_long;
			memmove(rest + n + 1, rest, strlen(rest) + 1);
			memcpy(rest, target, (size_t)n);
			rest[n] = '/';
			if (target[0] == '/') {
				cur[0] = '\0';
				if (lstat("/", &curst))
					goto gone;
			}
			continue;
		}
		if ((why = zc_statsdest_unsafe_dir(&st))) {
			snprintf(bad, badcap, "%s", cand);
			return why;
		}
		memcpy(cur, cand, strlen(cand) + 1);
		curst = st;
	}
	if (strlen(cur) + 2 > cap)
		goto too_long;
	snprintf(out, cap, "%s", cur[0] ? cur : "/");
	return NULL;
too_long:
	snprintf(bad, badcap, "%s", path);
	return "is too long";
gone:
	snprintf(bad, badcap, "%s", path);
	return "changed while being examined";
}

const char *zc_statsdest_checkdir(const char *d, int want_private, int writable,
				  char *canon, size_t cap, char *bad, size_t badcap)
{
	struct stat st;
	const char *why = walk(d, canon, cap, bad, badcap);

	if (why)
		return why;
	if (want_private && (stat(canon, &st) || st.st_uid != geteuid() || (st.st_mode & 077))) {
		snprintf(bad, badcap, "%s", canon);
		return "is not this user's alone (mode 0700)";
	}
	if (writable && access(canon, W_OK | X_OK)) {
		snprintf(bad, badcap, "%s", canon);
		return errno == EROFS ? "is on a read-only file system" : "is not writable";
	}
	return NULL;
}

/* Use dir/file if dir resolves safely (and, want_private, is this user's
 * alone); writable says it must be writable now (a default place). */
static int use_dir(const char *d, const char *file, int want_private, int writable,
		   const char **why, char *bad, size_t badcap)
{
	char canon[ZC_STATS_PATH_MAX];

	*why = zc_statsdest_checkdir(d, want_private, writable, canon, sizeof canon, bad, badcap);
	if (*why)
		return 0;
	snprintf(dir, sizeof dir, "%s", canon);
	snprintf(name, sizeof name, "%s", file);
	snprintf(shown, sizeof shown, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
	dest = DEST_FILE;
	return 1;
}

/* The operator's ZCSHIM_STATS_FILE: the directory part (%% is a %; the
 * settings refused %p there) and the file name. */
static void explicit_file(void)
{
	char typed[ZC_STATS_PATH_MAX], d[ZC_STATS_PATH_MAX], bad[ZC_STATS_PATH_MAX];
	const char *slash = strrchr(zc_cfg.stats_path, '/');
	const char *file = slash ? slash + 1 : zc_cfg.stats_path;
	const char *why;

	if (slash == zc_cfg.stats_path)
		snprintf(typed, sizeof typed, "/");
	else if (slash)
		snprintf(typed, sizeof typed, "%.*s", (int)(slash - zc_cfg.stats_path),
			 zc_cfg.stats_path);
	else
		snprintf(typed, sizeof typed, ".");
	if (zc_expand_path(typed, 0, d, sizeof d) < 0)
		snprintf(d, sizeof d, "%s", typed);
	dest = DEST_NONE;
	snprintf(shown, sizeof shown, "nowhere");
	if (!*file) {
		zc_log(ZC_LOG_ERROR, "cannot write the stats line to %s (it names a directory); "
		       "set ZCSHIM_STATS_FILE to a file", zc_cfg.stats_path);
		return;
	}
	if (!use_dir(d, file, 0, 0, &why, bad, sizeof bad))
		zc_log(ZC_LOG_ERROR, "cannot write the stats line to %s (%s %s); no stats line "
		       "will be written: set ZCSHIM_STATS_FILE to a file in a directory only "
		       "this user or root can change", zc_cfg.stats_path, bad, why);
}

void zc_statsdest_init(int secure)
{
	const char *xdg = secure ? NULL : getenv("XDG_RUNTIME_DIR");
	char d[ZC_STATS_PATH_MAX], bad[ZC_STATS_PATH_MAX];
	const char *why;
	struct stat st;

	if (zc_cfg.stats_path[0]) {
		if (!strcmp(zc_cfg.stats_path, "stderr") || !strcmp(zc_cfg.stats_path, "-")) {
			dest = DEST_STDERR;
			snprintf(shown, sizeof shown, "standard error");
		} else {
			explicit_file();
		}
		return;
	}
	/* /run/zcshim: shared by every user's processes, like /tmp. */
	if (lstat("/run/zcshim", &st) && errno == ENOENT && geteuid() == 0 &&
	    mkdir("/run/zcshim", 01777) == 0)
		chmod("/run/zcshim", 01777);   /* whatever the umask took away */
	if (use_dir("/run/zcshim", "%p.json", 0, 1, &why, bad, sizeof bad))
		return;
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof d - 16) {
		snprintf(d, sizeof d, "%s/zcshim", xdg);
		mkdir(d, 0700);
		if (use_dir(d, "%p.json", 1, 1, &why, bad, sizeof bad))
			return;
	}
	snprintf(d, sizeof d, "/tmp/zcshim-%u", (unsigned)geteuid());
	mkdir(d, 0700);
	if (use_dir(d, "%p.json", 1, 1, &why, bad, sizeof bad))
		return;
	/* A secure-execution process's standard error is its caller's. */
	dest = secure ? DEST_NONE : DEST_STDERR;
	snprintf(shown, sizeof shown, secure ? "nowhere" : "standard error");
}

const char *zc_statsdest_describe(void)
{
	return shown;
}

static void put(const char *s)
{
	ssize_t r = zc_real.write(2, s, strlen(s));

	(void)r;
}

static void report_once(const char *file, const char *why)
{
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	put("libzcshim: cannot write the stats line to ");
	put(dir);
	put(strcmp(dir, "/") ? "/" : "");
	put(file);
	put(" (");
	put(why);
	put("); remove it, or set ZCSHIM_STATS_FILE to a file in a directory only this user or root can change\n");
}

/* Why a file must not be written to, or NULL. */
const char *zc_statsdest_unsafe_file(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "it is a symbolic link";
	if (!S_ISREG(st->st_mode))
		return "it is not a regular file";
	if (st->st_uid != geteuid())
		return "it belongs to another user";
	if (st->st_nlink != 1)
		return "it has other hard links";
	return NULL;
}

int zc_statsdest_open(void)
{
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char file[ZC_STATS_PATH_MAX];
	struct stat st, before;
	const char *why;
	int dfd, fd, existed;

	if (dest == DEST_STDERR)
		return 2;
	if (dest == DEST_NONE)
		return -1;
	if (zc_expand_path(name, (int)getpid(), file, sizeof file) <= 0) {
		report_once(name, "the path is too long");
		return -1;
	}
	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		report_once(file, "its directory cannot be opened");
		return -1;
	}
	if (fstat(dfd, &st) || (why = zc_statsdest_unsafe_dir(&st))) {
		zc_real.close(dfd);
		report_once(file, "its directory is no longer safe");
		return -1;
	}
	existed = fstatat(dfd, file, &before, AT_SYMLINK_NOFOLLOW) == 0;
	if (existed && (why = zc_statsdest_unsafe_file(&before))) {
		zc_real.close(dfd);
		report_once(file, why);
		return -1;
	}
	if (existed)
		fd = openat(dfd, file, flags);
	else
		fd = openat(dfd, file, flags | O_CREAT | O_EXCL, 0600);
	zc_real.close(dfd);
	if (fd < 0) {
		report_once(file, errno == ELOOP ? "it is a symbolic link"
				: errno == ENXIO ? "it is a FIFO"
				: errno == EEXIST ? "it appeared while being created"
				: errno == EACCES ? "permission denied"
				: "open failed");
		return -1;
	}
	if (fstat(fd, &st) || (why = zc_statsdest_unsafe_file(&st)) ||
	    (existed && (st.st_dev != before.st_dev || st.st_ino != before.st_ino))) {
		zc_real.close(fd);
		report_once(file, why ? why : "it was replaced while being opened");
		return -1;
	}
	return fd;
}
