/*
 * zcstat - read the statistics of running programs that have libzcshim
 * loaded: send each its stats signal, wait for the new line in its stats
 * file, print it as a table (or as the raw JSON line).
 *
 * usage: zcstat [--json] [--watch SECS] [--file PATH] PID... | --all NAME
 *
 * Where the line is: ZCSHIM_STATS_FILE from the process's environment
 * (%p expanded), else the default places libzcshim(7) lists. The signal:
 * ZCSHIM_STATS_SIGNAL from the environment, else SIGUSR1. Both read with
 * the shim's own parser, so a value the shim refused is refused here too;
 * a secure-execution process (set-user-ID...) takes no setting from its
 * environment, and neither does zcstat for it.
 */
#include "settings.h"
#include "zcshim.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXPIDS 256

static const char *fields[] = {
#define NAME(n, what) #n,
	ZCSHIM_STATS_FIELDS(NAME)
#undef NAME
};
static const char *whats[] = {
#define WHAT(n, what) what,
	ZCSHIM_STATS_FIELDS(WHAT)
#undef WHAT
};
#define NFIELDS (sizeof fields / sizeof fields[0])

struct line {
	double ts;
	unsigned long long v[NFIELDS];
	int have;
};

static int json_out, watch_secs;
static const char *forced_file;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zcstat [--json] [--watch SECS] [--file PATH] PID...\n"
		"       zcstat [--json] [--watch SECS] --all NAME\n"
		"Send each process its libzcshim stats signal and show the new line.\n"
		"  --json        print the raw JSON line\n"
		"  --watch SECS  repeat every SECS seconds (Ctrl-C stops)\n"
		"  --file PATH   the stats file, when it is not where zcstat looks\n"
		"  --all NAME    every process named NAME that has libzcshim loaded\n");
}

/* Read a whole /proc file (NULs kept); returns its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
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

static int has_shim(int pid)
{
	static char maps[1 << 20];
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	if (slurp(path, maps, sizeof maps) < 0)
		return -1;
	return strstr(maps, "libzcshim") != NULL;
}

/* NAME=value from the process's initial environment, or NULL. */
static const char *env_of(int pid, const char *name, char *out, size_t cap)
{
	static char env[1 << 16];
	char path[64];
	ssize_t n;
	size_t len = strlen(name);

	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	if ((n = slurp(path, env, sizeof env)) < 0)
		return NULL;
	for (char *p = env; p < env + n; p += strlen(p) + 1)
		if (!strncmp(p, name, len) && p[len] == '=') {
			snprintf(out, cap, "%s", p + len + 1);
			return out;
		}
	return NULL;
}

/* The kernel's AT_SECURE for pid: 1, 0, or -1 if unknown (auxv is
 * readable only by whoever may trace the process). */
static int secure_of(int pid)
{
	static char auxv[4096];
	char path[64];
	ssize_t n;
	const unsigned long *a = (const unsigned long *)(void *)auxv;

	snprintf(path, sizeof path, "/proc/%d/auxv", pid);
	if ((n = slurp(path, auxv, sizeof auxv)) <= 0)
		return -1;
	for (size_t i = 0; (i + 2) * sizeof *a <= (size_t)n && a[i] != AT_NULL; i += 2)
		if (a[i] == AT_SECURE)
			return a[i + 1] != 0;
	return 0;
}

static char envbuf[1024];

static const char *proc_get(const char *name, void *ctx)
{
	const int *pid = ctx;

	return *pid < 0 ? NULL : env_of(*pid, name, envbuf, sizeof envbuf);
}

/* pid's settings as the shim read them at its start; secure: none. */
static void settings_of(int pid, struct zc_config *cfg, int *secure)
{
	int who = pid;

	*secure = secure_of(pid) == 1;
	if (*secure)
		who = -1;
	zc_config_parse(cfg, proc_get, &who, NULL, NULL);
}

