/*
 * zcstat - read the statistics of programs that have libzcshim loaded.
 *
 * By default from their live stats pages (DIR/PID.stats, livepage.c): no
 * signal, any process of this user's (root: anyone's), running or ended.
 * As a table, a row per process with a total (--all, or no target), JSON
 * (--json), or Prometheus's text format (--prometheus).
 *
 * --signal: the old way, kept for processes whose page zcstat cannot see:
 * send each its stats signal, wait for the new line in its stats file,
 * print it as a table (or as the raw JSON line). Where the line is:
 * ZCSHIM_STATS_FILE from the process's environment (%p expanded), else
 * the default places libzcshim(7) lists. The signal:
 * ZCSHIM_STATS_SIGNAL from the environment, else SIGUSR1. Both read with
 * the shim's own parser, so a value the shim refused is refused here too;
 * a secure-execution process (set-user-ID...) takes no setting from its
 * environment, and neither does zcstat for it.
 */
#include "livepage.h"
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

static int json_out, prom_out, watch_secs, ended;
static const char *page_dir;
static const char *forced_file;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zcstat [--json|--prometheus] [--watch [SECS]] [--dir DIR] [PID...|--all NAME]\n"
		"       zcstat --signal [--json] [--watch SECS] [--file PATH] PID...|--all NAME\n"
		"Show the libzcshim counters of processes from their live stats pages\n"
		"(no signal is sent). Without PID or --all: every running process's.\n"
		"  --json         one JSON object per process\n"
		"  --prometheus   Prometheus text format (node_exporter's textfile collector)\n"
		"  --watch [SECS] repeat every SECS seconds (1 by default; Ctrl-C stops)\n"
		"  --all NAME     every process named NAME (a row each, and a total)\n"
		"  --ended        with --all or no PID: also processes that ended\n"
		"  --dir DIR      look for pages only in DIR (ZCSHIM_STATS_DIR)\n"
		"  --signal       send the stats signal and read the stats file instead\n"
		"  --file PATH    with --signal: the stats file, when it is not where zcstat looks\n");
}

static int has_shim(int pid)
{
	static char maps[1 << 20];
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	if (lp_slurp(path, maps, sizeof maps) < 0)
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
	if ((n = lp_slurp(path, env, sizeof env)) < 0)
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
	if ((n = lp_slurp(path, auxv, sizeof auxv)) <= 0)
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
 * only whoever may trace the process can read), and not one that blocks
 * the signal (the shim's own threads block them all). The handler writes the
 * stats of the whole process from whichever thread runs it.
 */
/* Does thread tid of pid block signal sig? (SigBlk in its status; the
 * shim's own threads block every signal.) Unknown: yes. */
static int blocks(int pid, int tid, int sig)
{
	char path[96], buf[2048];
	const char *p;

	snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tid);
	if (lp_slurp(path, buf, sizeof buf) <= 0 || !(p = strstr(buf, "\nSigBlk:")))
		return 1;
	return (int)((strtoull(p + 9, NULL, 16) >> (sig - 1)) & 1);
}

static int quiet_thread(int pid, int sig)
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
		if (lp_slurp(path, buf, sizeof buf) > 0 && atol(buf) == SYS_futex &&
		    !blocks(pid, tid, sig))
			found = tid;
	}
	closedir(d);
	return found;
}

/* Send pid its stats signal (see quiet_thread). */
static int signal_stats(int pid, int sig)
{
	int tid = quiet_thread(pid, sig);

	if (tid > 0 && !syscall(SYS_tgkill, pid, tid, sig))
		return 0;
	return kill(pid, sig);   /* no such thread, or it has just ended */
}

