/*
 * check_policy.c - the guard's decisions (policy.c): the hot table's
 * set-associative placement (buffers a power of two of pages apart spread
 * over the sets) and its replacement of a full set; the probe back-off
 * (64, 128, ..., 1024 sends) and what restarts it; the content sample
 * that skips a probe; the seen table; whether a release keeps a buffer's
 * pages idle, with and without room in the idle set; and the worth of
 * guarding a send under a few machines' cost profiles.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel.h"
#include "policy.h"
#include "suites.h"

#define P 0x1000u
#define MIB (1u << 20)
#define BASE ((uintptr_t)0x7f0000000000ull)

/* The tables are large (the seen table 512 KiB): one of each, cleared per
 * test. */
static struct zc_hot_table hot;
static struct zc_seen_table seen;
static struct zc_ext_table ext;
static struct zc_ext ext_v[64];
static void *idle_mem;   /* the idle set's memory (zc_idle_bytes) */

static void setup(void)
{
	memset(&hot, 0, sizeof hot);
	memset(&seen, 0, sizeof seen);
	memset(&ext, 0, sizeof ext);
	memset(ext_v, 0, sizeof ext_v);
	ext.v = ext_v;
	ext.cap = 64;
	ext.reserve = 4;
	free(idle_mem);
	idle_mem = calloc(1, zc_idle_bytes(8));
	ck_assert_ptr_nonnull(idle_mem);
	zc_idle_setup(&ext.idle, idle_mem, 8);
	ext.idle_cap = 8;
}

/* n distinct keys from BASE on, one page apart, that share the hot set of
 * the first. */
static void same_hot_set(uintptr_t *out, int n)
{
	uint32_t set = zc_policy_set(BASE, ZC_HOT_SET_BITS);
	int k = 0;

	for (uintptr_t a = BASE; k < n; a += P)
		if (zc_policy_set(a, ZC_HOT_SET_BITS) == set)
			out[k++] = a;
}

/* The same for the seen table. */
static void same_seen_set(uintptr_t *out, int n)
{
	uint32_t set = zc_policy_set(BASE, ZC_SEEN_SET_BITS);
	int k = 0;

	for (uintptr_t a = BASE; k < n; a += P)
		if (zc_policy_set(a, ZC_SEEN_SET_BITS) == set)
			out[k++] = a;
}

/* A buffer written, sent once, written again: hot. (The first write
 * alone is a strike: see test_strike.) */
static void make_hot(uintptr_t start)
{
	zc_policy_hot_mark(&hot, start);
	zc_policy_hot_sent(&hot, start);
	zc_policy_hot_mark(&hot, start);
}

/* Send start until the hot table says something other than copy; returns
 * that answer, and in *copies how many sends were copied before it. */
static int sends_until(uintptr_t start, uint32_t *copies)
{
	int r;

	*copies = 0;
	while ((r = zc_policy_hot_copy(&hot, start)) == ZC_HOT_COPY)
		++*copies;
	return r;
}

START_TEST(test_placement_spread)
{
	/* 256 buffers a power of two of pages apart (1 page to 16 MiB, an
	 * allocator's size classes): the low bits of their page numbers are
	 * the same (the old placement put them in one set), yet the
	 * Fibonacci hash spreads them over at least half the sets, never
	 * more in one than it has ways. */
	for (unsigned shift = 0; shift <= 12; shift++) {
		uint32_t load[1u << ZC_HOT_SET_BITS], most = 0, used = 0;

		memset(load, 0, sizeof load);
		for (uintptr_t i = 0; i < 256; i++) {
			uint32_t s = zc_policy_set(BASE + (i << shift) * P, ZC_HOT_SET_BITS);

			used += load[s]++ == 0;
			most = load[s] > most ? load[s] : most;
		}
		ck_assert_msg(most <= ZC_HOT_WAYS, "%u buffers %lu pages apart in one set of %u ways",
			      most, 1ul << shift, ZC_HOT_WAYS);
		ck_assert_msg(used >= 128, "256 buffers %lu pages apart on %u sets only",
			      1ul << shift, used);
	}
}
END_TEST