static int exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* Where pid's stats line goes; 0 found, -1 standard error, -2 unknown. */
static int stats_path(int pid, char *out, size_t cap)
{
	char v[512], dir[600];
	struct zc_config cfg;
	struct stat st;
	int secure;

	if (forced_file) {
		zc_expand_path(forced_file, pid, out, cap);
		return 0;
	}
	settings_of(pid, &cfg, &secure);
	if (cfg.stats_path[0]) {
		if (!strcmp(cfg.stats_path, "stderr") || !strcmp(cfg.stats_path, "-"))
			return -1;
		return zc_expand_path(cfg.stats_path, pid, out, cap) > 0 ? 0 : -2;
	}
	snprintf(out, cap, "/run/zcshim/%d.json", pid);
	if (exists(out))
		return 0;
	if (!secure && env_of(pid, "XDG_RUNTIME_DIR", v, sizeof v)) {
		snprintf(out, cap, "%s/zcshim/%d.json", v, pid);
		if (exists(out))
			return 0;
	}
	snprintf(dir, sizeof dir, "/proc/%d", pid);
	if (!stat(dir, &st)) {
		snprintf(out, cap, "/tmp/zcshim-%u/%d.json", (unsigned)st.st_uid, pid);
		if (exists(out))
			return 0;
	}
	/* Not written yet: the first place it would go. */
	snprintf(out, cap, "/run/zcshim/%d.json", pid);
	return 0;
}

static int stats_signal(int pid)
{
	struct zc_config cfg;
	int secure;

	settings_of(pid, &cfg, &secure);
	return cfg.stats_signal;
}

static long file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : (long)st.st_size;
}

/* The last two complete lines of the file. */
static int last_lines(const char *path, char *prev, char *last, size_t cap)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	int n = 0;

	if (!f)
		return -1;
	prev[0] = last[0] = '\0';
	while (fgets(buf, sizeof buf, f)) {
		if (!strchr(buf, '\n'))
			continue;
		snprintf(prev, cap, "%s", last);
		snprintf(last, cap, "%s", buf);
		n++;
	}
	fclose(f);
	return n;
}

static void parse(const char *s, struct line *l)
{
	const char *p = strstr(s, "\"ts\":");

	memset(l, 0, sizeof *l);
	if (!s[0])
		return;
	l->ts = p ? strtod(p + 5, NULL) : 0;
	for (size_t i = 0; i < NFIELDS; i++) {
		char key[64];

		snprintf(key, sizeof key, "\"%s\":", fields[i]);
		if ((p = strstr(s, key)))
			l->v[i] = strtoull(p + strlen(key), NULL, 10);
	}
	l->have = 1;
}

static unsigned long long get(const struct line *l, const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i], name))
			return l->v[i];
	return 0;
}

static void table(int pid, const struct line *now, const struct line *before)
{
	double dt = before->have ? now->ts - before->ts : 0;
	double zc = (double)get(now, "zc_bytes"), cp = (double)get(now, "copy_bytes");
	double gb = zc / 1e9;

	printf("pid %d%s\n", pid, dt > 0 ? "" : " (first dump: no rates yet)");
	printf("  %-22s %18s %14s\n", "counter", "value", dt > 0 ? "per second" : "");
	for (size_t i = 0; i < NFIELDS; i++) {
		char rate[32] = "";

		if (dt > 0 && strcmp(fields[i], "inflight_bytes") &&
		    strcmp(fields[i], "inflight_max_bytes") && strcmp(fields[i], "idle_ranges"))
			snprintf(rate, sizeof rate, "%.1f",
				 (double)(now->v[i] - before->v[i]) / dt);
		printf("  %-22s %18llu %14s   %s\n", fields[i], now->v[i], rate, whats[i]);
	}
	printf("  zerocopy share of large-send bytes: %.1f%%\n",
	       zc + cp > 0 ? 100.0 * zc / (zc + cp) : 0.0);
	/* The copy_<reason> fields (copywhy.h) split copy_sends: a reason
	 * is every copy_ field but the totals. */
	if (get(now, "copy_sends")) {
		printf("  copied large sends by reason:");
		for (size_t i = 0; i < NFIELDS; i++)
			if (!strncmp(fields[i], "copy_", 5) && strcmp(fields[i], "copy_sends") &&
			    strcmp(fields[i], "copy_bytes") && now->v[i])
				printf(" %s %.1f%%", fields[i] + 5,
				       100.0 * (double)now->v[i] / (double)get(now, "copy_sends"));
		printf("\n");
	}
	printf("  guard faults per GB sent with zerocopy: %.1f\n",
	       gb > 0 ? (double)get(now, "guard_faults") / gb : 0.0);
	printf("  time stalled in the guard: %.1f ms\n", (double)get(now, "guard_stall_ns") / 1e6);
}

/*
 * The thread to send the stats signal to, or 0 for the process. A signal
 * sent to the process is taken by its main thread unless that thread
 * blocks it, and interrupts the call the thread waits in. Some programs
 * end when their main loop's poll() returns EINTR: varnish's cache worker
 * leaves its CLI loop and exits. A thread waiting in futex (a condition
 * variable, a mutex) is woken by the C library's own retry and never sees
 * the interruption, so the signal goes to such a thread when there is one
 * (the one the kernel shows in futex in /proc/PID/task/TID/syscall, which
 * only whoever may trace the process can read). The handler writes the
 * stats of the whole process from whichever thread runs it.
 */