/* Signal pid and show its new line. Returns 0, or 1 on a problem. */
static int signal_one(int pid)
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
		if (lp_slurp(path, comm, sizeof comm) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (!strcmp(comm, name) && has_shim(pid) == 1)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ live pages */

/* Fields that are a level now, not a count since the start. */
static int is_gauge(const char *f)
{
	static const char *const g[] = { "inflight_bytes", "inflight_max_bytes", "idle_ranges",
					 "cost_pair_ns", "cost_pair_page_ns", "cost_copy_page_ns",
					 "guard_once_min_pages", "guard_uffd", "guard_kernel_faults" };

	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
		if (!strcmp(f, g[i]))
			return 1;
	return 0;
}

static const char *what_of(const char *f)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i], f))
			return whats[i];
	return "";
}

static void when(uint64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (!ns || !localtime_r(&t, &tm))
		snprintf(out, cap, "-");
	else
		strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static void state_text(const struct lp_snap *s, char *out, size_t cap)
{
	char t[64];

	if (s->state == LP_EXITED) {
		when(s->exited_ns, t, sizeof t);
		snprintf(out, cap, "exited at %s", t);
	} else if (s->state == LP_GONE) {
		snprintf(out, cap, "gone (killed, or ended without exit(); final counters unknown)");
	} else {
		snprintf(out, cap, "running");
	}
}

/* Every counter of s, with its rate since prev (same process) if any. */
static void page_table(const struct lp_snap *s, const struct lp_snap *prev, const char *title)
{
	double dt = prev ? s->ts - prev->ts : 0;
	double zc = (double)lp_get(s, "zc_bytes"), cp = (double)lp_get(s, "copy_bytes");
	char st[128], started[64];

	state_text(s, st, sizeof st);
	when(s->created_ns, started, sizeof started);
	if (title)
		printf("%s\n", title);
	else
		printf("pid %d (%s) %s, started %s, libzcshim %s\n", s->pid, s->comm, st, started,
		       s->version);
	printf("  %-22s %18s %14s\n", "counter", "value", dt > 0 ? "per second" : "");
	for (unsigned i = 0; i < s->nfields; i++) {
		char rate[32] = "";

		if (dt > 0 && !is_gauge(s->names[i]))
			snprintf(rate, sizeof rate, "%.1f",
				 (double)(int64_t)(s->v[i] - lp_get(prev, s->names[i])) / dt);
		printf("  %-22s %18llu %14s   %s\n", s->names[i], (unsigned long long)s->v[i], rate,
		       what_of(s->names[i]));
	}
	printf("  zerocopy share of large-send bytes: %.1f%%\n",
	       zc + cp > 0 ? 100.0 * zc / (zc + cp) : 0.0);
	printf("  guard faults per GB sent with zerocopy: %.1f\n",
	       zc > 0 ? (double)lp_get(s, "guard_faults") / (zc / 1e9) : 0.0);
	printf("  time stalled in the guard: %.1f ms\n", (double)lp_get(s, "guard_stall_ns") / 1e6);
	printf("  guard: %s\n", !lp_get(s, "guard_uffd") ? "mprotect (kernel writes into guarded pages fail)"
	       : lp_get(s, "guard_kernel_faults") ? "userfaultfd (kernel writes into guarded pages wait)"
	       : "userfaultfd, user faults only (kernel writes into guarded pages fail)");
}

static void put_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The signal's line's keys (pid, ts, version, the counters), and the
 * page's own: comm, state, started, exited. */
static void page_json(const struct lp_snap *s)
{
	printf("{\"pid\":%d,\"ts\":%.3f,\"version\":", s->pid, s->ts);
	put_json_str(s->version);
	printf(",\"comm\":");
	put_json_str(s->comm);
	printf(",\"state\":\"%s\",\"started\":%.3f,\"exited\":%.3f", lp_state_name(s->state),
	       s->created_ns / 1e9, s->exited_ns / 1e9);
	for (unsigned i = 0; i < s->nfields; i++)
		printf(",\"%s\":%llu", s->names[i], (unsigned long long)s->v[i]);
	printf("}\n");
}

/* Prometheus text exposition format 0.0.4: per metric its HELP and TYPE,
 * then one sample per process, labelled pid and comm. Counters are
 * libzcshim_<field>_total, levels libzcshim_<field>. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static void prom_help(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			printf("\\\\");
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static void page_prometheus(const struct lp_snap *s, int n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < s[0].nfields; i++) {
		const char *f = s[0].names[i], *what = what_of(f);
		int gauge = is_gauge(f);

		printf("# HELP libzcshim_%s%s ", f, gauge ? "" : "_total");
		prom_help(*what ? what : f);
		printf("\n# TYPE libzcshim_%s%s %s\n", f, gauge ? "" : "_total",
		       gauge ? "gauge" : "counter");
		for (int p = 0; p < n; p++) {
			printf("libzcshim_%s%s{pid=\"%d\",comm=\"", f, gauge ? "" : "_total", s[p].pid);
			prom_label(s[p].comm);
			printf("\"} %llu\n", (unsigned long long)lp_get(&s[p], f));
		}
	}
}

/* A row per process and a total row, then every counter of the total. */
static const struct lp_snap *prev_of(const struct lp_snap *prev, int nprev, int pid)
{
	for (int i = 0; i < nprev; i++)
		if (prev[i].pid == pid)
			return &prev[i];
	return NULL;
}

/* A row per process and a total row, then every counter of the total;
 * under --watch, the total's rates count the processes seen both times
 * (one that appeared adds no rate for its first interval). */
static void page_summary(const struct lp_snap *s, int n, const struct lp_snap *prev, int nprev)
{
	static const char *const cols[] = { "zc_sends", "zc_bytes", "copy_sends", "copy_bytes",
					    "guard_faults", "inflight_bytes" };
	static struct lp_snap total, base;
	unsigned long long sum[6] = { 0 };

	printf("%8s %-16s %-8s", "pid", "comm", "state");
	for (int c = 0; c < 6; c++)
		printf(" %15s", cols[c]);
	printf("\n");
	memset(&total, 0, sizeof total);
	for (int p = 0; p < n; p++) {
		printf("%8d %-16s %-8s", s[p].pid, s[p].comm, lp_state_name(s[p].state));
		for (int c = 0; c < 6; c++) {
			unsigned long long v = lp_get(&s[p], cols[c]);

			sum[c] += v;
			printf(" %15llu", v);
		}
		printf("\n");
		if (s[p].nfields > total.nfields) {
			total.nfields = s[p].nfields;
			memcpy(total.names, s[p].names, sizeof total.names);
		}
	}
	printf("%8s %-16s %-8d", "total", "", n);
	for (int c = 0; c < 6; c++)
		printf(" %15llu", sum[c]);
	printf("\n\n");
	base = total;
	for (int p = 0; p < n; p++) {
		const struct lp_snap *was = prev_of(prev, nprev, s[p].pid);

		for (unsigned i = 0; i < total.nfields; i++) {
			total.v[i] += lp_get(&s[p], total.names[i]);
			base.v[i] += lp_get(was ? was : &s[p], total.names[i]);
		}
	}
	total.ts = n ? s[0].ts : 0;
	base.ts = nprev ? prev[0].ts : 0;
	page_table(&total, nprev ? &base : NULL, "total of these processes");
}

#define MAXPAGES 512

/* Read and show; returns 0, or 1 if a named process has no page. */
static int pages_once(const int *pids, int npids, const char *all, struct lp_snap *now, int *nnow,
		      const struct lp_snap *prev, int nprev)
{
	int n = 0, bad = 0;

	if (npids) {
		for (int i = 0; i < npids; i++) {
			int r = lp_read_pid(page_dir, pids[i], &now[n]);

			if (r == 0) {
				n++;
				continue;
			}
			if (r == -3) {
				fprintf(stderr, "zcstat: process %d has no live stats page (the one "
					"found is of an earlier process %d, %s, now %s)\n", pids[i],
					pids[i], now[n].comm, lp_state_name(now[n].state));
				bad = 1;
				continue;
			}
			if (r == -2) {
				fprintf(stderr, "zcstat: the live stats page of process %d is another "
					"user's: a user reads only their own processes' pages, root "
					"everyone's\n", pids[i]);
				bad = 1;
				continue;
			}
			fprintf(stderr, "zcstat: no live stats page of process %d in the stats "
				"directories (%s); if it runs with libzcshim, see its standard error "
				"for why, or use --signal\n", pids[i],
				page_dir ? page_dir : "ZCSHIM_STATS_DIR, /run/zcshim, "
				"$XDG_RUNTIME_DIR/zcshim, /tmp/zcshim-UID");
			bad = 1;
		}
	} else {
		n = lp_read_all(page_dir, all, ended, now, MAXPAGES);
		if (!n && all) {
			fprintf(stderr, "zcstat: no live stats page of a process named '%s'\n", all);
			bad = 1;
		} else if (!n && !prom_out) {
			/* (--prometheus: an empty exposition is the right answer) */
			fprintf(stderr, "zcstat: no live stats page of a %sprocess found\n",
				ended ? "" : "running ");
			bad = 1;
		}
	}
	*nnow = n;
	if (prom_out) {
		page_prometheus(now, n);
	} else if (json_out) {
		for (int i = 0; i < n; i++)
			page_json(&now[i]);
	} else if (all || !npids) {
		if (watch_secs) {
			char t[64];

			when((uint64_t)time(NULL) * 1000000000u, t, sizeof t);
			printf("%s\n", t);
		}
		if (n)
			page_summary(now, n, prev, nprev);
	} else {
		for (int i = 0; i < n; i++)
			page_table(&now[i], prev_of(prev, nprev, now[i].pid), NULL);
	}
	fflush(stdout);
	return bad;
}

int main(int argc, char **argv)
{
	int pids[MAXPIDS], npids = 0, bad = 0, use_signal = 0;
	const char *all = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json_out = 1;
		} else if (!strcmp(argv[i], "--prometheus")) {
			prom_out = 1;
		} else if (!strcmp(argv[i], "--ended")) {
			ended = 1;
		} else if (!strcmp(argv[i], "--signal")) {
			use_signal = 1;
		} else if (!strcmp(argv[i], "--watch") || !strncmp(argv[i], "--watch=", 8)) {
			const char *v = argv[i][7] == '=' ? argv[i] + 8
					: i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9'
					? argv[++i] : "1";

			watch_secs = atoi(v);
			if (watch_secs <= 0 || strspn(v, "0123456789") != strlen(v)) {
				fprintf(stderr, "zcstat: --watch takes a number of seconds, not '%s'\n", v);
				return 2;
			}
		} else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
			forced_file = argv[++i];
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			page_dir = argv[++i];
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
	if (use_signal) {
		if (prom_out) {
			fprintf(stderr, "zcstat: --prometheus reads the live pages; it does not go with --signal\n");
			return 2;
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
				bad |= signal_one(pids[i]);
			if (watch_secs)
				sleep((unsigned)watch_secs);
		} while (watch_secs);
		return bad;
	}
	{
		struct lp_snap *now = calloc(MAXPAGES, sizeof *now), *prev = calloc(MAXPAGES, sizeof *prev);
		int nnow = 0, nprev = 0;

		if (!now || !prev) {
			fprintf(stderr, "zcstat: out of memory\n");
			return 1;
		}
		for (;;) {
			struct lp_snap *t;

			bad = pages_once(pids, npids, all, now, &nnow, prev, nprev);
			if (!watch_secs)
				break;
			sleep((unsigned)watch_secs);
			t = prev, prev = now, now = t;
			nprev = nnow;
			if (!json_out && !prom_out)
				printf("\n");
		}
	}
	return bad;
}
