/*
 * fuzz_settings - libFuzzer target for the environment parser.
 *
 * The input is read as lines NAME=VALUE (an environment); the parser must
 * never crash, always produce settings within their documented ranges, and
 * report each bad value once. zc_parse_size, zc_parse_signal and
 * zc_expand_path get the raw values too.
 */
#include "settings.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXVARS 32

struct env {
	char *name[MAXVARS];
	char *value[MAXVARS];
	int n;
};

static const char *get(const char *name, void *ctx)
{
	struct env *e = ctx;

	for (int i = e->n - 1; i >= 0; i--)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static void report(const char *msg, void *ctx)
{
	int *count = ctx;

	if (!strstr(msg, "ZCSHIM_") || !strstr(msg, "instead"))
		abort();   /* a message must name the variable and the fallback */
	(*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *line, *save = NULL;
	struct zc_config cfg;
	struct env e = { .n = 0 };
	int reports = 0, r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && e.n < MAXVARS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), out[ZC_STATS_PATH_MAX];
		size_t sz;

		if (!eq)
			continue;
		*eq = '\0';
		e.name[e.n] = line;
		e.value[e.n] = eq + 1;
		e.n++;
		/* The building blocks on the raw value. */
		if (!zc_parse_size(eq + 1, &sz) && sz == 0 && strspn(eq + 1, " 0") == 0)
			abort();
		r = zc_parse_signal(eq + 1);
		if (r == SIGKILL || r == SIGSEGV || r == SIGSTOP || r > SIGRTMAX)
			abort();
		r = zc_expand_path(eq + 1, 123456, out, sizeof out);
		if (r >= 0 && (size_t)r != strlen(out))
			abort();
		r = zc_expand_path(eq + 1, 7, out, 8);
		if (r >= 8)
			abort();
	}
	r = zc_config_parse(&cfg, get, &e, report, &reports);
	if (r != reports)
		abort();
	if (cfg.threshold < 1 || cfg.threshold > ZC_MAX_THRESHOLD || cfg.stall_us > ZC_MAX_STALL_US ||
	    cfg.log_level < ZC_LOG_ERROR || cfg.log_level > ZC_LOG_DEBUG ||
	    cfg.stats_signal < 0 || cfg.stats_signal > SIGRTMAX ||
	    memchr(cfg.stats_path, '\0', sizeof cfg.stats_path) == NULL ||
	    (cfg.disable != 0 && cfg.disable != 1) || (cfg.adapt != 0 && cfg.adapt != 1))
		abort();
	free(buf);
	return 0;
}