START_TEST(test_placement_hot_1mib)
{
	/* 256 rewritten buffers 1 MiB (256 pages) apart are all remembered:
	 * the old placement (the page number's low bits) put them all in a
	 * single slot, each pushing the one before out. */
	for (uintptr_t i = 0; i < 256; i++)
		make_hot(BASE + i * MIB);
	for (uintptr_t i = 0; i < 256; i++) {
		ck_assert_msg(zc_policy_is_hot(&hot, BASE + i * MIB), "buffer %lu forgotten",
			      (unsigned long)i);
		ck_assert_int_eq(zc_policy_hot_copy(&hot, BASE + i * MIB), ZC_HOT_COPY);
	}
	ck_assert(!zc_policy_is_hot(&hot, BASE + 256 * MIB));
	ck_assert_int_eq(zc_policy_hot_copy(&hot, BASE + 256 * MIB), ZC_HOT_NO);
	ck_assert_int_eq(zc_policy_hot_copy(&hot, 0), ZC_HOT_NO);   /* no key */
}
END_TEST

START_TEST(test_placement_seen_spread)
{
	/* A content cache of 4096 buffers a power of two of pages apart (1
	 * page to 4 GiB; 1 MiB is udpsink.sh's cache): every one is seen. */
	for (unsigned shift = 0; shift <= 20; shift++) {
		memset(&seen, 0, sizeof seen);
		for (uintptr_t i = 0; i < 4096; i++)
			zc_policy_seen_note(&seen, BASE + (i << shift) * P);
		for (uintptr_t i = 0; i < 4096; i++)
			ck_assert_msg(zc_policy_seen_has(&seen, BASE + (i << shift) * P),
				      "buffer %lu of those %lu pages apart forgotten",
				      (unsigned long)i, 1ul << shift);
		ck_assert(!zc_policy_seen_has(&seen, BASE + ((uintptr_t)4096 << shift) * P));
	}
}
END_TEST

START_TEST(test_hot_replacement)
{
	uintptr_t k[ZC_HOT_WAYS + 2];
	int found = 0;

	same_hot_set(k, ZC_HOT_WAYS + 2);
	for (int i = 0; i < ZC_HOT_WAYS; i++)
		make_hot(k[i]);
	for (int i = 0; i < ZC_HOT_WAYS; i++)
		ck_assert(zc_policy_is_hot(&hot, k[i]));
	ck_assert_uint_eq(hot.victim, 0);   /* empty ways were taken first */

	/* The set is full: the shared counter names the way given up. */
	make_hot(k[ZC_HOT_WAYS]);
	ck_assert(zc_policy_is_hot(&hot, k[ZC_HOT_WAYS]));
	ck_assert(!zc_policy_is_hot(&hot, k[0]));   /* way 0: victim 0 */
	for (int i = 1; i < ZC_HOT_WAYS; i++)
		ck_assert(zc_policy_is_hot(&hot, k[i]));
	ck_assert_uint_eq(hot.victim, 1);

	/* Marking a key already there takes no way. */
	zc_policy_hot_mark(&hot, k[2]);
	ck_assert_uint_eq(hot.victim, 1);

	/* The next newcomer gives up way 1, and the set still holds four. */
	make_hot(k[ZC_HOT_WAYS + 1]);
	ck_assert(!zc_policy_is_hot(&hot, k[1]));
	for (int i = 0; i < ZC_HOT_WAYS + 2; i++)
		found += zc_policy_is_hot(&hot, k[i]);
	ck_assert_int_eq(found, ZC_HOT_WAYS);

	/* A key that comes back after being pushed out starts afresh. */
	hot.st[zc_policy_hot_find(&hot, k[3])].level = 3;
	zc_policy_hot_mark(&hot, k[0]);   /* takes way 2 (victim 2): k[2] out */
	ck_assert(!zc_policy_is_hot(&hot, k[2]));
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, k[0])].level, 0);
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, k[3])].level, 3);
}
END_TEST

