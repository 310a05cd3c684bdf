/*
 * check_iovplan.c - splitting a payload between program pages and bounce
 * memory (iovplan.c): aligned and unaligned buffers, buffers without a
 * whole page, bounce pieces of neighbouring iovecs sharing one output
 * iovec, the NO_ROOM / TOO_MANY / NO_PAGES results, zero-length iovecs,
 * zc_iov_total, and a randomised property test that carries out plans and
 * compares the bytes they send with the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iovplan.h"
#include "suites.h"

#define PG 4096u

static char *page_alloc(size_t pages)
{
	char *p = aligned_alloc(PG, pages * PG);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < pages * PG; i++)
		p[i] = (char)(i * 7 + 3);
	return p;
}

static int in_bounce(const struct iovec *v, const char *bounce, size_t len)
{
	return (const char *)v->iov_base >= bounce &&
	       (const char *)v->iov_base + v->iov_len <= bounce + len;
}

START_TEST(test_aligned_single)
{
	static struct zc_plan p;
	static char bounce[2 * PG];
	char *buf = page_alloc(4);
	struct iovec iov = { buf, 4 * PG };

	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 1);
	ck_assert_ptr_eq(p.out[0].iov_base, buf);
	ck_assert_uint_eq(p.out[0].iov_len, 4 * PG);
	ck_assert_int_eq(p.next, 1);
	ck_assert_uint_eq(p.ext[0].start, (uintptr_t)buf);
	ck_assert_uint_eq(p.ext[0].end, (uintptr_t)buf + 4 * PG);
	ck_assert_uint_eq(p.ext[0].off, 0);
	ck_assert_int_eq(p.ncopy, 0);
	ck_assert_uint_eq(p.bounce_len, 0);
	ck_assert_uint_eq(p.total, 4 * PG);
	ck_assert_uint_eq(p.guarded, 4 * PG);
	free(buf);
}
END_TEST

START_TEST(test_unaligned)
{
	static struct zc_plan p;
	static char bounce[2 * PG];
	char *buf = page_alloc(4);
	struct iovec iov = { buf + 100, 3 * PG };

	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 3);
	/* Head: the 3996 bytes up to the first page boundary. */
	ck_assert_ptr_eq(p.out[0].iov_base, bounce);
	ck_assert_uint_eq(p.out[0].iov_len, PG - 100);
	/* The two whole pages, sent as they are. */
	ck_assert_ptr_eq(p.out[1].iov_base, buf + PG);
	ck_assert_uint_eq(p.out[1].iov_len, 2 * PG);
	/* Tail: the last 100 bytes. */
	ck_assert_ptr_eq(p.out[2].iov_base, bounce + PG - 100);
	ck_assert_uint_eq(p.out[2].iov_len, 100);

	ck_assert_int_eq(p.next, 1);
	ck_assert_uint_eq(p.ext[0].start, (uintptr_t)buf + PG);
	ck_assert_uint_eq(p.ext[0].end, (uintptr_t)buf + 3 * PG);
	ck_assert_uint_eq(p.ext[0].off, PG - 100);

	ck_assert_int_eq(p.ncopy, 2);
	ck_assert_ptr_eq(p.copy[0].src, buf + 100);
	ck_assert_uint_eq(p.copy[0].dst, 0);
	ck_assert_uint_eq(p.copy[0].len, PG - 100);
	ck_assert_ptr_eq(p.copy[1].src, buf + 3 * PG);
	ck_assert_uint_eq(p.copy[1].dst, PG - 100);
	ck_assert_uint_eq(p.copy[1].len, 100);

	ck_assert_uint_eq(p.bounce_len, PG);
	ck_assert_uint_eq(p.total, 3 * PG);
	ck_assert_uint_eq(p.guarded, 2 * PG);
	free(buf);
}
END_TEST

/* An iovec whose pages cannot be guarded is planned again as bytes to copy,
 * whole; the others keep their pages (memcached's reply: a header, the
 * value, "END\r\n" in read-only data). */
