/*
 * policy.c - the guard's decisions (see policy.h): pure functions over the
 * tables the caller passes in. No globals, no syscalls, no locks; memory
 * accesses only, so the fault path may call them (signal context).
 */
#include "policy.h"

int zc_policy_way_of(const uintptr_t *set, uint32_t n, uintptr_t key)
{
	for (uint32_t w = 0; w < n; w++)
		if (__atomic_load_n(&set[w], __ATOMIC_RELAXED) == key)
			return (int)w;
	return -1;
}

uint32_t zc_policy_way_for_new(const uintptr_t *set, uint32_t n, uint32_t *victim)
{
	int w = zc_policy_way_of(set, n, 0);

	return w >= 0 ? (uint32_t)w : (*victim)++ % n;
}

int zc_policy_hot_find(const struct zc_hot_table *t, uintptr_t start)
{
	uint32_t h = zc_policy_set(start, ZC_HOT_SET_BITS) * ZC_HOT_WAYS;
	int w;

	if (!start || (w = zc_policy_way_of(&t->key[h], ZC_HOT_WAYS, start)) < 0)
		return -1;
	return (int)h + w;
}

/* Under the lock; zc_policy_hot_copy reads without it (a stale read only
 * changes one send between copy and zerocopy, both correct). */
void zc_policy_hot_mark(struct zc_hot_table *t, uintptr_t start)
{
	int found = zc_policy_hot_find(t, start);
	uint32_t h, sends;
	uint8_t level = 0, strike = 0;

	if (found >= 0) {
		h = (uint32_t)found;
		level = t->st[h].level;
		sends = __atomic_load_n(&t->st[h].sends, __ATOMIC_RELAXED);
		if (t->st[h].strike && sends == 0)
			/* Not sent since the strike: the same rewrite (a
			 * write fault, then a read() into the rest). */
			return;
		if (t->st[h].strike)
			/* Sent often enough unchanged since its first strike:
			 * this rewrite is a first strike again. */
			strike = sends >= ZC_HOT_STRIKE_SENDS;
		else if (t->st[h].probing && level < ZC_HOT_LEVEL_MAX)
			level++;   /* still rewritten after its probe */
	} else {
		uint32_t set = zc_policy_set(start, ZC_HOT_SET_BITS) * ZC_HOT_WAYS;

		h = set + zc_policy_way_for_new(&t->key[set], ZC_HOT_WAYS, &t->victim);
		/* A reader that still matches the old key meanwhile reads
		 * this state for it: one send copied or guarded, both right. */
		__atomic_store_n(&t->key[h], (uintptr_t)0, __ATOMIC_RELAXED);
		strike = 1;
	}
	/* (A new key's way may have held another key's strike.) */
	t->strikes += (uint32_t)strike - t->st[h].strike;
	__atomic_store_n(&t->st[h].sends, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].level, level, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].strike, strike, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].probing, strike, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].sampled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].resent, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->key[h], start, __ATOMIC_RELAXED);
}

void zc_policy_hot_freed(struct zc_hot_table *t, uintptr_t start)
{
	int h = zc_policy_hot_find(t, start);

	/* (A strike is not a probe: zc_policy_hot_mark judges it, by its
	 * count of sends.) */
	if (h >= 0 && __atomic_load_n(&t->st[h].probing, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&t->st[h].strike, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&t->st[h].resent, __ATOMIC_RELAXED)) {
		/* The next buffer there must be sent again in its turn. */
		__atomic_store_n(&t->st[h].resent, 0, __ATOMIC_RELAXED);
		return;
	}
	zc_policy_hot_mark(t, start);
}

int zc_policy_is_hot(const struct zc_hot_table *t, uintptr_t start)
{
	int h = zc_policy_hot_find(t, start);

	return h >= 0 && !__atomic_load_n(&t->st[h].probing, __ATOMIC_RELAXED);
}

int zc_policy_hot_copy(struct zc_hot_table *t, uintptr_t start)
{
	int h;
	uint32_t every, n;

	if ((h = zc_policy_hot_find(t, start)) < 0)
		return ZC_HOT_NO;
	if (__atomic_load_n(&t->st[h].probing, __ATOMIC_RELAXED)) {
		/* Sent again on probation. A store only the first time: the
		 * threads sending one buffer share the line, read-only. */
		if (!__atomic_load_n(&t->st[h].resent, __ATOMIC_RELAXED))
			__atomic_store_n(&t->st[h].resent, 1, __ATOMIC_RELAXED);
		return ZC_HOT_NO;
	}
	every = (uint32_t)ZC_HOT_PROBE_EVERY << __atomic_load_n(&t->st[h].level, __ATOMIC_RELAXED);
	n = __atomic_add_fetch(&t->st[h].sends, 1, __ATOMIC_RELAXED) % every;
	if (__builtin_expect(n != 0 && n != every - 1, 1))
		return ZC_HOT_COPY;
	return n ? ZC_HOT_SAMPLE : ZC_HOT_PROBE;
}

/* These run without the lock, as zc_policy_hot_copy does: a race with
 * zc_policy_hot_mark (under the lock) or another sender only moves a
 * probe. */
void zc_policy_hot_note(struct zc_hot_table *t, uintptr_t start, int ok, uint64_t sample)
{
	int h = zc_policy_hot_find(t, start);

	if (h < 0)
		return;
	__atomic_store_n(&t->st[h].sample, sample, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].sampled, (uint8_t)(ok != 0), __ATOMIC_RELAXED);
}

