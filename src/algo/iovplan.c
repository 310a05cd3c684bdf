/*
 * iovplan.c - split a payload between program pages and bounce memory.
 */
#include "iovplan.h"

#include <string.h>

size_t zc_iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Append len bytes at src to the bounce memory, extending the previous
 * output iovec when it is the bounce piece just before. */
static int add_bounce(struct zc_plan *p, const char *src, size_t len, char *bounce,
		      size_t cap, int iov)
{
	if (len > cap - p->bounce_len)
		return ZC_PLAN_NO_ROOM;
	if (p->ncopy == (int)(sizeof p->copy / sizeof p->copy[0]))
		return ZC_PLAN_TOO_MANY;
	p->copy[p->ncopy].src = src;
	p->copy[p->ncopy].dst = p->bounce_len;
	p->copy[p->ncopy].len = len;
	p->copy[p->ncopy].kernel = 0;
	p->copy[p->ncopy].iov = iov;
	p->ncopy++;
	if (p->nout > 0 &&
	    (char *)p->out[p->nout - 1].iov_base + p->out[p->nout - 1].iov_len ==
		    bounce + p->bounce_len &&
	    (char *)p->out[p->nout - 1].iov_base >= bounce &&
	    (char *)p->out[p->nout - 1].iov_base < bounce + cap) {
		p->out[p->nout - 1].iov_len += len;
	} else {
		if (p->nout == ZC_PLAN_OUT_MAX)
			return ZC_PLAN_TOO_MANY;
		p->out[p->nout].iov_base = bounce + p->bounce_len;
		p->out[p->nout].iov_len = len;
		p->nout++;
	}
	p->bounce_len += len;
	return ZC_PLAN_OK;
}

/* Record an edge or a run of whole pages as a range to guard. */
static void add_ext(struct zc_plan *p, uintptr_t start, uintptr_t end, size_t off, int iov, int edge)
{
	p->ext[p->next].start = start;
	p->ext[p->next].end = end;
	p->ext[p->next].off = off;
	p->ext[p->next].iov = iov;
	p->ext[p->next].edge = edge;
	p->next++;
	p->guarded += end - start;
}

/* (Inlined into both callers: zc_plan_build's copy, on every send, has no
 * mode[] to look at.) */
static inline __attribute__((always_inline)) int
layout(struct zc_plan *p, const unsigned char *mode, char *bounce, size_t bounce_cap, size_t page)
{
	uintptr_t mask = (uintptr_t)page - 1;
	size_t off = 0;
	int rc;

	p->nout = p->next = p->ncopy = 0;
	p->bounce_len = p->total = p->guarded = 0;
	for (int i = 0; i < p->nin; i++) {
		uintptr_t b = (uintptr_t)p->in[i].iov_base;
		size_t len = p->in[i].iov_len;
		uintptr_t e = b + len;
		uintptr_t mid_lo = (b + mask) & ~mask;
		uintptr_t mid_hi = e & ~mask;
		int m = mode ? mode[i] : 0;

		if (len == 0)
			continue;
		if (e < b || mid_lo < b || mid_lo >= mid_hi || (m & ZC_PLAN_WHOLE)) {
			/* No whole page inside (or the range wraps, which the
			 * kernel will refuse anyway), or pages the guard cannot
			 * take: all of it bounces. */
			if ((rc = add_bounce(p, (const char *)b, len, bounce, bounce_cap, i)))
				return rc;
		} else {
			int lo = mid_lo > b && (m & ZC_PLAN_EDGE_LO);
			int hi = e > mid_hi && (m & ZC_PLAN_EDGE_HI);

			if (mid_lo > b && !lo &&
			    (rc = add_bounce(p, (const char *)b, mid_lo - b, bounce, bounce_cap, i)))
				return rc;
			/* With an edge sent in place, the piece handed to the
			 * kernel starts (ends) at the payload's own first
			 * (last) byte, and its page is a range of its own. */
			if (p->nout == ZC_PLAN_OUT_MAX || p->next + 3 > ZC_PLAN_EXT_MAX)
				return ZC_PLAN_TOO_MANY;
			p->out[p->nout].iov_base = (void *)(lo ? b : mid_lo);
			p->out[p->nout].iov_len = (hi ? e : mid_hi) - (lo ? b : mid_lo);
			p->nout++;
			if (lo)
				add_ext(p, mid_lo - page, mid_lo, off, i, 1);
			add_ext(p, mid_lo, mid_hi, off + (mid_lo - b), i, 0);
			if (hi)
				add_ext(p, mid_hi, mid_hi + page, off + (mid_hi - b), i, 1);
			if (e > mid_hi && !hi &&
			    (rc = add_bounce(p, (const char *)mid_hi, e - mid_hi, bounce, bounce_cap, i)))
				return rc;
		}
		off += len;
	}
	p->total = off;
	if (p->next == 0)
		return ZC_PLAN_NO_PAGES;
	return ZC_PLAN_OK;
}

int zc_plan_build(struct zc_plan *p, const struct iovec *iov, int iovcnt,
		  char *bounce, size_t bounce_cap, size_t page)
{
	p->nin = p->nout = p->next = p->ncopy = 0;
	p->bounce_len = p->total = p->guarded = 0;
	if (iovcnt < 0 || iovcnt > ZC_PLAN_IN_MAX)
		return ZC_PLAN_TOO_MANY;
	for (int i = 0; i < iovcnt; i++)   /* (mostly one or two: no memcpy call) */
		p->in[i] = iov[i];
	p->nin = iovcnt;
	return layout(p, NULL, bounce, bounce_cap, page);
}

int zc_plan_rebuild(struct zc_plan *p, const unsigned char *mode, char *bounce,
		    size_t bounce_cap, size_t page)
{
	return layout(p, mode, bounce, bounce_cap, page);
}

size_t zc_plan_pieces(const struct zc_plan *p, size_t page)
{
	size_t n = 0;

	for (int i = 0; i < p->nout; i++) {
		uintptr_t b = (uintptr_t)p->out[i].iov_base;
		size_t len = p->out[i].iov_len;

		if (len)
			n += (b + len - 1) / page - b / page + 1;
	}
	return n;
}
