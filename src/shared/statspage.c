/*
 * statspage.c - the live stats page: the counters, in a file any tool can
 * read while the process runs and after it ended, with no signal.
 *
 * Each process under the shim (each fork child, each exec'd program) has
 * DIR/PID.stats, 0600, of its effective user: zcstat reads it like ps
 * reads /proc (root everyone's, a user their own). DIR is ZCSHIM_STATS_DIR,
 * else the first usable default place of the stats file (statsdest.h):
 * /run/zcshim, $XDG_RUNTIME_DIR/zcshim, /tmp/zcshim-UID, resolved and
 * checked once at start by statsdest.c's rules (every directory on the
 * way of root or this user, none writable by others without the sticky
 * bit). ZCSHIM_STATS_DIR=none: no page.
 *
 * The counters live in it (stats.h): the file's first page is mapped
 * MAP_SHARED over zc_live_page, so the shim's counting is unchanged: no
 * system call, no pointer. Mapping: the file is created with O_EXCL, its
 * whole page written with pwrite (the blocks are allocated now: on a full
 * file system that fails with ENOSPC here, rather than a SIGBUS later on
 * a counter's write), mapped anywhere, then moved onto zc_live_page with
 * mremap(MREMAP_FIXED), which replaces the anonymous page in one step
 * (the counters counted before are in the page written).
 *
 * The reader's consistency rule: a page is valid once state is RUNNING or
 * EXITED (stored with release after everything else; a reader loads it
 * with acquire and treats STARTING as "not yet"). Header fields that
 * change later (state, exited_ns) change under seq, odd while they do: a
 * reader loads seq (acquire), reads, loads seq again, and retries if it
 * was odd or changed. Counters are 64-bit words in one page, each updated
 * with a relaxed atomic and read with one aligned 64-bit load: each value
 * read is one the counter had, and counters read one after the other may
 * be a few operations apart (as in the signal's JSON line). A reader maps
 * the file read-only (a read() copy may tear a word).
 *
 * Whose page: only the process whose pid is in the header writes it. A
 * child with a copy of the memory (fork, _Fork, raw clone: fork.c's reset
 * runs for every kind) would share its parent's MAP_SHARED page, so the
 * reset first puts a private zero page in its place (zc_statspage_child),
 * then makes the child's own file; before the reset the child counts
 * nothing (every count follows an owner check, or checks the owner word
 * itself: hooks_alloc.c, sigdefer.c). The exit mark (a destructor) checks
 * the pid too (a child that never reset, a vfork child calling exit). After
 * exec the mapping is gone; the new program makes its page with the same
 * name (the old one, this pid's, is replaced).
 *
 * A name taken: PID.stats that is a regular file of this user with one
 * link is a previous holder of this pid (this process before exec, or a
 * dead one): replaced. Anything else (another user's file, a link, a FIFO,
 * a device) is never opened; the page is then PID-UID.stats, and if that
 * too is taken, there is none (said once). So a program that drops its
 * privileges and execs still gets a page next to its root predecessor's.
 *
 * The directory's bound: each process that makes a page then counts the
 * pages in the directory (getdents64, a stack buffer). Above
 * ZC_LIVE_SWEEP_AT (and at one start in 64, by pid) it sweeps: removes
 * the pages of processes that are gone (kill(pid, 0) says ESRCH; no
 * signal is sent) whose file was last changed more than ZC_LIVE_KEEP_S
 * ago (an exited page's time is its exit: the exit mark touches the
 * file; a killed process's is when its page was made, or last written
 * back), and, beyond ZC_LIVE_KEEP_DEAD such pages, up to
 * ZC_LIVE_SWEEP_MAX of the oldest. Only pages it may remove (its own
 * user's; root: all) are counted as dead. So the directory holds about
 * ZC_LIVE_SWEEP_AT pages at most beyond those of live processes, the
 * newest kept; a sweep costs a kill per page and an fstatat per dead one
 * (about 1 ms for 200 pages), once per SWEEP_MAX starts or so.
 *
 * Failures: the program runs on without a page (its counters in the
 * anonymous page as before), and the shim says once on standard error
 * what it could not do and which setting decides.
 *
 * Signal-context invariant: zc_statspage_child runs in the child reset,
 * which may run in the SIGSEGV handler (fork.c). It and everything it
 * calls use only raw system calls (open, openat, fstat, fstatat, unlinkat,
 * pwrite, mmap, mremap, close, getdents64, lseek, kill, prctl, read,
 * clock_gettime, write, getpid, geteuid), the stack (about 5 KiB) and
 * memory of the shim's;
 * zc_statspage_init does the same plus the directory's resolution
 * (statsdest.c), at start.
 */