START_TEST(test_strike)
{
	const uintptr_t b = BASE + 120 * P;

	/* A first write is a strike: the buffer is still sent with
	 * zerocopy, and kept. */
	zc_policy_hot_mark(&hot, b);
	ck_assert(!zc_policy_is_hot(&hot, b));
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_NO);
	ck_assert_uint_eq(hot.strikes, 1);
	/* Written again with no send in between: the same rewrite. */
	zc_policy_hot_mark(&hot, b);
	ck_assert(!zc_policy_is_hot(&hot, b));
	/* Sent ZC_HOT_STRIKE_SENDS times unchanged (counted as they are
	 * armed, whatever the guard decides): its next write is a first
	 * strike again (a cache's memory, reused for another item now and
	 * then). */
	zc_policy_hot_sent(&hot, b);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, b, 0, ZC_COST_NEVER), ZC_WORTH_COVERED);
	zc_policy_hot_mark(&hot, b);
	ck_assert(!zc_policy_is_hot(&hot, b));
	/* Written again after fewer sends: hot, its sends copied from now
	 * on (a buffer rewritten before every send). */
	for (int i = 0; i < ZC_HOT_STRIKE_SENDS - 1; i++)
		zc_policy_hot_sent(&hot, b);
	zc_policy_hot_mark(&hot, b);
	ck_assert(zc_policy_is_hot(&hot, b));
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_COPY);
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, 0);
	ck_assert_uint_eq(hot.strikes, 0);   /* (no send looks the table up then) */
}
END_TEST

START_TEST(test_way_for_new)
{
	uintptr_t set[4] = { 5, 0, 7, 0 };
	uint32_t victim = 6;

	ck_assert_uint_eq(zc_policy_way_for_new(set, 4, &victim), 1);   /* the first empty */
	ck_assert_uint_eq(victim, 6);
	set[1] = 9;
	set[3] = 11;
	ck_assert_uint_eq(zc_policy_way_for_new(set, 4, &victim), 2);   /* 6 % 4 */
	ck_assert_uint_eq(zc_policy_way_for_new(set, 4, &victim), 3);
	ck_assert_uint_eq(zc_policy_way_for_new(set, 4, &victim), 0);
	ck_assert_int_eq(zc_policy_way_of(set, 4, 7), 2);
	ck_assert_int_eq(zc_policy_way_of(set, 4, 8), -1);
}
END_TEST

START_TEST(test_probe_backoff)
{
	const uintptr_t b = BASE + 40 * P;
	uint32_t copies;

	/* Not known rewritten: nothing to copy. */
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_NO);
	make_hot(b);
	/* Each round: copies, a sample, then a probe, which is made (no
	 * sample to compare with); on probation the sends go out with
	 * zerocopy until the buffer is written again, and that write backs
	 * it off one level: 64, 128, 256, 512, then 1024 sends for good. */
	for (unsigned round = 0; round < 7; round++) {
		uint32_t every = ZC_HOT_PROBE_EVERY << (round < ZC_HOT_LEVEL_MAX ? round : ZC_HOT_LEVEL_MAX);

		ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
		ck_assert_uint_eq(copies, every - 2);
		ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
		ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 0, 0), ZC_PROBE_MAKE);
		ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_NO);   /* probation */
		ck_assert(!zc_policy_is_hot(&hot, b));
		zc_policy_hot_mark(&hot, b);   /* rewritten after its probe */
		ck_assert(zc_policy_is_hot(&hot, b));
	}
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, ZC_HOT_LEVEL_MAX);
}
END_TEST