START_TEST(test_rebuild_whole)
{
	static struct zc_plan p;
	static char bounce[8 * PG];
	static const unsigned char whole[3] = { 1, 0, 0 };
	char *hdr = page_alloc(3), *val = page_alloc(4);
	struct iovec iov[3] = { { hdr + 10, 2 * PG }, { val + 100, 3 * PG }, { (void *)"END\r\n", 5 } };

	ck_assert_int_eq(zc_plan_build(&p, iov, 3, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.next, 2);   /* hdr's last page and val's two middle ones */
	ck_assert_int_eq(p.ext[1].iov, 1);
	ck_assert_int_eq(zc_plan_rebuild(&p, whole, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.next, 1);
	ck_assert_int_eq(p.ext[0].iov, 1);
	ck_assert_uint_eq(p.ext[0].start, (uintptr_t)val + PG);
	/* The payload offset counts the whole header before it. */
	ck_assert_uint_eq(p.ext[0].off, 2 * PG + PG - 100);
	/* Header and val's head share one bounce iovec; then the pages, then
	 * val's tail and "END\r\n" in another. */
	ck_assert_int_eq(p.nout, 3);
	ck_assert_ptr_eq(p.out[0].iov_base, bounce);
	ck_assert_uint_eq(p.out[0].iov_len, 2 * PG + PG - 100);
	ck_assert_ptr_eq(p.copy[0].src, hdr + 10);
	ck_assert_uint_eq(p.copy[0].len, 2 * PG);
	ck_assert_uint_eq(p.out[2].iov_len, 100 + 5);
	ck_assert_uint_eq(p.total, 2 * PG + 3 * PG + 5);
	ck_assert_uint_eq(p.bounce_len, 2 * PG + PG - 100 + 100 + 5);
	/* Too much to copy for the slot: no room, as for the ends alone. */
	ck_assert_int_eq(zc_plan_rebuild(&p, whole, bounce, PG, PG), ZC_PLAN_NO_ROOM);
	/* Nothing left to guard. */
	{
		static const unsigned char all[3] = { 1, 1, 1 };

		ck_assert_int_eq(zc_plan_rebuild(&p, all, bounce, sizeof bounce, PG), ZC_PLAN_NO_PAGES);
	}
	free(hdr);
	free(val);
}
END_TEST

/* One-byte heads and tails are not lost. */
START_TEST(test_one_byte_edges)
{
	static struct zc_plan p;
	static char bounce[PG];
	char *buf = page_alloc(4);
	struct iovec iov = { buf + PG - 1, 1 + 2 * PG + 1 };

	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 3);
	ck_assert_uint_eq(p.out[0].iov_len, 1);
	ck_assert_ptr_eq(p.out[1].iov_base, buf + PG);
	ck_assert_uint_eq(p.out[1].iov_len, 2 * PG);
	ck_assert_uint_eq(p.out[2].iov_len, 1);
	ck_assert_int_eq(p.ncopy, 2);
	ck_assert_ptr_eq(p.copy[1].src, buf + 3 * PG);
	ck_assert_uint_eq(p.bounce_len, 2);
	ck_assert_uint_eq(p.ext[0].off, 1);
	ck_assert_uint_eq(p.total, 2 * PG + 2);

	/* Aligned start, one-byte tail. */
	iov.iov_base = buf;
	iov.iov_len = PG + 1;
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 2);
	ck_assert_uint_eq(p.out[1].iov_len, 1);
	ck_assert_uint_eq(p.bounce_len, 1);
	free(buf);
}
END_TEST

START_TEST(test_no_whole_page)
{
	static struct zc_plan p;
	static char bounce[4 * PG];
	char *buf = page_alloc(4);
	struct iovec iov;

	/* Across a page boundary, but no whole page. */
	iov.iov_base = buf + 10;
	iov.iov_len = PG + 100;
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_NO_PAGES);
	ck_assert_int_eq(p.next, 0);
	ck_assert_uint_eq(p.total, PG + 100);
	ck_assert_uint_eq(p.guarded, 0);

	/* Aligned start, one byte short of a page. */
	iov.iov_base = buf;
	iov.iov_len = PG - 1;
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_NO_PAGES);
	ck_assert_int_eq(p.next, 0);

	/* One byte more is a whole page. */
	iov.iov_len = PG;
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.next, 1);
	ck_assert_int_eq(p.ncopy, 0);

	/* Nothing at all. */
	ck_assert_int_eq(zc_plan_build(&p, &iov, 0, bounce, sizeof bounce, PG), ZC_PLAN_NO_PAGES);
	ck_assert_uint_eq(p.total, 0);
	free(buf);
}
END_TEST

