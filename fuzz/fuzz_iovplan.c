/*
 * fuzz_iovplan - libFuzzer target for the send plan, checked against a
 * model of what may be guarded and what must go through bounce memory.
 *
 * The input picks 1 to 64 iovecs (offsets and lengths inside an arena that
 * starts on a page boundary), and a partial-send result. Properties:
 *  - the planned iovecs carry exactly the payload, in order;
 *  - every guarded range is page-aligned and wholly inside one iovec, and
 *    its payload offset is right;
 *  - every byte the plan takes from program memory lies in a guarded
 *    range (nothing sent from a page that shares bytes with other data);
 *  - after a partial send of r bytes, trimmed as commit_locked does (ranges
 *    starting at or past r released), every program page the kernel took
 *    is still guarded.
 */
#include "iovplan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
#define ARENA (64u * PAGE)

static unsigned char *arena, *bounce;

static uint32_t take(const uint8_t **d, size_t *n, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (*n ? **d : 0);
		if (*n) {
			(*d)++;
			(*n)--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zc_plan p;
	struct iovec iov[ZC_PLAN_IN_MAX];
	unsigned char *want, *got;
	size_t total = 0, at = 0, sent;
	int n, rc;

	if (!arena) {
		arena = aligned_alloc(PAGE, ARENA);
		bounce = aligned_alloc(PAGE, 4 * PAGE);
		for (size_t i = 0; i < ARENA; i++)
			arena[i] = (unsigned char)(i * 31 + (i >> 12));
	}
	n = (int)(take(&data, &size, 1) % ZC_PLAN_IN_MAX) + 1;
	for (int i = 0; i < n; i++) {
		uint32_t off = take(&data, &size, 3) % ARENA;
		uint32_t len = take(&data, &size, 3) % (ARENA - off + 1);

		iov[i].iov_base = arena + off;
		iov[i].iov_len = len;
		total += len;
	}
	sent = total ? take(&data, &size, 3) % (total + 1) : 0;

	rc = zc_plan_build(&p, iov, n, (char *)bounce, 4 * PAGE, PAGE);
	if (rc != ZC_PLAN_OK)
		return 0;
	if (p.total != total)
		abort();
	for (int i = 0; i < p.ncopy; i++)
		memcpy(bounce + p.copy[i].dst, p.copy[i].src, p.copy[i].len);

	/* The payload, as the program meant it and as the plan sends it. */
	want = malloc(total + 1);
	got = malloc(total + 1);
	for (int i = 0; i < n; i++) {
		memcpy(want + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	at = 0;
	for (int i = 0; i < p.nout; i++) {
		unsigned char *b = p.out[i].iov_base;
		int from_bounce = b >= bounce && b < bounce + 4 * PAGE;

		if (at + p.out[i].iov_len > total)
			abort();
		memcpy(got + at, b, p.out[i].iov_len);
		if (!from_bounce) {
			/* Program memory: wholly inside a guarded range. */
			uintptr_t s = (uintptr_t)b, e = s + p.out[i].iov_len;
			int inside = 0;

			for (int k = 0; k < p.next; k++)
				inside |= p.ext[k].start <= s && e <= p.ext[k].end;
			if (!inside)
				abort();
			/* The kernel took [at, at + len) of the payload from these
			 * pages; what it took before `sent` must stay guarded
			 * after the trim: the range covering it starts before
			 * `sent` whenever at < sent. */
			if (at < sent) {
				int kept = 0;

				for (int k = 0; k < p.next; k++)
					kept |= p.ext[k].start <= s && e <= p.ext[k].end && p.ext[k].off < sent;
				if (!kept)
					abort();
			}
		}
		at += p.out[i].iov_len;
	}
	if (at != total || memcmp(want, got, total))
		abort();
	for (int k = 0; k < p.next; k++) {
		int inside = 0;

		if (p.ext[k].start % PAGE || p.ext[k].end % PAGE || p.ext[k].start >= p.ext[k].end)
			abort();
		at = 0;
		for (int i = 0; i < n; i++) {
			uintptr_t b = (uintptr_t)iov[i].iov_base;

			if (b <= p.ext[k].start && p.ext[k].end <= b + iov[i].iov_len &&
			    p.ext[k].off == at + (p.ext[k].start - b))
				inside = 1;
			at += iov[i].iov_len;
		}
		if (!inside)
			abort();
	}
	free(want);
	free(got);
	return 0;
}