START_TEST(test_probe_reset)
{
	const uintptr_t b = BASE + 41 * P;
	uint32_t copies;

	make_hot(b);
	/* Written again while its sends are copied (not on probation): the
	 * count restarts, and the level stays. */
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_COPY);
	zc_policy_hot_mark(&hot, b);
	ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
	ck_assert_uint_eq(copies, ZC_HOT_PROBE_EVERY - 2);
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, 0);

	/* A probe that finds no write: the buffer stays on probation (sent
	 * with zerocopy) for as long as it is not written. */
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 1, 42), ZC_PROBE_MAKE);
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_NO);

	/* A probe of a buffer pushed out meanwhile: not known rewritten. */
	ck_assert_int_eq(zc_policy_hot_probe(&hot, BASE + 999 * P, 1, 1), ZC_PROBE_GONE);
	zc_policy_hot_note(&hot, BASE + 999 * P, 1, 1);   /* and no entry made */
	ck_assert_int_eq(zc_policy_hot_find(&hot, BASE + 999 * P), -1);
}
END_TEST

START_TEST(test_probe_freed)
{
	const uintptr_t b = BASE + 43 * P, f = BASE + 44 * P;
	uint32_t copies;

	/* An address made hot (its buffer rewritten after a single send),
	 * then a cache's objects there: each freed after many sends. After
	 * the probe that finds the first one sent unchanged, the next buffer
	 * there is on probation from its first send, with no back-off, free
	 * after free. */
	zc_policy_hot_mark(&hot, b);   /* a strike */
	zc_policy_hot_sent(&hot, b);
	zc_policy_hot_mark(&hot, b);   /* rewritten after one send: hot */
	ck_assert(zc_policy_is_hot(&hot, b));
	for (int life = 0; life < 6; life++) {
		if (life == 0) {
			ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
			ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
			ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 0, 0), ZC_PROBE_MAKE);
		}
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_NO);
		zc_policy_hot_freed(&hot, b);
		ck_assert(!zc_policy_is_hot(&hot, b));
	}
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, 0);
	/* Freed again with no send since the free before: as a rewrite. */
	zc_policy_hot_freed(&hot, b);
	ck_assert(zc_policy_is_hot(&hot, b));
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, 1);

	/* malloc, fill, send, free at a hot address: freed right after its
	 * probe's send, so it backs off as if rewritten: 64, 128, ... sends
	 * between probes. */
	zc_policy_hot_mark(&hot, f);
	zc_policy_hot_sent(&hot, f);
	zc_policy_hot_mark(&hot, f);
	for (unsigned round = 0; round < 3; round++) {
		ck_assert_int_eq(sends_until(f, &copies), ZC_HOT_SAMPLE);
		ck_assert_uint_eq(copies, (ZC_HOT_PROBE_EVERY << round) - 2);
		ck_assert_int_eq(zc_policy_hot_copy(&hot, f), ZC_HOT_PROBE);
		ck_assert_int_eq(zc_policy_hot_probe(&hot, f, 0, 0), ZC_PROBE_MAKE);
		zc_policy_hot_freed(&hot, f);
		ck_assert(zc_policy_is_hot(&hot, f));
	}

	/* A strike is judged by zc_policy_hot_mark, free or write: sent
	 * twice, a struck buffer's free leaves a strike; sent once, hot. */
	const uintptr_t c = BASE + 45 * P;

	zc_policy_hot_freed(&hot, c);   /* first free here: a strike */
	ck_assert(!zc_policy_is_hot(&hot, c));
	ck_assert_int_eq(zc_policy_hot_copy(&hot, c), ZC_HOT_NO);
	zc_policy_hot_sent(&hot, c);
	zc_policy_hot_sent(&hot, c);
	zc_policy_hot_freed(&hot, c);
	ck_assert(!zc_policy_is_hot(&hot, c));
	zc_policy_hot_sent(&hot, c);
	zc_policy_hot_freed(&hot, c);
	ck_assert(zc_policy_is_hot(&hot, c));
}
END_TEST