#include "decimal.h"
#include "statspage.h"
#include "settings.h"
#include "shim.h"
#include "stats.h"
#include "statsdest.h"
#include "sys.h"
#include "vma.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ZC_LIVE_KEEP_S 600       /* a gone process's page is kept this long */
#define ZC_LIVE_KEEP_DEAD 128    /* and no more than this many such pages */
#define ZC_LIVE_SWEEP_AT 192     /* pages in the directory that start a sweep */
#define ZC_LIVE_SWEEP_MAX 64     /* pages one sweep removes beyond KEEP_DEAD */

static const char field_names[] =
#define ZC_LIVE_NAME(name, what) #name "\0"
	ZCSHIM_STATS_FIELDS(ZC_LIVE_NAME)
#undef ZC_LIVE_NAME
	;

_Static_assert(ZC_LIVE_HDR_OFF + sizeof(struct zc_live_hdr) <= 4096, "live header too large");
_Static_assert(sizeof(struct zc_stats) + sizeof field_names <= ZC_LIVE_HDR_OFF,
	       "the counters and their names outgrew the live page's first 3 KiB: move the "
	       "header (ZC_LIVE_HDR_OFF) and raise ZC_LIVE_VERSION");

static char dir[ZC_STATS_PATH_MAX];   /* canonical; "" when there is none */
static char page_name[64];            /* this process's file, once it has one */
static int mapped_pid;                /* the pid whose file is mapped, or 0 */
static int reported;

static size_t live_size(void)
{
	return zc_page < ZC_LIVE_OBJ ? zc_page : ZC_LIVE_OBJ;
}

static void put(const char *s)
{
	ssize_t r = zc_sys_write(2, s, strlen(s));

	(void)r;
}

static void put_u(unsigned long v)
{
	char tmp[24];

	tmp[sizeof tmp - 1] = '\0';
	put(zc_dec_before(tmp + sizeof tmp - 1, v));
}

/* Once per process (a child whose parent said it stays quiet). */
static void report_once(const char *what, const char *why)
{
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	put("libzcshim[");
	put_u((unsigned long)syscall(SYS_getpid));
	put("] warn: no live stats page (");
	put(what);
	put(": ");
	put(why);
	put("); the program runs on, zcstat cannot read it (zcstat --signal still can): set "
	    "ZCSHIM_STATS_DIR to a directory only this user or root can change, or none\n");
}

static const char *errno_why(int e)
{
	switch (e) {
	case ENOSPC: return "no space left on its file system";
	case EDQUOT: return "disk quota exceeded";
	case EROFS: return "read-only file system";
	case EACCES: case EPERM: return "permission denied";
	case ELOOP: return "it is a symbolic link";
	case ENOMEM: return "out of memory or mappings";
	default: return "cannot be created";
	}
}

static void name_of(char *out, int pid, unsigned uid, int alt)
{
	char tmp[64], *p = tmp + sizeof tmp - 1;

	*p = '\0';
	memcpy(p -= 6, ".stats", 6);
	if (alt) {
		p = zc_dec_before(p, uid);
		*--p = '-';
	}
	p = zc_dec_before(p, (unsigned long)pid);
	memcpy(out, p, (size_t)(tmp + sizeof tmp - p));
}

