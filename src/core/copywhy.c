/*
 * copywhy.c - counting copied sends by reason (see copywhy.h).
 */
#include "copywhy.h"
#include "shim.h"
#include "signals.h"
#include "stats.h"
#include "vma.h"

static const char *const why_text[ZC_WHY_COUNT] = {
	[ZC_WHY_NONE] = "no reason given",
#define ZC_WHY_TEXT(e, field, text) [ZC_WHY_##e] = #field ": " text,
	ZC_COPY_REASONS(ZC_WHY_TEXT)
#undef ZC_WHY_TEXT
};

static uint32_t logged;   /* bit per reason named in the log */

static void describe(char *buf, size_t cap, unsigned f)
{
	const char *kind = (f & ZC_VMA_SPECIAL) ? "special" :
			   (f & ZC_VMA_STACK) ? "main stack" :
			   (f & ZC_VMA_ANON) ? ((f & ZC_VMA_SHARED) ? "shared anonymous" : "anonymous")
					     : "file";

	if (cap < 5)
		return;
	buf[0] = (f & ZC_VMA_READ) ? 'r' : '-';
	buf[1] = (f & ZC_VMA_WRITE) ? 'w' : '-';
	buf[2] = (f & ZC_VMA_EXEC) ? 'x' : '-';
	buf[3] = (f & ZC_VMA_SHARED) ? 's' : 'p';
	buf[4] = ' ';
	for (size_t i = 5; i + 1 < cap && *kind; i++, kind++) {
		buf[i] = *kind;
		buf[i + 1] = '\0';
	}
}

static void log_first(int why, size_t bytes, const struct zc_copy_what *w)
{
	uint32_t bit = 1u << why;
	char map[32] = "";

	if (__atomic_load_n(&logged, __ATOMIC_RELAXED) & bit)
		return;
	if (zc_in_program_handler())
		return;   /* named at a later occurrence */
	if (__atomic_fetch_or(&logged, bit, __ATOMIC_RELAXED) & bit)
		return;
	if (w && w->start < w->end) {
		if (w->have_vma)
			describe(map, sizeof map, w->vma_flags);
		zc_log(ZC_LOG_DEBUG,
		       "fd %d: a send of %zu bytes copied (%s); first of its kind: bytes at "
		       "%#lx-%#lx, mapping %s",
		       w->fd, bytes, why_text[why], (unsigned long)w->start, (unsigned long)w->end,
		       w->have_vma ? map : "unknown");
	} else {
		zc_log(ZC_LOG_DEBUG, "fd %d: a send of %zu bytes copied (%s); first of its kind",
		       w ? w->fd : -1, bytes, why_text[why]);
	}
}

void zc_copy_count(size_t bytes, int why, const struct zc_copy_what *what)
{
	ZC_STAT_ADD(copy_sends, 1);
	ZC_STAT_ADD(copy_bytes, bytes);
	switch (why) {
#define ZC_WHY_CASE(e, field, text) case ZC_WHY_##e: ZC_STAT_ADD(field, 1); break;
	ZC_COPY_REASONS(ZC_WHY_CASE)
#undef ZC_WHY_CASE
	default:
		/* A path that gives no reason is a defect: the test that adds
		 * the reasons up against copy_sends shows it. */
		break;
	}
	if (ZC_UNLIKELY(zc_cfg.log_level >= ZC_LOG_DEBUG) && why > 0 && why < ZC_WHY_COUNT)
		log_first(why, bytes, what);
}
