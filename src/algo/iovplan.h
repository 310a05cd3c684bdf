/*
 * iovplan.h - how one send's payload is split between the program's pages
 * and shim-owned bounce memory.
 *
 * Only whole pages can be write-protected. For every iovec, the pages that
 * lie wholly inside it are sent from the program's memory (and guarded);
 * the unaligned head and tail, which share a page with memory outside the
 * payload, are copied into bounce memory and sent from there, in the same
 * single system call. Adjacent bounce pieces share one iovec.
 *
 * Pure logic: it only plans; the caller copies (it may fault on a bad
 * pointer, which the caller turns into EFAULT like libc would).
 */
#ifndef ZC_IOVPLAN_H
#define ZC_IOVPLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ZC_PLAN_IN_MAX 64                    /* iovecs a planned call may have */
#define ZC_PLAN_OUT_MAX (3 * ZC_PLAN_IN_MAX) /* iovecs handed to the kernel */
#define ZC_PLAN_EXT_MAX (3 * ZC_PLAN_IN_MAX) /* ranges to guard: an iovec's pages and two edges */

struct zc_plan_ext {
	uintptr_t start, end;   /* program pages sent as they are, to guard */
	size_t off;             /* payload offset of start (edge: of its first payload byte) */
	int iov;                /* the input iovec they lie in */
	int edge;               /* an edge page: shared with memory outside the payload */
};

struct zc_plan_copy {
	const void *src;        /* program bytes */
	size_t dst;             /* offset in bounce memory */
	size_t len;
	int kernel;             /* read through the kernel (the caller sets it) */
	int iov;                /* the input iovec they lie in */
};

struct zc_plan {
	struct iovec in[ZC_PLAN_IN_MAX];   /* the program's iovecs, as read */
	int nin;
	struct iovec out[ZC_PLAN_OUT_MAX];
	int nout;
	struct zc_plan_ext ext[ZC_PLAN_EXT_MAX];
	int next;
	struct zc_plan_copy copy[2 * ZC_PLAN_IN_MAX];
	int ncopy;
	size_t bounce_len;      /* bounce bytes used */
	size_t total;           /* payload bytes */
	size_t guarded;         /* bytes in ext */
};

enum zc_plan_result {
	ZC_PLAN_OK = 0,
	ZC_PLAN_TOO_MANY = -1,  /* more iovecs than a plan holds */
	ZC_PLAN_NO_ROOM = -2,   /* bounce memory too small */
	ZC_PLAN_NO_PAGES = -3,  /* no whole page to send: nothing to gain */
};

/* Plan iov[0..iovcnt) against bounce memory at `bounce` of `bounce_cap`
 * bytes and pages of size `page` (a power of two). The iovecs are kept in
 * p->in: the plan is made again from them without reading the program's
 * array (zc_plan_rebuild). */
int zc_plan_build(struct zc_plan *p, const struct iovec *iov, int iovcnt,
		  char *bounce, size_t bounce_cap, size_t page);

/*
 * How zc_plan_rebuild plans one iovec (bits of mode[i]):
 *   ZC_PLAN_WHOLE    copied whole into bounce memory (its pages cannot be
 *                    guarded);
 *   ZC_PLAN_EDGE_LO  its unaligned head is not copied: the page holding it
 *                    is sent from the program's memory and guarded as a
 *                    range of its own (edge), bytes of memory outside the
 *                    payload included;
 *   ZC_PLAN_EDGE_HI  the same for its unaligned tail.
 * An edge page is guarded like any other; the caller chooses it only for
 * a buffer it has seen sent again unchanged (sendpath.c).
 */
enum { ZC_PLAN_WHOLE = 1, ZC_PLAN_EDGE_LO = 2, ZC_PLAN_EDGE_HI = 4 };

/* Plan p->in again, each iovec i as mode[i] says. Same results. */
int zc_plan_rebuild(struct zc_plan *p, const unsigned char *mode, char *bounce,
		    size_t bounce_cap, size_t page);

/* How many page pieces the kernel may make of p->out at most (each
 * iovec's pages counted apart: pieces it could merge are counted twice).
 * A UDP datagram sent with zerocopy holds at most net.core.max_skb_frags
 * (17 by default), one per page piece. */
size_t zc_plan_pieces(const struct zc_plan *p, size_t page);

/* Does the total of iov overflow or exceed limit? Returns the total, or
 * SIZE_MAX on overflow. */
size_t zc_iov_total(const struct iovec *iov, int iovcnt);

#endif