static int quiet_thread(int pid)
{
	char path[96], buf[64];
	struct dirent *e;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (e = readdir(d))) {
		int tid = atoi(e->d_name);

		if (tid <= 0 || tid == pid)
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
		if (slurp(path, buf, sizeof buf) > 0 && atol(buf) == SYS_futex)
			found = tid;
	}
	closedir(d);
	return found;
}

/* Send pid its stats signal (see quiet_thread). */
static int signal_stats(int pid, int sig)
{
	int tid = quiet_thread(pid);

	if (tid > 0 && !syscall(SYS_tgkill, pid, tid, sig))
		return 0;
	return kill(pid, sig);   /* no such thread, or it has just ended */
}

/* Signal pid and show its new line. Returns 0, or 1 on a problem. */
static int one(int pid)
{
	char path[1024], prev[4096], last[4096];
	struct line now, before;
	long size0;
	int sig, where, loaded = has_shim(pid);

	if (loaded < 0) {
		fprintf(stderr, "zcstat: no process %d (or no permission to read /proc/%d)\n", pid, pid);
		return 1;
	}
	if (!loaded) {
		fprintf(stderr, "zcstat: process %d does not have libzcshim loaded "
			"(start it with zcshim, or LD_PRELOAD=libzcshim.so)\n", pid);
		return 1;
	}
	where = stats_path(pid, path, sizeof path);
	if (where == -1) {
		fprintf(stderr, "zcstat: process %d writes its stats to its standard error "
			"(ZCSHIM_STATS_FILE=stderr); zcstat cannot read them\n", pid);
		return 1;
	}
	if (where < 0) {
		fprintf(stderr, "zcstat: cannot tell where process %d writes its stats; use --file\n", pid);
		return 1;
	}
	sig = stats_signal(pid);
	if (!sig) {
		fprintf(stderr, "zcstat: process %d has ZCSHIM_STATS_SIGNAL=none\n", pid);
		return 1;
	}
	size0 = file_size(path);
	if (signal_stats(pid, sig)) {
		fprintf(stderr, "zcstat: cannot signal process %d: %s\n", pid, strerror(errno));
		return 1;
	}
	for (int i = 0; i < 200; i++) {   /* 2 seconds at most */
		long sz = file_size(path);

		if (sz > size0 && sz >= 0 && last_lines(path, prev, last, sizeof last) > 0 &&
		    last[strlen(last) - 1] == '\n')
			break;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
		if (i == 199) {
			fprintf(stderr, "zcstat: no new stats line from process %d in %s; if it "
				"was started with ZCSHIM_STATS_FILE and rewrites its environment "
				"(nginx and redis do, for their process titles), name the file "
				"with --file\n", pid, path);
			return 1;
		}
	}
	if (json_out) {
		fputs(last, stdout);
		return 0;
	}
	parse(last, &now);
	parse(prev, &before);
	table(pid, &now, &before);
	return 0;
}

static int find_all(const char *name, int *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], comm[256];
		int pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/comm", pid);
		if (slurp(path, comm, sizeof comm) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (!strcmp(comm, name) && has_shim(pid) == 1)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int pids[MAXPIDS], npids = 0, bad = 0;
	const char *all = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json_out = 1;
		} else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			watch_secs = atoi(argv[++i]);
			if (watch_secs <= 0) {
				fprintf(stderr, "zcstat: --watch takes a number of seconds, not '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
			forced_file = argv[++i];
		} else if (!strcmp(argv[i], "--all") && i + 1 < argc) {
			all = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("zcstat (libzcshim) %s\n", PACKAGE_VERSION);
			return 0;
		} else if (argv[i][0] >= '1' && argv[i][0] <= '9' && npids < MAXPIDS) {
			pids[npids++] = atoi(argv[i]);
		} else {
			fprintf(stderr, "zcstat: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (all) {
		npids = find_all(all, pids, MAXPIDS);
		if (!npids) {
			fprintf(stderr, "zcstat: no process named '%s' has libzcshim loaded\n", all);
			return 1;
		}
	}
	if (!npids) {
		usage(stderr);
		return 2;
	}
	do {
		bad = 0;
		for (int i = 0; i < npids; i++)
			bad |= one(pids[i]);
		if (watch_secs)
			sleep((unsigned)watch_secs);
	} while (watch_secs);
	return bad;
}