START_TEST(test_probe_sample_skip)
{
	const uintptr_t b = BASE + 42 * P;
	uint32_t copies;

	make_hot(b);
	/* The sample before the probe differs from the one at the probe: the
	 * program wrote the buffer in between; the probe is skipped and the
	 * buffer backed off as a failed probe would. */
	ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
	zc_policy_hot_note(&hot, b, 1, 0x1111);
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 1, 0x2222), ZC_PROBE_SKIP);
	ck_assert(zc_policy_is_hot(&hot, b));   /* still copied */
	ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
	ck_assert_uint_eq(copies, 2 * ZC_HOT_PROBE_EVERY - 2);

	/* The sample of a page that could not be read at the probe: made. */
	zc_policy_hot_note(&hot, b, 1, 0x3333);
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 0, 0x4444), ZC_PROBE_MAKE);
	zc_policy_hot_mark(&hot, b);   /* and it failed: 256 now */

	/* No sample before the probe (the page could not be read): made. */
	ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
	ck_assert_uint_eq(copies, 4 * ZC_HOT_PROBE_EVERY - 2);
	zc_policy_hot_note(&hot, b, 0, 0x5555);
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 1, 0x6666), ZC_PROBE_MAKE);
	zc_policy_hot_mark(&hot, b);   /* 512 */

	/* The same content at both samples: the probe is made (a write of
	 * the same bytes, or away from the sampled words, is the guard's to
	 * find). */
	ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
	ck_assert_uint_eq(copies, 8 * ZC_HOT_PROBE_EVERY - 2);
	zc_policy_hot_note(&hot, b, 1, 0x7777);
	ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 1, 0x7777), ZC_PROBE_MAKE);
	ck_assert(!zc_policy_is_hot(&hot, b));

	/* Skips saturate at the last level too. */
	zc_policy_hot_mark(&hot, b);   /* 1024 */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sends_until(b, &copies), ZC_HOT_SAMPLE);
		ck_assert_uint_eq(copies, 16 * ZC_HOT_PROBE_EVERY - 2);
		zc_policy_hot_note(&hot, b, 1, (uint64_t)i);
		ck_assert_int_eq(zc_policy_hot_copy(&hot, b), ZC_HOT_PROBE);
		ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 1, (uint64_t)i + 100), ZC_PROBE_SKIP);
	}
	ck_assert_uint_eq(hot.st[zc_policy_hot_find(&hot, b)].level, ZC_HOT_LEVEL_MAX);
}
END_TEST

START_TEST(test_seen_table)
{
	uintptr_t k[ZC_SEEN_WAYS + 1];
	int found = 0;

	ck_assert(!zc_policy_seen_has(&seen, BASE));
	zc_policy_seen_note(&seen, BASE);
	ck_assert(zc_policy_seen_has(&seen, BASE));
	zc_policy_seen_note(&seen, BASE);   /* noted once only */
	ck_assert_int_eq(zc_policy_way_of(&seen.key[zc_policy_set(BASE, ZC_SEEN_SET_BITS) *
							ZC_SEEN_WAYS], ZC_SEEN_WAYS, 0), 1);

	/* A full set gives up the way the shared counter names. */
	same_seen_set(k, ZC_SEEN_WAYS + 1);
	ck_assert_uint_eq(k[0], BASE);
	for (int i = 1; i <= ZC_SEEN_WAYS; i++)
		zc_policy_seen_note(&seen, k[i]);
	ck_assert(!zc_policy_seen_has(&seen, k[0]));
	for (int i = 0; i <= ZC_SEEN_WAYS; i++)
		found += zc_policy_seen_has(&seen, k[i]);
	ck_assert_int_eq(found, ZC_SEEN_WAYS);
	ck_assert_uint_eq(seen.victim, 1);
}
END_TEST