START_TEST(test_bounce_merge)
{
	static struct zc_plan p;
	static char bounce[4 * PG];
	char *a = page_alloc(3), *b = page_alloc(3), *c = page_alloc(3);
	struct iovec iov[3] = {
		{ a, PG + 50 },                  /* a page, then a 50-byte tail */
		{ c + 7, 30 },                   /* 30 bytes, all bounce */
		{ b + PG - 96, 96 + PG },        /* a 96-byte head, then a page */
	};

	ck_assert_int_eq(zc_plan_build(&p, iov, 3, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 3);
	ck_assert_ptr_eq(p.out[0].iov_base, a);
	ck_assert_uint_eq(p.out[0].iov_len, PG);
	ck_assert_ptr_eq(p.out[1].iov_base, bounce);
	ck_assert_uint_eq(p.out[1].iov_len, 50 + 30 + 96);
	ck_assert_ptr_eq(p.out[2].iov_base, b + PG);
	ck_assert_uint_eq(p.out[2].iov_len, PG);
	ck_assert_int_eq(p.ncopy, 3);
	ck_assert_int_eq(p.next, 2);
	ck_assert_uint_eq(p.ext[0].off, 0);
	ck_assert_uint_eq(p.ext[1].off, PG + 50 + 30 + 96);
	ck_assert_uint_eq(p.total, 2 * PG + 50 + 30 + 96);

	/* Only two iovecs: the tail of one and the head of the next. */
	ck_assert_int_eq(zc_plan_build(&p, iov, 1, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 2);
	iov[1] = iov[2];
	ck_assert_int_eq(zc_plan_build(&p, iov, 2, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 3);
	ck_assert_uint_eq(p.out[1].iov_len, 50 + 96);
	ck_assert_uint_eq(p.bounce_len, 50 + 96);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_no_room)
{
	static struct zc_plan p;
	static char bounce[PG];
	char *buf = page_alloc(4);
	struct iovec iov = { buf + 100, 3 * PG };     /* needs exactly PG bytes */

	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, 100, PG), ZC_PLAN_NO_ROOM);
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, PG - 1, PG), ZC_PLAN_NO_ROOM);
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, 0, PG), ZC_PLAN_NO_ROOM);
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, bounce, PG, PG), ZC_PLAN_OK);
	ck_assert_uint_eq(p.bounce_len, PG);

	/* Aligned: no bounce needed, so no room is fine. */
	iov.iov_base = buf;
	iov.iov_len = 2 * PG;
	ck_assert_int_eq(zc_plan_build(&p, &iov, 1, NULL, 0, PG), ZC_PLAN_OK);
	free(buf);
}
END_TEST

START_TEST(test_too_many)
{
	static struct zc_plan p;
	static char bounce[PG];
	static struct iovec iov[ZC_PLAN_IN_MAX + 1];
	char *buf = page_alloc(1);

	for (int i = 0; i <= ZC_PLAN_IN_MAX; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = PG;
	}
	ck_assert_int_eq(zc_plan_build(&p, iov, ZC_PLAN_IN_MAX + 1, bounce, sizeof bounce, PG),
			 ZC_PLAN_TOO_MANY);
	ck_assert_int_eq(zc_plan_build(&p, iov, -1, bounce, sizeof bounce, PG), ZC_PLAN_TOO_MANY);
	ck_assert_int_eq(zc_plan_build(&p, iov, ZC_PLAN_IN_MAX, bounce, sizeof bounce, PG),
			 ZC_PLAN_OK);
	ck_assert_int_eq(p.next, ZC_PLAN_IN_MAX);
	ck_assert_int_eq(p.nout, ZC_PLAN_IN_MAX);
	ck_assert_uint_eq(p.total, (size_t)ZC_PLAN_IN_MAX * PG);
	free(buf);
}
END_TEST

START_TEST(test_zero_length)
{
	static struct zc_plan p;
	static char bounce[PG];
	char *buf = page_alloc(3);
	struct iovec iov[6] = {
		{ buf, 0 },
		{ buf + PG, PG + 10 },      /* page + 10-byte tail */
		{ NULL, 0 },
		{ buf + 5, 0 },
		{ buf + PG - 20, 20 + PG }, /* 20-byte head + page */
		{ buf + 3, 0 },
	};

	ck_assert_int_eq(zc_plan_build(&p, iov, 6, bounce, sizeof bounce, PG), ZC_PLAN_OK);
	ck_assert_int_eq(p.nout, 3);
	ck_assert_ptr_eq(p.out[0].iov_base, buf + PG);
	ck_assert_ptr_eq(p.out[1].iov_base, bounce);
	ck_assert_uint_eq(p.out[1].iov_len, 30);
	ck_assert_ptr_eq(p.out[2].iov_base, buf + PG);
	ck_assert_int_eq(p.next, 2);
	ck_assert_uint_eq(p.ext[1].off, PG + 10 + 20);
	ck_assert_int_eq(p.ncopy, 2);
	ck_assert_uint_eq(p.total, 2 * PG + 30);
	for (int i = 0; i < p.nout; i++)
		ck_assert_uint_gt(p.out[i].iov_len, 0);

	/* Only empty iovecs. */
	iov[1].iov_len = 0;
	iov[4].iov_len = 0;
	ck_assert_int_eq(zc_plan_build(&p, iov, 6, bounce, sizeof bounce, PG), ZC_PLAN_NO_PAGES);
	ck_assert_int_eq(p.nout, 0);
	ck_assert_int_eq(p.ncopy, 0);
	ck_assert_uint_eq(p.total, 0);
	free(buf);
}
END_TEST