/* /proc/self/stat's starttime (field 22), or 0. */
static uint64_t start_ticks(void)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	uint64_t v = 0;

	if (fd < 0)
		return 0;
	n = zc_sys_read(fd, buf, sizeof buf - 1);
	zc_sys_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* ") S ppid ..." : starttime is the 20th field after the name. */
	for (int f = 0; p && *p && f < 20; p++)
		if (*p == ' ')
			f++;
	while (p && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct old {
	int64_t mtime;
	char name[32];
};

/* A page's name, "PID.stats" or "PID-UID.stats": its pid, or 0. */
static long pid_of_name(const char *s, size_t *lenp)
{
	const char *e;
	long pid = 0;
	size_t len;

	for (e = s; *e >= '0' && *e <= '9' && e - s < 10; e++)
		pid = pid * 10 + (*e - '0');
	len = strlen(s);
	*lenp = len;
	if (e == s || pid <= 0 || len < 7 || len >= sizeof ((struct old *)0)->name ||
	    strcmp(s + len - 6, ".stats") || (*e != '.' && *e != '-'))
		return 0;
	return pid;
}

/* The bound on the directory (top of the file). dfd: the directory,
 * opened for reading. Most starts only count the names (getdents64); the
 * sweep proper (a kill per page, an fstatat per dead one) runs when there
 * are more than ZC_LIVE_SWEEP_AT pages, and at one start in 64 (by pid)
 * for the age rule. */
static void sweep(int dfd, int self)
{
	char buf[1024] __attribute__((aligned(8)));   /* dirents are 8-aligned in it */
	struct old oldest[ZC_LIVE_SWEEP_MAX];
	int nold = 0, dead = 0, pages = 0;
	uid_t me = geteuid();
	int64_t cut = (int64_t)(now_ns() / 1000000000u) - ZC_LIVE_KEEP_S;
	long n;
	size_t len;

	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
		for (long off = 0; off < n; off += ((struct linux_dirent64 *)(void *)(buf + off))->d_reclen)
			pages += pid_of_name(((struct linux_dirent64 *)(void *)(buf + off))->d_name, &len) > 0;
	if ((pages <= ZC_LIVE_SWEEP_AT && self % 64) || lseek(dfd, 0, SEEK_SET))
		return;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			const char *s = d->d_name;
			long pid = pid_of_name(s, &len);
			struct stat st;
			int64_t mt;
			int i;

			off += d->d_reclen;
			if (!pid || pid == self)
				continue;
			if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;   /* alive (or another user's, alive) */
			if (fstatat(dfd, s, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
			    (me != 0 && st.st_uid != me))
				continue;
			if ((int64_t)st.st_mtime < cut) {
				unlinkat(dfd, s, 0);
				continue;
			}
			dead++;
			/* Keep the oldest in view, oldest first. */
			mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			if (nold < ZC_LIVE_SWEEP_MAX)
				i = nold++;
			else if (oldest[ZC_LIVE_SWEEP_MAX - 1].mtime <= mt)
				continue;
			else
				i = ZC_LIVE_SWEEP_MAX - 1;
			while (i > 0 && oldest[i - 1].mtime > mt) {
				oldest[i] = oldest[i - 1];
				i--;
			}
			oldest[i].mtime = mt;
			memcpy(oldest[i].name, s, len + 1);
		}
	}
	for (int i = 0; i < nold && dead > ZC_LIVE_KEEP_DEAD; i++, dead--)
		unlinkat(dfd, oldest[i].name, 0);
}

/* Create name in dfd, O_EXCL, 0600. -1 with errno; EEXIST: taken by
 * something not to be touched. */
static int create(int dfd, const char *name)
{
	const int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct stat st;
	int fd = openat(dfd, name, flags, 0600);

	if (fd >= 0 || errno != EEXIST)
		return fd;
	/* A previous holder of this pid (this process before exec, or a
	 * dead one), if it is this user's regular file with one link. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || zc_statsdest_unsafe_file(&st)) {
		errno = EEXIST;
		return -1;
	}
	if (unlinkat(dfd, name, 0))
		return -1;
	return openat(dfd, name, flags, 0600);
}

/* Make this process's page and map it over zc_live_page. Returns 0 or -1
 * (reported). */
static int make_page(void)
{
	struct zc_live_hdr *h = zc_live_hdr_of(&zc_live_page);
	size_t size = live_size();
	int pid = (int)syscall(SYS_getpid);
	unsigned uid = (unsigned)geteuid();
	char name[64], shown[ZC_STATS_PATH_MAX + 64];
	struct stat st;
	void *p;
	int dfd, fd, err;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (dfd < 0) {
		report_once(dir, "its directory cannot be opened");
		return -1;
	}
	if (fstat(dfd, &st) || zc_statsdest_unsafe_dir(&st)) {
		zc_sys_close(dfd);
		report_once(dir, "the directory is no longer safe");
		return -1;
	}
	name_of(name, pid, uid, 0);
	fd = create(dfd, name);
	if (fd < 0 && errno == EEXIST) {
		name_of(name, pid, uid, 1);
		fd = create(dfd, name);
		if (fd < 0 && errno == EEXIST) {
			zc_sys_close(dfd);
			name_of(name, pid, uid, 0);
			report_once(name, "both it and the name with the uid are taken by a file "
				    "that is not this user's (or a link, a FIFO, a device)");
			return -1;
		}
	}
	if (fd < 0) {
		err = errno;
		zc_sys_close(dfd);
		memcpy(shown, dir, strlen(dir) + 1);
		report_once(shown, errno_why(err));
		return -1;
	}

	/* The header, in the anonymous page (the counters are there), then
	 * the whole page into the file. */
	__atomic_store_n(&h->state, ZC_LIVE_STARTING, __ATOMIC_RELAXED);
	memcpy(h->magic, ZC_LIVE_MAGIC, 8);
	h->version = ZC_LIVE_VERSION;
	h->page_size = (uint32_t)size;
	h->counters_off = 0;
	h->nfields = (uint32_t)(sizeof(struct zc_stats) / sizeof(uint64_t));
	h->names_off = (uint32_t)sizeof(struct zc_stats);
	h->names_len = (uint32_t)sizeof field_names;
	memcpy((char *)&zc_live_page + h->names_off, field_names, sizeof field_names);
	h->seq = 0;
	h->pid = pid;
	h->uid = uid;
	h->start_ticks = start_ticks();
	h->created_ns = now_ns();
	h->exited_ns = 0;
	memset(h->comm, 0, sizeof h->comm);
	prctl(PR_GET_NAME, h->comm);
	memset(h->version_str, 0, sizeof h->version_str);
	memcpy(h->version_str, PACKAGE_VERSION,
	       strlen(PACKAGE_VERSION) < sizeof h->version_str ? strlen(PACKAGE_VERSION)
							       : sizeof h->version_str - 1);
	err = 0;
	if (syscall(SYS_pwrite64, fd, &zc_live_page, size, 0) != (long)size)
		err = errno ? errno : ENOSPC;
	p = err ? MAP_FAILED : zc_sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!err && p == MAP_FAILED)
		err = errno;
	if (!err && zc_sys_mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
				  &zc_live_page) == MAP_FAILED) {
		err = errno;
		zc_sys_munmap(p, size);
	}
	zc_sys_close(fd);
	if (err) {
		unlinkat(dfd, name, 0);
		zc_sys_close(dfd);
		memcpy(shown, dir, strlen(dir));
		shown[strlen(dir)] = '/';
		memcpy(shown + strlen(dir) + 1, name, strlen(name) + 1);
		report_once(shown, errno_why(err));
		return -1;
	}
	memcpy(page_name, name, strlen(name) + 1);
	mapped_pid = pid;
	__atomic_store_n(&h->state, ZC_LIVE_RUNNING, __ATOMIC_RELEASE);
	sweep(dfd, pid);
	zc_sys_close(dfd);
	return 0;
}

