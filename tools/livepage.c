/*
 * livepage.c - find and read libzcshim's live stats pages, without a
 * signal (see livepage.h).
 *
 * Safety, as a reader: a page is opened only with O_NOFOLLOW|O_NONBLOCK
 * (never a link, never a wait on a FIFO), only if it is a regular file
 * whose owner is the user the header names, of a size the layout allows;
 * it is mapped read-only. Consistency: the rule of statspage.c (state
 * RUNNING or EXITED, header under its seq, each counter one aligned
 * 64-bit load).
 */
#include "livepage.h"
#include "settings.h"
#include "shared/stats.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *lp_state_name(int state)
{
	return state == LP_RUNNING ? "running" : state == LP_EXITED ? "exited" : "gone";
}

uint64_t lp_get(const struct lp_snap *s, const char *name)
{
	for (unsigned i = 0; i < s->nfields; i++)
		if (!strcmp(s->names[i], name))
			return s->v[i];
	return 0;
}

ssize_t lp_slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* /proc/PID/stat's starttime, or 0 if there is no such process. */
static uint64_t start_of(int pid)
{
	char path[64], buf[1024], *p;
	uint64_t v = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (lp_slurp(path, buf, sizeof buf) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	for (int f = 0; *p && f < 20; p++)
		if (*p == ' ')
			f++;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* NAME=value from pid's initial environment (not for a secure-execution
 * process: libzcshim takes nothing from its environment either). */
static const char *env_of(int pid, const char *name, char *out, size_t cap)
{
	static char env[1 << 16], auxv[4096];
	char path[64];
	ssize_t n;
	size_t len = strlen(name);
	const unsigned long *a = (const unsigned long *)(void *)auxv;

	snprintf(path, sizeof path, "/proc/%d/auxv", pid);
	if ((n = lp_slurp(path, auxv, sizeof auxv)) <= 0)
		return NULL;
	for (size_t i = 0; (i + 2) * sizeof *a <= (size_t)n && a[i] != AT_NULL; i += 2)
		if (a[i] == AT_SECURE && a[i + 1])
			return NULL;
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	if ((n = lp_slurp(path, env, sizeof env)) < 0)
		return NULL;
	for (char *p = env; p < env + n; p += strlen(p) + 1)
		if (!strncmp(p, name, len) && p[len] == '=') {
			snprintf(out, cap, "%s", p + len + 1);
			return out;
		}
	return NULL;
}

static int add_dir(char out[][1024], int n, int max, const char *d)
{
	if (!d || !*d || n >= max || !strcmp(d, "none"))
		return n;
	for (int i = 0; i < n; i++)
		if (!strcmp(out[i], d))
			return n;
	snprintf(out[n], sizeof out[n], "%s", d);
	return n + 1;
}

/* The stats directories named in the environments of processes called
 * name. */
static int dirs_of_name(const char *name, char out[][1024], int n, int max)
{
	DIR *p = opendir("/proc");
	struct dirent *e;
	char path[300], comm[256], v[1024];

	while (p && (e = readdir(p))) {
		int pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/comm", pid);
		if (lp_slurp(path, comm, sizeof comm) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name))
			continue;
		if (env_of(pid, "ZCSHIM_STATS_DIR", v, sizeof v))
			n = add_dir(out, n, max, v);
		if (env_of(pid, "XDG_RUNTIME_DIR", v, sizeof v) && strlen(v) < 1000) {
			strcat(v, "/zcshim");
			n = add_dir(out, n, max, v);
		}
	}
	if (p)
		closedir(p);
	return n;
}

int lp_dirs(const char *dir, int pid, const char *name, char out[][1024], int max)
{
	char v[1024], d[1100];
	struct stat st;
	int n = 0;

	if (dir)
		return add_dir(out, n, max, dir);
	if (name)
		n = dirs_of_name(name, out, n, max);
	n = add_dir(out, n, max, getenv("ZCSHIM_STATS_DIR"));
	if (pid > 0 && env_of(pid, "ZCSHIM_STATS_DIR", v, sizeof v))
		n = add_dir(out, n, max, v);
	n = add_dir(out, n, max, "/run/zcshim");
	if (getenv("XDG_RUNTIME_DIR")) {
		snprintf(d, sizeof d, "%s/zcshim", getenv("XDG_RUNTIME_DIR"));
		n = add_dir(out, n, max, d);
	}
	if (pid > 0 && env_of(pid, "XDG_RUNTIME_DIR", v, sizeof v)) {
		snprintf(d, sizeof d, "%s/zcshim", v);
		n = add_dir(out, n, max, d);
	}
	snprintf(d, sizeof d, "/tmp/zcshim-%u", (unsigned)geteuid());
	n = add_dir(out, n, max, d);
	snprintf(d, sizeof d, "/proc/%d", pid);
	if (pid > 0 && !stat(d, &st)) {
		snprintf(d, sizeof d, "/tmp/zcshim-%u", (unsigned)st.st_uid);
		n = add_dir(out, n, max, d);
	}
	if (geteuid() == 0) {
		/* Root reads every user's, like ps. */
		DIR *t = opendir("/tmp");
		struct dirent *e;

		while (t && (e = readdir(t)))
			if (!strncmp(e->d_name, "zcshim-", 7)) {
				snprintf(d, sizeof d, "/tmp/%s", e->d_name);
				n = add_dir(out, n, max, d);
			}
		if (t)
			closedir(t);
	}
	return n;
}