START_TEST(test_release_keeps)
{
	const uintptr_t b = BASE + 100 * P, e = b + 15 * P;

	/* A buffer completing for the first time gets its pages back, and
	 * is noted: the next release keeps them. */
	ck_assert(!zc_policy_kept(&hot, &seen, &ext, b));
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e), ZC_RELEASE_GIVE);
	ck_assert(zc_policy_seen_has(&seen, b));
	ck_assert(zc_policy_kept(&hot, &seen, &ext, b));
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e), ZC_RELEASE_IDLE);
	ck_assert_int_eq(zc_ext_idle_add(&ext, b, e), 0);

	/* Sent while idle: the idle range holds the whole call. */
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e), ZC_RELEASE_HELD);
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, b + 4 * P), ZC_RELEASE_HELD);
	/* A longer send from the same page: what is past the range is added. */
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e + P), ZC_RELEASE_IDLE);

	/* No room in the idle set: only a buffer idle already stays kept. */
	for (uint32_t i = 1; i < ext.idle_cap; i++) {
		uintptr_t o = BASE + (200 + 20 * i) * P;

		ck_assert_int_eq(zc_ext_idle_add(&ext, o, o + 4 * P), 0);
	}
	ck_assert_uint_eq(zc_ext_nidle(&ext), ext.idle_cap);
	ck_assert(zc_policy_kept(&hot, &seen, &ext, b));
	zc_policy_seen_note(&seen, BASE + 50 * P);
	ck_assert(!zc_policy_kept(&hot, &seen, &ext, BASE + 50 * P));
	ck_assert(!zc_policy_kept(&hot, &seen, &ext, BASE + 60 * P));   /* not seen either */
	ck_assert_uint_eq(zc_policy_worth(&hot, &seen, &ext, BASE + 50 * P, 15, ZC_COST_NEVER),
			  ZC_WORTH_COPY);
	/* Room again: kept. */
	ext.idle_cap++;
	ck_assert(zc_policy_kept(&hot, &seen, &ext, BASE + 50 * P));

	/* A rewritten (hot) buffer is never kept; on probation it is. Held
	 * by an idle range, its release changes nothing either way. */
	make_hot(b);
	ck_assert(!zc_policy_kept(&hot, &seen, &ext, b));
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e), ZC_RELEASE_HELD);
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e + P), ZC_RELEASE_GIVE);
	while (zc_policy_hot_copy(&hot, b) != ZC_HOT_PROBE)
		;
	ck_assert_int_eq(zc_policy_hot_probe(&hot, b, 0, 0), ZC_PROBE_MAKE);
	ck_assert(zc_policy_kept(&hot, &seen, &ext, b));
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, b, e), ZC_RELEASE_HELD);

	/* A hot buffer never seen is not noted as seen by its release. */
	make_hot(BASE + 70 * P);
	ck_assert_int_eq(zc_policy_release(&hot, &seen, &ext, BASE + 70 * P, BASE + 71 * P),
			 ZC_RELEASE_GIVE);
	ck_assert(!zc_policy_seen_has(&seen, BASE + 70 * P));
}
END_TEST

START_TEST(test_idle_cap)
{
	ck_assert_uint_eq(zc_policy_idle_cap("65530\n", 6), 4095);
	ck_assert_uint_eq(zc_policy_idle_cap("262144\n", 7), 16384);
	ck_assert_uint_eq(zc_policy_idle_cap("2147483647\n", 11), ZC_IDLE_MAX);
	ck_assert_uint_eq(zc_policy_idle_cap("1600", 4), 100);
	ck_assert_uint_eq(zc_policy_idle_cap("65530", 2), 4);   /* what was read: "65" */
	/* Nothing read, or nothing a number: the default limit's share. */
	ck_assert_uint_eq(zc_policy_idle_cap("", -1), 4095);
	ck_assert_uint_eq(zc_policy_idle_cap("", 0), 4095);
	ck_assert_uint_eq(zc_policy_idle_cap("x65530", 6), 4095);
	ck_assert_uint_eq(zc_policy_idle_cap("0\n", 2), 4095);
}
END_TEST