START_TEST(test_iov_total)
{
	struct iovec iov[3] = { { NULL, 10 }, { NULL, 0 }, { NULL, 32 } };

	ck_assert_uint_eq(zc_iov_total(iov, 3), 42);
	ck_assert_uint_eq(zc_iov_total(iov, 0), 0);
	iov[1].iov_len = SIZE_MAX - 20;
	ck_assert_uint_eq(zc_iov_total(iov, 3), SIZE_MAX);
	iov[1].iov_len = SIZE_MAX - 42;
	ck_assert_uint_eq(zc_iov_total(iov, 3), SIZE_MAX);   /* exactly SIZE_MAX */
	iov[1].iov_len = SIZE_MAX - 43;
	ck_assert_uint_eq(zc_iov_total(iov, 3), SIZE_MAX - 1);
}
END_TEST

/*
 * Property: for random iovec shapes, carrying out a plan (its copies into
 * bounce memory) and concatenating p->out gives exactly the input bytes,
 * and the guarded extents are the whole pages of the input iovecs.
 */
#define PROP_ITERS 600
#define PROP_MAXIOV 8
#define PROP_STRIDE (2 * PG + 40960u)     /* > max offset + max length */
#define PROP_BOUNCE (PROP_MAXIOV * 2 * PG)

static uint32_t prop_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(test_property)
{
	static struct zc_plan p;
	size_t arena_len = PROP_MAXIOV * PROP_STRIDE;
	char *arena = aligned_alloc(PG, arena_len);
	char *bounce = malloc(PROP_BOUNCE);
	char *want = malloc(PROP_MAXIOV * 40001u);
	char *got = malloc(PROP_MAXIOV * 40001u);
	uint32_t seed = 0x2545F491u;
	int ok = 0, no_pages = 0;

	ck_assert_ptr_nonnull(arena);
	ck_assert_ptr_nonnull(bounce);
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	for (size_t i = 0; i < arena_len; i++)
		arena[i] = (char)prop_rand(&seed);

	for (int iter = 0; iter < PROP_ITERS; iter++) {
		struct iovec iov[PROP_MAXIOV];
		size_t start_off[PROP_MAXIOV];   /* payload offset of each iovec */
		int n = 1 + (int)(prop_rand(&seed) % PROP_MAXIOV);
		size_t total = 0, whole = 0, at;
		int rc;

		for (int i = 0; i < n; i++) {
			size_t off = prop_rand(&seed) % 8192;
			size_t len = prop_rand(&seed) % 40001;

			/* Favour the edges: page-aligned offsets and lengths,
			 * empty and tiny iovecs. */
			switch (prop_rand(&seed) % 8) {
			case 0: off &= ~(size_t)(PG - 1); break;
			case 1: len = len % 3; break;
			case 2: {
				/* End on a page boundary. */
				size_t e = (off + len) & ~(size_t)(PG - 1);

				len = e > off ? e - off : 0;
				break;
			}
			case 3: len = PG - off % PG + (prop_rand(&seed) % 3) * PG; break;
			case 4:
				/* Heads and tails of 0, 1 or 2 bytes. */
				off = PG - prop_rand(&seed) % 3;
				len = (PG - off) + (1 + prop_rand(&seed) % 4) * PG +
				      prop_rand(&seed) % 3;
				break;
			default: break;
			}
			iov[i].iov_base = arena + (size_t)i * PROP_STRIDE + off;
			iov[i].iov_len = len;
			start_off[i] = total;
			memcpy(want + total, iov[i].iov_base, len);
			total += len;
			{
				uintptr_t b = (uintptr_t)iov[i].iov_base;
				uintptr_t lo = (b + PG - 1) & ~(uintptr_t)(PG - 1);
				uintptr_t hi = (b + len) & ~(uintptr_t)(PG - 1);

				if (hi > lo)
					whole += hi - lo;
			}
		}

		memset(bounce, 0xA5, PROP_BOUNCE);
		rc = zc_plan_build(&p, iov, n, bounce, PROP_BOUNCE, PG);
		ck_assert_msg(rc == ZC_PLAN_OK || rc == ZC_PLAN_NO_PAGES,
			      "iteration %d: result %d", iter, rc);
		ck_assert_uint_eq(p.total, total);
		if (rc == ZC_PLAN_NO_PAGES) {
			ck_assert_msg(whole == 0, "iteration %d: NO_PAGES with %zu whole-page bytes",
				      iter, whole);
			ck_assert_int_eq(p.next, 0);
			no_pages++;
			continue;
		}
		ok++;
		ck_assert_uint_eq(p.guarded, whole);
		ck_assert_uint_le(p.bounce_len, PROP_BOUNCE);
		ck_assert_uint_eq(p.bounce_len + p.guarded, total);
		ck_assert_int_le(p.nout, ZC_PLAN_OUT_MAX);

		/* Carry out the copies. */
		for (int c = 0; c < p.ncopy; c++) {
			ck_assert_uint_le(p.copy[c].dst + p.copy[c].len, p.bounce_len);
			ck_assert_uint_gt(p.copy[c].len, 0);
			memcpy(bounce + p.copy[c].dst, p.copy[c].src, p.copy[c].len);
		}

		/* Concatenate what would be sent. */
		at = 0;
		for (int o = 0; o < p.nout; o++) {
			ck_assert_uint_gt(p.out[o].iov_len, 0);
			ck_assert_uint_le(at + p.out[o].iov_len, total);
			memcpy(got + at, p.out[o].iov_base, p.out[o].iov_len);
			at += p.out[o].iov_len;
			/* Neighbouring bounce pieces share one iovec. */
			if (o > 0)
				ck_assert_msg(!(in_bounce(&p.out[o], bounce, p.bounce_len) &&
						in_bounce(&p.out[o - 1], bounce, p.bounce_len)),
					      "iteration %d: out %d and %d both bounce", iter,
					      o - 1, o);
		}
		ck_assert_uint_eq(at, total);
		ck_assert_msg(!memcmp(got, want, total), "iteration %d: payload differs", iter);

		/* Extents: page-aligned, inside one input iovec, right offset,
		 * and each one is an output iovec of program memory. */
		for (int x = 0; x < p.next; x++) {
			const struct zc_plan_ext *e = &p.ext[x];
			int owner = -1, listed = 0;

			ck_assert_uint_eq(e->start % PG, 0);
			ck_assert_uint_eq(e->end % PG, 0);
			ck_assert_uint_lt(e->start, e->end);
			for (int i = 0; i < n; i++) {
				uintptr_t b = (uintptr_t)iov[i].iov_base;

				if (b <= e->start && e->end <= b + iov[i].iov_len)
					owner = i;
			}
			ck_assert_msg(owner >= 0, "iteration %d: ext %d in no iovec", iter, x);
			ck_assert_uint_eq(e->off,
					  start_off[owner] + (e->start - (uintptr_t)iov[owner].iov_base));
			ck_assert(!memcmp(want + e->off, (const void *)e->start, e->end - e->start));
			for (int o = 0; o < p.nout; o++)
				if ((uintptr_t)p.out[o].iov_base == e->start &&
				    p.out[o].iov_len == e->end - e->start)
					listed = 1;
			ck_assert(listed);
		}
		/* Every output iovec is either bounce memory or an extent. */
		for (int o = 0; o < p.nout; o++) {
			int known = in_bounce(&p.out[o], bounce, p.bounce_len);

			for (int x = 0; x < p.next && !known; x++)
				known = (uintptr_t)p.out[o].iov_base == p.ext[x].start;
			ck_assert_msg(known, "iteration %d: out %d is neither", iter, o);
		}
	}
	/* The shapes must have exercised both outcomes. */
	ck_assert_int_gt(ok, PROP_ITERS / 2);
	ck_assert_int_gt(no_pages, 0);
	free(arena);
	free(bounce);
	free(want);
	free(got);
}
END_TEST

Suite *iovplan_suite(void)
{
	Suite *s = suite_create("iovplan");
	TCase *tc = tcase_create("core");
	TCase *prop = tcase_create("property");

	tcase_add_test(tc, test_aligned_single);
	tcase_add_test(tc, test_unaligned);
	tcase_add_test(tc, test_one_byte_edges);
	tcase_add_test(tc, test_rebuild_whole);
	tcase_add_test(tc, test_no_whole_page);
	tcase_add_test(tc, test_bounce_merge);
	tcase_add_test(tc, test_no_room);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_zero_length);
	tcase_add_test(tc, test_iov_total);
	suite_add_tcase(s, tc);

	tcase_add_test(prop, test_property);
	tcase_set_timeout(prop, 30);
	suite_add_tcase(s, prop);
	return s;
}