/* Read one page. 0, or -1 (not a page, or not one to trust). */
static int read_page(int dfd, const char *dpath, const char *name, struct lp_snap *s)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct stat st;
	const struct zc_live_hdr *h;
	const char *base;
	void *p;
	int fd = openat(dfd, name, flags), ok = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 4096 || st.st_size > ZC_LIVE_OBJ) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	base = p;
	h = (const void *)(base + ZC_LIVE_HDR_OFF);
	if (memcmp(h->magic, ZC_LIVE_MAGIC, 8) || h->version != ZC_LIVE_VERSION ||
	    h->nfields > LP_MAXFIELDS || h->counters_off % 8 ||
	    h->counters_off + (uint64_t)h->nfields * 8 > ZC_LIVE_HDR_OFF ||
	    h->names_off + (uint64_t)h->names_len > ZC_LIVE_HDR_OFF || h->uid != st.st_uid)
		goto out;
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
		uint32_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);

		if (state == ZC_LIVE_STARTING)
			goto out;   /* not yet published */
		if (seq & 1)
			continue;
		s->pid = h->pid;
		s->state = state == ZC_LIVE_EXITED ? LP_EXITED : LP_RUNNING;
		s->start_ticks = h->start_ticks;
		s->created_ns = h->created_ns;
		s->exited_ns = h->exited_ns;
		memcpy(s->comm, h->comm, 16);
		s->comm[16] = '\0';
		memcpy(s->version, h->version_str, 32);
		s->version[32] = '\0';
		s->nfields = h->nfields;
		for (unsigned i = 0; i < h->nfields; i++)
			s->v[i] = __atomic_load_n((const uint64_t *)(const void *)
						  (base + h->counters_off + 8 * i), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == seq) {
			ok = 0;
			break;
		}
	}
	if (ok)
		goto out;
	{
		const char *nm = base + h->names_off, *end = nm + h->names_len;

		for (unsigned i = 0; i < s->nfields; i++) {
			size_t len = strnlen(nm, (size_t)(end - nm));

			if (nm >= end || len >= sizeof s->names[i]) {
				ok = -1;
				goto out;
			}
			memcpy(s->names[i], nm, len + 1);
			nm += len + 1;
		}
	}
	if (s->state == LP_RUNNING && start_of(s->pid) != s->start_ticks)
		s->state = LP_GONE;
	s->owner = st.st_uid;
	snprintf(s->path, sizeof s->path, "%s/%s", dpath, name);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		s->ts = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	}
out:
	munmap(p, (size_t)st.st_size);
	return ok;
}

/* "PID.stats" or "PID-UID.stats": the pid, or 0. */
static int pid_of_name(const char *n)
{
	char *e;
	long pid = strtol(n, &e, 10);
	size_t len = strlen(n);

	if (e == n || pid <= 0 || (*e != '.' && *e != '-') || len < 7 || strcmp(n + len - 6, ".stats"))
		return 0;
	return (int)pid;
}

/* Better of two pages of one pid: the live process's own, else the newer. */
static int better(const struct lp_snap *a, const struct lp_snap *b)
{
	if ((a->state == LP_RUNNING) != (b->state == LP_RUNNING))
		return a->state == LP_RUNNING;
	return a->created_ns > b->created_ns;
}

int lp_read_pid(const char *dir, int pid, struct lp_snap *s)
{
	char dirs[32][1024];
	int nd = lp_dirs(dir, pid, NULL, dirs, 32), found = 0, denied = 0;
	struct lp_snap *t = malloc(sizeof *t);

	if (!t)
		return -1;
	for (int i = 0; i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			if (pid_of_name(e->d_name) != pid)
				continue;
			errno = 0;
			if (read_page(dirfd(d), dirs[i], e->d_name, t) || t->pid != pid) {
				denied |= errno == EACCES;
				continue;
			}
			if (!found || better(t, s))
				*s = *t;
			found = 1;
		}
		if (d)
			closedir(d);
	}
	free(t);
	/* The pid lives, but the page is of an earlier process with it. */
	if (found && s->state != LP_RUNNING && start_of(pid))
		return -3;
	return found ? 0 : denied ? -2 : -1;
}

int lp_read_all(const char *dir, const char *name, int ended, struct lp_snap *out, int max)
{
	char dirs[32][1024];
	int nd = lp_dirs(dir, 0, name, dirs, 32), n = 0;
	struct lp_snap *t = malloc(sizeof *t);

	if (!t)
		return 0;
	for (int i = 0; i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			int pid = pid_of_name(e->d_name), j;
			char comm[64], path[64];

			if (!pid || read_page(dirfd(d), dirs[i], e->d_name, t) || t->pid != pid ||
			    (!ended && t->state != LP_RUNNING))
				continue;
			if (name) {
				/* The name now (a program may rename itself after its start). */
				snprintf(path, sizeof path, "/proc/%d/comm", pid);
				if (t->state == LP_RUNNING && lp_slurp(path, comm, sizeof comm) > 0)
					comm[strcspn(comm, "\n")] = '\0';
				else
					snprintf(comm, sizeof comm, "%s", t->comm);
				if (strcmp(comm, name) && strcmp(t->comm, name))
					continue;
			}
			for (j = 0; j < n && out[j].pid != pid; j++)
				;
			if (j < n) {
				if (better(t, &out[j]))
					out[j] = *t;
			} else if (n < max) {
				out[n++] = *t;
			}
		}
		if (d)
			closedir(d);
	}
	free(t);
	return n;
}