/* The place, at start (not signal context). */
static void choose_dir(int secure)
{
	const char *xdg = secure ? NULL : getenv("XDG_RUNTIME_DIR");
	char d[ZC_STATS_PATH_MAX], bad[ZC_STATS_PATH_MAX];
	const char *why;
	struct stat st;

	dir[0] = '\0';
	if (!strcmp(zc_cfg.stats_dir, "none"))
		return;
	if (zc_cfg.stats_dir[0]) {
		why = zc_statsdest_checkdir(zc_cfg.stats_dir, 0, 0, dir, sizeof dir, bad, sizeof bad);
		if (why) {
			dir[0] = '\0';
			report_once(bad, why);
		}
		return;
	}
	if (lstat("/run/zcshim", &st) && errno == ENOENT && geteuid() == 0 &&
	    mkdir("/run/zcshim", 01777) == 0)
		chmod("/run/zcshim", 01777);
	if (!zc_statsdest_checkdir("/run/zcshim", 0, 1, dir, sizeof dir, bad, sizeof bad))
		return;
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof d - 16) {
		snprintf(d, sizeof d, "%s/zcshim", xdg);
		mkdir(d, 0700);
		if (!zc_statsdest_checkdir(d, 1, 1, dir, sizeof dir, bad, sizeof bad))
			return;
	}
	snprintf(d, sizeof d, "/tmp/zcshim-%u", (unsigned)geteuid());
	mkdir(d, 0700);
	if (!(why = zc_statsdest_checkdir(d, 1, 1, dir, sizeof dir, bad, sizeof bad)))
		return;
	dir[0] = '\0';
	report_once(bad, why);
}

void zc_statspage_init(int secure)
{
	choose_dir(secure);
	if (dir[0] && make_page() == 0)
		zc_vma_invalidate();   /* a mapping changed (fork.c's reset does it in a child) */
}

void zc_statspage_child(void)
{
	size_t size = live_size();

	/* Off the parent's file first: a private zero page (the reset zeroes
	 * the counters anyway). Should even this fail, the child must not
	 * write the parent's page's header. */
	if (mapped_pid && zc_sys_mmap(&zc_live_page, size, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return;
	mapped_pid = 0;
	page_name[0] = '\0';
	if (dir[0])
		make_page();
}

const char *zc_statspage_dir(void)
{
	return dir[0] ? dir : NULL;
}

/* The exit mark: exit(), a return from main. Not _exit, not a signal:
 * such a page stays RUNNING and zcstat finds its pid gone. */
__attribute__((destructor)) static void statspage_exit(void)
{
	struct zc_live_hdr *h = zc_live_hdr_of(&zc_live_page);
	char path[ZC_STATS_PATH_MAX + 64];
	size_t dl = strlen(dir);

	if (!mapped_pid || mapped_pid != (int)syscall(SYS_getpid) ||
	    __atomic_load_n(&h->pid, __ATOMIC_RELAXED) != mapped_pid)
		return;
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	h->exited_ns = now_ns();
	__atomic_store_n(&h->state, ZC_LIVE_EXITED, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	/* The file's time is the exit's: the directory's bound counts from it. */
	if (dl + strlen(page_name) + 2 <= sizeof path) {
		memcpy(path, dir, dl);
		path[dl] = '/';
		memcpy(path + dl + 1, page_name, strlen(page_name) + 1);
		utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
	}
}