int zc_policy_hot_probe(struct zc_hot_table *t, uintptr_t start, int ok, uint64_t sample)
{
	int h = zc_policy_hot_find(t, start);

	if (h < 0)
		return ZC_PROBE_GONE;
	if (ok && __atomic_load_n(&t->st[h].sampled, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&t->st[h].sample, __ATOMIC_RELAXED) != sample) {
		uint8_t level = __atomic_load_n(&t->st[h].level, __ATOMIC_RELAXED);

		/* Rewritten since the send before: what a failed probe does. */
		if (level < ZC_HOT_LEVEL_MAX)
			__atomic_store_n(&t->st[h].level, (uint8_t)(level + 1), __ATOMIC_RELAXED);
		__atomic_store_n(&t->st[h].sends, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->st[h].sampled, 0, __ATOMIC_RELAXED);
		return ZC_PROBE_SKIP;
	}
	__atomic_store_n(&t->st[h].sampled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].resent, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->st[h].probing, 1, __ATOMIC_RELAXED);   /* probe */
	return ZC_PROBE_MAKE;
}

int zc_policy_seen_has(const struct zc_seen_table *t, uintptr_t start)
{
	return zc_policy_way_of(&t->key[zc_policy_set(start, ZC_SEEN_SET_BITS) * ZC_SEEN_WAYS],
				ZC_SEEN_WAYS, start) >= 0;
}

void zc_policy_seen_note(struct zc_seen_table *t, uintptr_t start)
{
	uintptr_t *set = &t->key[zc_policy_set(start, ZC_SEEN_SET_BITS) * ZC_SEEN_WAYS];

	if (zc_policy_way_of(set, ZC_SEEN_WAYS, start) < 0)
		set[zc_policy_way_for_new(set, ZC_SEEN_WAYS, &t->victim)] = start;
}

/* kept, for the hot table's entry h of start (-1: none). */
static int kept_at(const struct zc_hot_table *hot, int h, const struct zc_seen_table *seen,
		   const struct zc_ext_table *ext, uintptr_t start)
{
	return !(h >= 0 && !__atomic_load_n(&hot->st[h].probing, __ATOMIC_RELAXED)) &&
	       zc_policy_seen_has(seen, start) &&
	       (zc_ext_nidle(ext) < ext->idle_cap || zc_ext_idle_get(ext, start));
}

int zc_policy_kept(const struct zc_hot_table *hot, const struct zc_seen_table *seen,
		   const struct zc_ext_table *ext, uintptr_t start)
{
	return kept_at(hot, zc_policy_hot_find(hot, start), seen, ext, start);
}

/* A struck buffer's sends are counted as each of its guarded ranges is
 * armed: every range of a call, not only the one its send is keyed by. */
static void strike_sent(struct zc_hot_table *hot, int h)
{
	if (h >= 0 && __atomic_load_n(&hot->st[h].strike, __ATOMIC_RELAXED))
		__atomic_add_fetch(&hot->st[h].sends, 1, __ATOMIC_RELAXED);
}

void zc_policy_hot_sent(struct zc_hot_table *hot, uintptr_t start)
{
	if (hot->strikes)
		strike_sent(hot, zc_policy_hot_find(hot, start));
}

int zc_policy_idle_holds(const struct zc_ext_table *ext, uintptr_t start, uintptr_t end)
{
	const struct zc_ext_range *r = zc_ext_idle_get(ext, start);

	return r && r->end >= end;
}

int zc_policy_release(const struct zc_hot_table *hot, struct zc_seen_table *seen,
		      const struct zc_ext_table *ext, uintptr_t start, uintptr_t end)
{
	/* Sent while idle (a buffer sent again and again): its pages stay as
	 * they are whatever the tables say (giving them back would make
	 * writable only what the idle range does not hold: nothing), so the
	 * tables are not read (the seen table's line is a cache miss in a
	 * content cache). */
	if (zc_policy_idle_holds(ext, start, end))
		return ZC_RELEASE_HELD;
	if (zc_policy_is_hot(hot, start))
		return ZC_RELEASE_GIVE;
	if (!zc_policy_seen_has(seen, start)) {
		zc_policy_seen_note(seen, start);   /* sent again, it is kept */
		return ZC_RELEASE_GIVE;
	}
	return ZC_RELEASE_IDLE;
}

int zc_policy_worth(struct zc_hot_table *hot, struct zc_seen_table *seen,
		    const struct zc_ext_table *ext, uintptr_t start, size_t pages,
		    uint32_t once_min)
{
	/* No buffer struck (a program that rewrites none): a send of pages
	 * read-only already looks nothing up. */
	int h = hot->strikes ? zc_policy_hot_find(hot, start) : -2;

	strike_sent(hot, h);
	if (pages == 0)
		return ZC_WORTH_COVERED;   /* read-only already: no protection to pay */
	if (h == -2)
		h = zc_policy_hot_find(hot, start);
	if (kept_at(hot, h, seen, ext, start))
		return ZC_WORTH_PROTECT;   /* paid once for many sends */
	if (pages >= once_min)
		return ZC_WORTH_PROTECT;   /* big enough that even one guard cycle beats the copy */
	/* Copied; sent again, the buffer is kept (and so worth guarding). */
	zc_policy_seen_note(seen, start);
	return ZC_WORTH_COPY;
}

uint32_t zc_policy_idle_cap(const char *text, long n)
{
	unsigned long v = 0;

	for (long i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++)
		v = v * 10 + (unsigned long)(text[i] - '0');
	if (!v)
		v = ZC_MAP_COUNT_DEFAULT;
	v /= 16;
	return v > ZC_IDLE_MAX ? ZC_IDLE_MAX : (uint32_t)v;
}