/* The cost profiles: this project's machines (a page costs more to protect
 * than to copy), bare metal (cheap protection), and before calibration. */
static uint32_t once_min_of(uint64_t pair, uint64_t pair_page, uint64_t copy_page)
{
	struct zc_cost c = { .pair_ns = pair, .pair_page_ns = pair_page,
			     .copy_page_ns = copy_page };

	return zc_cost_once_min_pages(&c);
}

START_TEST(test_worth_profiles)
{
	const uint32_t vm = once_min_of(7000, 250, 130);     /* never pays */
	const uint32_t metal = once_min_of(1000, 10, 60);    /* pays from 20 pages */
	const uintptr_t a = BASE + 300 * P, b = BASE + 400 * P, c = BASE + 500 * P;

	ck_assert_uint_eq(vm, ZC_COST_NEVER);
	ck_assert_uint_eq(metal, 20);

	/* Every page read-only already: nothing to pay, on any machine. */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 0, vm), ZC_WORTH_COVERED);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 0, metal), ZC_WORTH_COVERED);
	ck_assert(!zc_policy_seen_has(&seen, a));

	/* A first send of 15 pages: copied everywhere, and noted, so that
	 * its next send is guarded (and then kept). */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 15, vm), ZC_WORTH_COPY);
	ck_assert(zc_policy_seen_has(&seen, a));
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 15, vm), ZC_WORTH_PROTECT);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, b, 15, metal), ZC_WORTH_COPY);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, b, 15, metal), ZC_WORTH_PROTECT);

	/* Large first sends: one guard cycle pays on bare metal, from
	 * exactly the crossover; never where protection is dearer. */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, c, 19, metal), ZC_WORTH_COPY);
	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, c, 20, metal), ZC_WORTH_PROTECT);
	ck_assert(!zc_policy_seen_has(&seen, c));   /* guarded, not noted */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, c, 4096, metal), ZC_WORTH_PROTECT);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, c, 1u << 20, vm), ZC_WORTH_COPY);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, c, 1u << 20, ZC_COST_NEVER),
			 ZC_WORTH_PROTECT);   /* noted by the send before: kept */

	/* Before the calibration (ZC_COST_NEVER): copied as on the VM. */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, BASE + 600 * P, 256, ZC_COST_NEVER),
			 ZC_WORTH_COPY);

	/* A hot buffer is not kept: only its size can make it worth it. */
	make_hot(a);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 15, vm), ZC_WORTH_COPY);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 15, metal), ZC_WORTH_COPY);
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, a, 64, metal), ZC_WORTH_PROTECT);

	/* A protection that costs nothing more per page than a copy of one
	 * page: every first send is worth guarding. */
	ck_assert_int_eq(zc_policy_worth(&hot, &seen, &ext, BASE + 700 * P, 1,
					 once_min_of(5, 5, 6)), ZC_WORTH_PROTECT);
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_placement_spread);
	tcase_add_test(tc, test_placement_hot_1mib);
	tcase_add_test(tc, test_placement_seen_spread);
	tcase_add_test(tc, test_hot_replacement);
	tcase_add_test(tc, test_strike);
	tcase_add_test(tc, test_way_for_new);
	tcase_add_test(tc, test_probe_backoff);
	tcase_add_test(tc, test_probe_reset);
	tcase_add_test(tc, test_probe_freed);
	tcase_add_test(tc, test_probe_sample_skip);
	tcase_add_test(tc, test_seen_table);
	tcase_add_test(tc, test_release_keeps);
	tcase_add_test(tc, test_idle_cap);
	tcase_add_test(tc, test_worth_profiles);
	suite_add_tcase(s, tc);
	return s;
}
