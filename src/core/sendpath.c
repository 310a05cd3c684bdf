/*
 * sendpath.c - the zerocopy send path.
 *
 * Order of a zerocopy call, and why:
 *  1. take a bounce slot (lock-free) and plan: which whole pages go out
 *     from the program's memory, which unaligned bytes from the slot;
 *  2. reserve (lock): read this socket's completions, check the pin budget
 *     and the id window;
 *  3. classify and arm (same lock): eligibility is decided per piece. An
 *     iovec whose pages the guard cannot take (a file or shared mapping,
 *     read-only memory: vma.h) is copied whole into the slot with the
 *     unaligned ends, if it fits; the rest of the call still goes out
 *     zerocopy. Bytes to copy that lie outside private anonymous memory
 *     are read through the kernel (a file page past the end of its file
 *     raises SIGBUS when loaded, where the kernel's read gives EFAULT:
 *     probe.h). Then record the pages as pending and make them read-only
 *     BEFORE the syscall (inflight.h), so no write can slip in between the
 *     kernel pinning a page and the guard taking it;
 *  4. copy the pieces into the slot (no lock: a bad pointer faults into
 *     the fault probe or fails the kernel's read, the call is disarmed,
 *     and the real call meets the same memory as without the shim), then
 *     the syscall, with MSG_ZEROCOPY and the planned iovecs;
 *  5. commit (lock): a call that sent bytes gets the socket's next id; one
 *     that failed (no id consumed) is disarmed.
 * A socket has at most one zerocopy send under way (busy flag): ids are
 * handed out in call order, so concurrent senders on one socket copy.
 * Every large send that is copied is counted under one reason (copywhy.h):
 * the functions below return the reason (ZC_WHY_*) where they give up.
 */
#include "sendpath.h"
#include "bounce.h"
#include "calibrate.h"
#include "completion.h"
#include "copywhy.h"
#include "fastring.h"
#include "guard.h"
#include "inflight.h"
#include "iovplan.h"
#include "owner.h"
#include "probe.h"
#include "quarantine.h"
#include "shim.h"
#include "signals.h"
#include "sock.h"
#include "stats.h"
#include "vma.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

#define MMSG_MAX 16

/* ZCSHIM_TEST_COPY_SIGNAL (the test build only, testhooks.h): the
 * process's first bounce copy sends that signal to its own thread inside
 * its window, where a signal may land at any time
 * (tests/integration/copywindow.sh). */
static void test_copy_signal(void)
{
	static int sent;

	if (!__atomic_exchange_n(&sent, 1, __ATOMIC_RELAXED))
		syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid),
			zc_test_copy_signal());
}

struct bounce_copy {
	const struct zc_plan *p;
	char *bounce;
};

static void do_copy_bounce(void *a)
{
	const struct bounce_copy *c = a;

	if (ZC_UNLIKELY(zc_test_copy_signal()))
		test_copy_signal();
	for (int i = 0; i < c->p->ncopy; i++)
		if (!c->p->copy[i].kernel)
			memcpy(c->bounce + c->p->copy[i].dst, c->p->copy[i].src, c->p->copy[i].len);
}

/* Copy the plan's bounce bytes (the program's): private anonymous memory
 * with loads in a fault probe window, the rest through the kernel
 * (probe.h). 0, or -1 if a source could not be read (nothing to undo but
 * the arming: the slot's bytes are the shim's). */
static int copy_bounce(const struct zc_plan *p, char *bounce)
{
	struct bounce_copy c = { p, bounce };
	int loads = 0;

	for (int i = 0; i < p->ncopy; i++)
		if (!p->copy[i].kernel)
			loads++;
		else if (zc_probe_kread(bounce + p->copy[i].dst, p->copy[i].src, p->copy[i].len))
			return -1;
	if (!loads && !zc_test_copy_signal())
		return 0;
	return zc_probe_run(do_copy_bounce, &c);
}

#define REAP_BATCH 8u

/* Step 2: room for the call. Returns 0, or why to copy instead. */
static int reserve_locked(struct zc_sock *s, uint32_t slot, size_t total)
{
	uint32_t out;

	zc_assert_locked();
	out = zc_inflight_outstanding(slot);
	/* Notifications merge in the queue: one read per send keeps up; a
	 * longer backlog is read in full. While every call out would leave
	 * its pages as they are when released (a buffer sent again and
	 * again, kept read-only), one read per REAP_BATCH sends is enough:
	 * nothing waits on those completions but the accounting. */
	if (out && (out >= REAP_BATCH ||
		    (s->must_reap && !zc_inflight_id_done_locked(slot, s->must_reap_id))))
		zc_reap_max_locked(slot, out < 32 ? 1 : 0);
	if (!zc_inflight_pin_fits_locked(total)) {
		zc_reap_all_locked();
		if (!zc_inflight_pin_fits_locked(total)) {
			ZC_STAT_ADD(budget_fallbacks, 1);
			return ZC_WHY_BUDGET;
		}
	}
	if (!zc_inflight_has_room_locked(slot))
		return ZC_WHY_ID_WINDOW;
	return 0;
}

/* Remove a call's pending entries (their head returns the bounce slot).
 * Step 5 on failure: no id was consumed and the kernel holds nothing. */
static void disarm_locked(uint32_t slot, uint32_t gen, int b)
{
	struct zc_call c = zc_call_pending(slot, gen, b);

	zc_assert_locked();
	zc_inflight_disarm_locked(&c);
}

/* Step 5 on success: sent bytes went out under the socket's next id.
 * failed: the call failed but the kernel numbered it all the same
 * (fail_locked); sent is then 0 (the kernel is done with its pages: its
 * completion is in) or the whole payload (nobody knows: kept guarded). */
static void commit_locked(struct zc_sock *s, uint32_t slot, uint32_t gen, int b,
			  const struct zc_plan *p, size_t sent, int failed)
{
	int closed = !s->used || s->gen != gen, keeps;
	uint32_t id;
	struct zc_call c = zc_call_pending(slot, gen, b);

	zc_assert_locked();
	id = closed ? 0 : zc_inflight_take_id_locked(slot);
	/* (A closed socket's calls are orphaned whole below: nothing to trim.) */
	keeps = zc_inflight_commit_locked(&c, id, p, sent, !closed);
	if (!failed) {
		ZC_STAT_ADD(zc_sends, 1);   /* (the ring's sends count without the lock) */
		ZC_STAT_ADD(zc_bytes, sent);
		ZC_STAT_ADD(bounce_bytes, p->bounce_len);
	}
	if (closed) {
		/* The socket was closed while this call was under way: its
		 * completion will never be read. Private copies now. */
		zc_inflight_orphan_slot_locked(slot, gen);
		return;
	}
	if (!keeps) {   /* (pages a partial send left unsent are counted too) */
		s->must_reap = 1;
		s->must_reap_id = id;
	}
	if (zc_inflight_id_done_locked(slot, id)) {
		/* Another thread read the completion before we got here. */
		zc_inflight_complete_locked(&c);
		zc_inflight_advance_locked(slot);
	}
}

/* Is IP_RECVERR or IPV6_RECVERR on for fd? (When it cannot be read: yes,
 * the answer that claims nothing.) */
static int recverr_on(int fd)
{
	int v4 = 0, v6 = 0;
	socklen_t l4 = sizeof v4, l6 = sizeof v6;

	if (syscall(SYS_getsockopt, fd, SOL_IP, IP_RECVERR, &v4, &l4))
		return 1;
	if (syscall(SYS_getsockopt, fd, SOL_IPV6, IPV6_RECVERR, &v6, &l6) && errno != ENOPROTOOPT &&
	    errno != EOPNOTSUPP)
		return 1;
	return v4 || v6;
}

/* What a failed zerocopy call did to the socket's id counter. */
enum { FAIL_NO_ID, FAIL_ID_TAKEN, FAIL_ID_UNKNOWN };

/*
 * Step 5 when the call failed (err: its errno, 0 when unknown, as for the
 * message sendmmsg() stopped at). Whether the kernel numbered it decides
 * every later call's id, so it is read from the kernel, never guessed:
 *  - TCP: a call that queued nothing is undone (tcp_sendmsg_locked ends
 *    in net_zcopy_put_abort, which gives the id back); one that queued
 *    something returns its count, not an error. No id.
 *  - UDP: a datagram that fails after it was built (dropped by netfilter
 *    or a cgroup filter: EPERM; UDP_SEGMENT checks in udp_send_skb:
 *    EINVAL, EIO; a qdisc drop with IP_RECVERR on: ENOBUFS) has its id:
 *    the skb was freed inside the call, so its completion is already in
 *    the error queue when the call returns. Read it: seen, the call took
 *    the id and the kernel holds none of its pages. Not seen: the errors
 *    that only come before the datagram is built (ip_append_data gives
 *    the id back on failure: EAGAIN for a full send buffer, EINTR, EFAULT,
 *    EMSGSIZE (a datagram too large, or of more page pieces than a
 *    zerocopy datagram takes: copied then, zc_send_msg),
 *    ENOBUFS from the notification's own allocation when IP_RECVERR is
 *    off) took none. Any other error: the shim cannot know (a completion
 *    can be lost to a full error queue), so the call keeps its pages
 *    guarded under the id it may have taken and the socket sends no more
 *    zerocopy (sockets_id_unknown): the ids of calls before it stay
 *    right, and no later call can be mistaken for it.
 */
static int fail_locked(struct zc_sock *s, uint32_t slot, uint32_t gen, int b,
		       const struct zc_plan *p, int err)
{
	zc_assert_locked();
	if (!s->used || s->gen != gen || !s->udp) {
		disarm_locked(slot, gen, b);
		return FAIL_NO_ID;
	}
	zc_reap_locked(slot);
	if (zc_inflight_next_id_done_locked(slot)) {
		ZC_STAT_ADD(failed_ids_taken, 1);
		commit_locked(s, slot, gen, b, p, 0, 1);
		return FAIL_ID_TAKEN;
	}
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == EFAULT || err == EMSGSIZE ||
	    (err == ENOBUFS && !recverr_on(s->fd))) {
		disarm_locked(slot, gen, b);
		return FAIL_NO_ID;
	}
	commit_locked(s, slot, gen, b, p, p->total, 1);
	if (!s->zc_off) {
		s->zc_off = 1;
		ZC_STAT_ADD(sockets_zc_off, 1);
	}
	ZC_STAT_ADD(sockets_id_unknown, 1);
	zc_debug("fd %d: a zerocopy call failed (%s) and its completion is not in: "
		 "no more zerocopy on this socket", s->fd, err ? strerror(err) : "sendmmsg");
	return FAIL_ID_UNKNOWN;
}

/* SO_ZEROCOPY on for the socket of slot s (generation gen), once. The
 * flags and the count of live zerocopy sockets change under the lock, and
 * only while the slot is still that socket's: a close racing this first
 * send frees the slot under the lock, and must find zc_set as it is, or
 * zc_live_zc would stay counted for good (and every poll pay the filter). */
static int enable_zerocopy(struct zc_sock *s, uint32_t gen, int fd)
{
	int one = 1, ok;

	if (__atomic_load_n(&s->zc_set, __ATOMIC_ACQUIRE))
		return 0;
	ok = syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_ZEROCOPY, &one, (socklen_t)sizeof one) == 0;
	zc_lock();
	if (!s->used || s->gen != gen) {
		zc_unlock();
		return -1;   /* closed meanwhile: copy */
	}
	if (!ok) {
		if (!s->zc_off) {
			s->zc_off = 1;   /* refused: never again on this socket */
			ZC_STAT_ADD(sockets_zc_off, 1);
		}
	} else if (!s->zc_set) {
		__atomic_store_n(&s->zc_set, 1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&zc_live_zc, 1, __ATOMIC_RELAXED);
		ZC_STAT_ADD(sockets_zc_on, 1);
	}
	zc_unlock();
	return ok ? 0 : -1;
}

static void reap_now(int slot)
{
	zc_lock();
	if (zc_socks[slot].used)
		zc_reap_locked((uint32_t)slot);
	zc_unlock();
}

/* 16 words of a page, 256 bytes apart, mixed (FNV-1a on words). */
static uint64_t sample_words(const volatile uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (int i = 0; i < 16; i++)
		h = (h ^ w[i * 32]) * 0x100000001b3u;
	return h;
}

struct sample {
	const volatile uint64_t *w;
	uint64_t out;
};

static void do_sample(void *a)
{
	struct sample *s = a;

	s->out = sample_words(s->w);
}

/* A sample of a page's content for the hot table's probes; -1 if the page
 * cannot be read. The page lies inside the send's own payload, but the
 * pointer is the program's: read it as the bounce copy is read, in a fault
 * probe window. */
static int page_sample(const volatile uint64_t *w, uint64_t *out)
{
	struct sample s = { w, 0 };

	if (zc_probe_run(do_sample, &s))
		return -1;
	*out = s.out;
	return 0;
}

/* Copy a send from a buffer the program rewrites between sends? The hot
 * table says; around its probes, a content sample of the key page lets it
 * skip the probes the program's writes would fail. */
static int copy_hot(uintptr_t key)
{
	uint64_t sample = 0;
	int hot = zc_guard_copy_hot(key), ok;

	if (ZC_LIKELY(hot == ZC_HOT_COPY || hot == ZC_HOT_NO))
		return hot == ZC_HOT_COPY;
	/* Once in 64 sends or fewer. The page was the program's buffer; by
	 * now it may be something else (a file mapping read past its end
	 * raises SIGBUS, which the fault probe does not catch): look first,
	 * under the lock, and read without it. */
	zc_lock();
	ok = zc_inflight_copyable_locked(key, key + zc_page);
	zc_unlock();
	ok = ok && page_sample((const volatile uint64_t *)key, &sample) == 0;
	if (hot == ZC_HOT_SAMPLE) {
		zc_guard_hot_note(key, ok, sample);
		return 1;
	}
	return !zc_guard_hot_probe(key, ok, sample);
}

/* The first page a send would guard (0: none), the key of its buffer. */
static uintptr_t first_page(const struct iovec *iov, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)iov[i].iov_base, lo = zc_page_up(b);

		if (lo < zc_page_down(b + iov[i].iov_len))
			return lo;
	}
	return 0;
}

/* A kept send (send_kept) has at most this many iovecs: its one kept
 * piece, the others copied (a memcached reply: header, item, END). */
#define KEPT_IOV_MAX 8

/*
 * What the program's msghdr, iovec array and address say, read once in a
 * fault probe window (probe.h): the kernel answers a bad pointer among
 * them with EFAULT, and so must the call under the shim, not die reading
 * them. From here on the send path reads this copy; the iovec array again
 * only to plan (build_plan), the payload only in the bounce copy and the
 * content sample, each in a window of its own.
 */
struct msg_view {
	const struct msghdr *msg;   /* the program's */
	struct msghdr h;      /* *msg as read */
	size_t total;         /* payload bytes; SIZE_MAX: overflow, or more than UIO_MAXIOV */
	int many;             /* more iovecs than a plan takes */
	uintptr_t first;      /* the first page a send would guard (0: none) */
	int local;            /* msg_name is a local peer's address */
	/* The iovecs as read, for a call of at most KEPT_IOV_MAX (send_kept
	 * decides on and sends this copy, not the program's array). */
	struct iovec iov[KEPT_IOV_MAX];
};

static void do_read_msg(void *a)
{
	struct msg_view *v = a;

	v->h = *v->msg;
	v->total = SIZE_MAX;
	v->first = 0;
	v->many = v->h.msg_iovlen > ZC_PLAN_IN_MAX;
	if (v->h.msg_iovlen <= KEPT_IOV_MAX)
		for (size_t i = 0; i < v->h.msg_iovlen; i++)
			v->iov[i] = v->h.msg_iov[i];
	if (v->h.msg_iovlen <= UIO_MAXIOV) {
		/* (Above UIO_MAXIOV the kernel says EMSGSIZE: no large send.) */
		v->total = zc_iov_total(v->h.msg_iov, (int)v->h.msg_iovlen);
		if (v->total >= zc_cfg.threshold && v->total != SIZE_MAX && !v->many)
			v->first = first_page(v->h.msg_iov, v->h.msg_iovlen);
	}
	v->local = v->h.msg_name && zc_addr_is_local(v->h.msg_name, v->h.msg_namelen);
}

/* 0, or -1 if a pointer is bad (the call goes to libc, which says EFAULT).
 * own: see zc_send_msg; without an address, nothing of the program's is
 * read (the payload pointers are only compared), so no window. */
static int read_msg(const struct msghdr *msg, int own, struct msg_view *v)
{
	v->msg = msg;
	if (own && !msg->msg_name) {
		do_read_msg(v);
		return 0;
	}
	return zc_probe_run(do_read_msg, v);
}

struct plan_args {
	struct zc_plan *p;
	const struct msghdr *h;
	int b;
	int rc;
};

static void do_build_plan(void *a)
{
	struct plan_args *x = a;

	x->rc = zc_plan_build(x->p, x->h->msg_iov, (int)x->h->msg_iovlen, zc_bounce_addr(x->b),
			      zc_bounce_cap(x->b), zc_page);
}

/* The plan of h's payload, built in a window unless h's iovec array is
 * the shim's own: 0, or why to copy the call. */
static int build_plan(struct zc_plan *p, const struct msghdr *h, int own, int b)
{
	struct plan_args x = { p, h, b, ZC_PLAN_TOO_MANY };

	if (own)
		do_build_plan(&x);
	else if (zc_probe_run(do_build_plan, &x))
		return ZC_WHY_FAULT;
	switch (x.rc) {
	case ZC_PLAN_OK:
		return 0;
	case ZC_PLAN_NO_ROOM:
		return ZC_WHY_BOUNCE_FULL;
	case ZC_PLAN_NO_PAGES:
		return ZC_WHY_NO_PAGES;
	default:
		return ZC_WHY_IOVECS;
	}
}

/* Plan the call of slot *b again in a big slot (whole: as for
 * zc_plan_rebuild), from the iovecs its plan kept: nothing of the
 * program's is read. 0 (*b is the big slot now, the small one put back),
 * or what zc_plan_rebuild said (*b unchanged). */
__attribute__((noinline, cold))
static int replan_big(int *b, const unsigned char *whole)
{
	struct zc_plan *p = zc_bounce_plan(*b), *q;
	int nb = zc_bounce_get_big(), rc;

	if (nb < 0)
		return ZC_PLAN_NO_ROOM;
	q = zc_bounce_plan(nb);
	memcpy(q->in, p->in, (size_t)p->nin * sizeof *p->in);
	q->nin = p->nin;
	rc = zc_plan_rebuild(q, whole, zc_bounce_addr(nb), zc_bounce_cap(nb), zc_page);
	if (rc) {
		zc_bounce_put(nb, 0);
		return rc;
	}
	zc_bounce_put(*b, 0);
	*b = nb;
	return 0;
}

/*
 * Step 3's first half, under the lock: which pieces of the plan the guard
 * may take. An iovec whose pages it cannot take is planned again as bytes
 * to copy (the call is copied if they do not fit: INELIGIBLE_MEM, with the
 * first such range in *what); bytes to copy outside private anonymous
 * memory are marked for the kernel's read. 0, or why to copy.
 */
/* classify_locked's way for a plan with pages the guard cannot take
 * (rare: kept out of the send path's straight line). */
__attribute__((noinline, cold))
static int bounce_ineligible_locked(int *bp, int first, struct zc_copy_what *what)
{
	unsigned char whole[ZC_PLAN_IN_MAX];
	struct zc_plan *p = zc_bounce_plan(*bp);
	int b = *bp, rc;

	memset(whole, 0, sizeof whole);
	what->start = p->ext[first].start;
	what->end = p->ext[first].end;
	what->have_vma = zc_vma_flags_at(what->start, &what->vma_flags) == 0;
	for (int i = first; i < p->next; i++)
		if (i == first || !zc_vma_eligible(p->ext[i].start, p->ext[i].end, &zc_ext))
			whole[p->ext[i].iov] = 1;
	rc = zc_plan_rebuild(p, whole, zc_bounce_addr(b), zc_bounce_cap(b), zc_page);
	if (rc == ZC_PLAN_NO_ROOM && zc_bounce_cap(b) == ZC_BOUNCE_SLOT)
		rc = replan_big(bp, whole);
	return rc ? ZC_WHY_INELIGIBLE_MEM : 0;
}

/* Step 3's edges: the unaligned head and tail of an iovec eligible from
 * end to end are sent in place, their pages guarded, where the guard finds
 * the buffer sent again unchanged (zc_guard_edges_locked): no bounce copy,
 * one piece for the kernel to pin instead of three. Planned again without
 * them if the plan cannot take them. 0, or why to copy. */
/* Page pieces a UDP datagram may have with zerocopy: net.core.max_skb_frags
 * at its default (the kernel's MAX_SKB_FRAGS, 17; it can only be set
 * lower, which the EMSGSIZE fallback in zc_send_msg covers). */
#define UDP_PIECES_MAX 17

static int plan_edges_locked(int b, uint64_t whole_ok, int udp)
{
	struct zc_plan *p = zc_bounce_plan(b);
	unsigned char mode[ZC_PLAN_IN_MAX];
	uintptr_t mask = zc_page - 1;
	int any = 0;

	zc_assert_locked();
	memset(mode, 0, sizeof mode);
	for (int i = 0; i < p->next; i++) {
		int v = p->ext[i].iov, want = 0;
		uintptr_t lo = (uintptr_t)p->in[v].iov_base, hi = lo + p->in[v].iov_len;

		if (!(whole_ok >> v & 1))
			continue;
		if (lo & mask)
			want |= ZC_EDGE_LO;
		if (hi & mask)
			want |= ZC_EDGE_HI;
		if (want)
			want = zc_guard_edges_locked(p->ext[i].start, p->ext[i].end, want);
		if (want & ZC_EDGE_LO)
			mode[v] |= ZC_PLAN_EDGE_LO;
		if (want & ZC_EDGE_HI)
			mode[v] |= ZC_PLAN_EDGE_HI;
		any |= want;
	}
	if (!any)
		return 0;
	/* A datagram's pages in place may be more pieces than the kernel
	 * takes in one (a header and a trailer in bounce memory around 16
	 * pages of a body): then the edges stay copied. */
	if (zc_plan_rebuild(p, mode, zc_bounce_addr(b), zc_bounce_cap(b), zc_page) == ZC_PLAN_OK &&
	    (!udp || zc_plan_pieces(p, zc_page) <= UDP_PIECES_MAX)) {
		ZC_STAT_ADD(edge_sends, 1);   /* (kept sends count theirs without the lock) */
		return 0;
	}
	/* (Fewer bytes to copy and no more pieces: not expected to fail.) */
	return zc_plan_rebuild(p, NULL, zc_bounce_addr(b), zc_bounce_cap(b), zc_page) ? ZC_WHY_IOVECS : 0;
}

static int classify_locked(int *bp, struct zc_copy_what *what, int udp)
{
	struct zc_plan *p = zc_bounce_plan(*bp);
	uint64_t whole_ok = 0;   /* iovecs eligible from end to end */
	int rc, rebuilt = 0;

	zc_assert_locked();
	for (int i = 0; i < p->next; i++) {
		const struct iovec *v = &p->in[p->ext[i].iov];

		/* One look-up for the whole iovec answers for its head and
		 * tail too (eligible memory is copyable); a head or tail in
		 * another mapping (msg_zerocopy's .bss) takes two more. */
		if (ZC_LIKELY(zc_vma_eligible((uintptr_t)v->iov_base,
					      (uintptr_t)v->iov_base + v->iov_len, &zc_ext))) {
			whole_ok |= (uint64_t)1 << p->ext[i].iov;
			continue;
		}
		if (zc_vma_eligible(p->ext[i].start, p->ext[i].end, &zc_ext))
			continue;
		if ((rc = bounce_ineligible_locked(bp, i, what)))
			return rc;
		p = zc_bounce_plan(*bp);
		rebuilt = 1;
		break;
	}
	if (!rebuilt && whole_ok && (rc = plan_edges_locked(*bp, whole_ok, udp)))
		return rc;
	for (int i = 0; i < p->ncopy; i++) {
		uintptr_t a = (uintptr_t)p->copy[i].src;

		if (whole_ok & ((uint64_t)1 << p->copy[i].iov) ||
		    ZC_LIKELY(zc_vma_copyable(a, a + p->copy[i].len, &zc_ext)))
			continue;
		if (!zc_probe_kread_works()) {
			what->start = a;
			what->end = a + p->copy[i].len;
			what->have_vma = zc_vma_flags_at(a, &what->vma_flags) == 0;
			return ZC_WHY_INELIGIBLE_MEM;
		}
		p->copy[i].kernel = 1;
	}
	return 0;
}

/* Is fd still the socket of slot? Every way to close or replace an fd
 * through the C library is seen (hooks_fd.c, hooks_libc_close.c), so the
 * cookie is read again only after one of the calls that do it out of the
 * shim's sight, or for another fd of the socket. Returns the slot fd now
 * belongs to, or what zc_sock_get says of it. */
static int recheck(int fd, int slot)
{
	uint64_t key = zc_sock_verified_key(fd);

	if (zc_sock_cookie(fd) == zc_socks[slot].cookie) {
		__atomic_store_n(&zc_socks[slot].verified, key, __ATOMIC_RELAXED);
		return slot;
	}
	zc_sock_forget_stale(fd, (uint32_t)slot);
	return zc_sock_get(fd);
}

/* What candidate returns for zc_sock_get's answer of no slot: -2 (a
 * copy, counted: a local peer, a vfork child's socket) or -1. */
static int no_slot(int slot, int *why)
{
	if (slot == ZC_SOCK_VM_CHILD) {
		*why = ZC_WHY_VM_CHILD;
		return -2;
	}
	*why = ZC_WHY_LOCAL_PEER;   /* (-2: a TCP socket with a local peer) */
	return slot;
}

/* Common checks. Returns the slot; -1 to pass the call through, -2 to pass
 * it through counted as a copy (why in *why). */
static int candidate(int fd, int flags, const struct msg_view *msg, int *why)
{
	int slot;
	struct zc_sock *s;

	/* A child made without fork's handlers resets before it trusts the
	 * fd table it inherited (owner.h). */
	zc_owner_check();
	if (flags & MSG_ZEROCOPY) {
		zc_sock_hands_off(fd);   /* the program does zerocopy itself */
		return -1;
	}
	if (flags & (MSG_OOB | MSG_FASTOPEN))
		return -1;
	slot = zc_sock_get(fd);
	if (slot < 0)
		return no_slot(slot, why);
	s = &zc_socks[slot];
	if (zc_sock_vm_child(s)) {
		ZC_STAT_ADD(vm_child_copies, 1);
		*why = ZC_WHY_VM_CHILD;
		return -2;
	}
	if (msg && copy_hot(msg->first)) {
		/* The program rewrites this buffer between sends: a copy costs
		 * less than guarding it each time. Calls still out are reaped
		 * all the same, so their pages do not stay guarded for want of
		 * a zerocopy send on the socket. */
		ZC_STAT_ADD(hot_copies, 1);
		if (zc_inflight_outstanding(slot))
			reap_now(slot);
		*why = ZC_WHY_REWRITTEN;
		return -2;
	}
	if (ZC_UNLIKELY(__atomic_load_n(&s->verified, __ATOMIC_RELAXED) !=
			zc_sock_verified_key(fd))) {
		if ((slot = recheck(fd, slot)) < 0)
			return no_slot(slot, why);
		s = &zc_socks[slot];
	}
	if (ZC_UNLIKELY(s->repeer | s->local | s->handoff)) {
		int v = zc_sock_send_check((uint32_t)slot, fd);

		if (v) {
			*why = ZC_WHY_LOCAL_PEER;   /* (-2 only for a local peer) */
			return v;
		}
	}
	if (s->unconnected && msg) {
		if (!msg->h.msg_name)
			return -1;   /* the kernel reports EDESTADDRREQ */
		if (!zc_cfg.local_force && msg->local) {
			*why = ZC_WHY_LOCAL_PEER;
			return -2;
		}
	}
	if (s->zc_off) {
		if (zc_inflight_outstanding(slot))
			reap_now(slot);
		*why = ZC_WHY_SOCKET_OFF;
		return -2;
	}
	return slot;
}

/* what: the memory concerned, for INELIGIBLE_MEM (prepare fills it in
 * then only). */
static void count_copy(int fd, size_t total, int why, struct zc_copy_what *what)
{
	struct zc_copy_what w = { .fd = fd };

	if (what && why == ZC_WHY_INELIGIBLE_MEM) {
		what->fd = fd;
		zc_copy_count(total, why, what);
	} else {
		zc_copy_count(total, why, &w);
	}
}

/* Take the socket for one zerocopy send (its busy flag, SO_ZEROCOPY, this
 * thread's signal stack). 0, or why to copy (the socket is not held). */
static int begin(struct zc_sock *s, uint32_t gen, int fd)
{
	if (ZC_UNLIKELY(!zc_calibrated()) && zc_cfg.adapt)
		zc_calibrate();   /* once: the numbers zc_guard_worth_locked uses */
	if (__atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE))
		return ZC_WHY_BUSY;   /* another thread is sending on this socket */
	if (enable_zerocopy(s, gen, fd)) {
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		return s->used && s->gen == gen ? ZC_WHY_SOCKET_OFF : ZC_WHY_CLOSED;
	}
	if (zc_altstack_ensure()) {
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		return ZC_WHY_NO_ALTSTACK;
	}
	return 0;
}

/* Steps 1 to 4's copy for one message: plan, reserve and arm, copy. Returns the
 * bounce slot that now names the armed call, or -1 (nothing is held: copy
 * instead, or let the real call report a bad pointer; why in *why, and
 * what it concerned in *what). */
static int prepare(struct zc_sock *s, uint32_t slot, uint32_t gen, const struct msghdr *h,
		   int own, size_t total, int *why, struct zc_copy_what *what)
{
	struct zc_plan *p;
	int b = zc_bounce_get(), err;

	if (b < 0) {
		*why = ZC_WHY_BOUNCE_FULL;
		return -1;
	}
	err = build_plan(zc_bounce_plan(b), h, own, b);
	if (err == ZC_WHY_BOUNCE_FULL && replan_big(&b, NULL) == 0)
		err = 0;   /* more to copy than the ends of a few iovecs */
	if (err) {
		zc_bounce_put(b, 0);
		*why = err;
		return -1;
	}
	zc_lock();
	if (!s->used || s->gen != gen)
		err = ZC_WHY_CLOSED;
	else if (!(err = reserve_locked(s, slot, total)) && !(err = classify_locked(&b, what, s->udp))) {
		struct zc_call c = zc_call_pending(slot, gen, b);

		p = zc_bounce_plan(b);
		err = zc_inflight_arm_locked(&c, p);   /* on failure it puts b back */
		b = err ? -1 : b;
	}
	if (err && b >= 0)
		zc_bounce_put(b, 0);
	zc_unlock();
	if (err) {
		*why = err;
		return -1;
	}
	/* The bounce copy comes after arming: zc_inflight_arm_locked has
	 * checked that its sources are memory a read cannot turn into
	 * SIGBUS, and a send the shim copies after all (a refusal, the cost
	 * model) reads nothing. The pieces lie outside the guarded pages, so
	 * arming changes nothing for them. */
	if (copy_bounce(p, zc_bounce_addr(b))) {
		zc_lock();
		disarm_locked(slot, gen, b);
		zc_unlock();
		*why = ZC_WHY_FAULT;
		return -1;
	}
	return b;
}

/* The plan of a ring call the table adopted (fastring.h): nothing to trim,
 * no bounce bytes. */
static struct zc_plan no_plan;

/* Read the socket's completions once REAP_BATCH calls are out (as
 * reserve_locked does on the locked path). */
static void reap_batch(struct zc_sock *s, uint32_t slot, uint32_t gen)
{
	uint32_t out = zc_inflight_outstanding(slot);

	if (out < REAP_BATCH)
		return;
	zc_lock();
	if (s->used && s->gen == gen)
		zc_reap_max_locked(slot, out < 32 ? 1 : 0);
	zc_unlock();
}

/*
 * A kept send's copied bytes, in its bounce slot: the iovecs before the
 * kept one and the kept one's unaligned head from the slot's start
 * (region 1), its tail and the iovecs after it from the next page boundary
 * on (region 2), so that each region spans as few pages, i.e. datagram
 * fragments, as it can. Each source is read with loads where it lies in
 * private anonymous memory, through the kernel elsewhere (a file page past
 * the end of its file raises SIGBUS when loaded: probe.h), as the locked
 * path's bounce copy does.
 */
#define KEPT_SRC_MAX (KEPT_IOV_MAX + 1)   /* the other iovecs, the kept one's two edges */

struct kept_src {
	const char *from;
	size_t len, at;       /* its bytes; where they go in the slot */
	int kernel;           /* read through the kernel */
};

struct kept_copy {
	struct kept_src src[KEPT_SRC_MAX];
	int n;
	size_t len1, len2;    /* the two regions' bytes */
	char *to;             /* the bounce slot */
};

static void kept_add(struct kept_copy *c, const void *from, size_t len, size_t *at)
{
	if (!len)
		return;
	c->src[c->n++] = (struct kept_src){ from, len, *at, 0 };
	*at += len;
}

/* Lay out the copied bytes of v's iovecs around iovec k, whose bytes
 * [a, lo) and [hi, z) are copied (none where it goes out in place), and
 * say how each source is read: 0, or -1 if the mappings cache cannot say
 * now (the locked path reads the maps again). No lock. */
static int kept_layout(struct kept_copy *c, const struct msg_view *v, int k, uintptr_t a,
		       uintptr_t lo, uintptr_t hi, uintptr_t z)
{
	size_t at = 0;
	int i, r;

	c->n = 0;
	for (i = 0; i < k; i++)
		kept_add(c, v->iov[i].iov_base, v->iov[i].iov_len, &at);
	kept_add(c, (const void *)a, lo - a, &at);
	at = zc_page_up(c->len1);
	kept_add(c, (const void *)hi, z - hi, &at);
	for (i = k + 1; i < (int)v->h.msg_iovlen; i++)
		kept_add(c, v->iov[i].iov_base, v->iov[i].iov_len, &at);
	for (i = 0; i < c->n; i++) {
		uintptr_t f = (uintptr_t)c->src[i].from;

		if (f + c->src[i].len < f || (r = zc_vma_copyable_racy(f, f + c->src[i].len)) < 0)
			return -1;
		if (!r && !zc_probe_kread_works())
			return -1;
		c->src[i].kernel = !r;
	}
	return 0;
}

static void do_copy_kept(void *a)
{
	const struct kept_copy *c = a;

	for (int i = 0; i < c->n; i++)
		if (!c->src[i].kernel)
			memcpy(c->to + c->src[i].at, c->src[i].from, c->src[i].len);
}

/* Copy c's sources into its slot: 0, or -1 if one could not be read. */
static int copy_kept(struct kept_copy *c)
{
	int loads = 0;

	for (int i = 0; i < c->n; i++)
		if (!c->src[i].kernel)
			loads++;
		else if (zc_probe_kread(c->to + c->src[i].at, c->src[i].from, c->src[i].len))
			return -1;
	return loads ? zc_probe_run(do_copy_kept, c) : 0;
}

/* Pages (fragments) of a region of len bytes from a page boundary. */
static size_t region_pages(size_t len)
{
	return (len + zc_page - 1) / zc_page;
}

/* Can a kept send of pages [lo, hi) in place plus c's two regions go out:
 * the regions fit one bounce slot, and a datagram its fragments? */
static int kept_fits(const struct zc_sock *s, uintptr_t lo, uintptr_t hi,
		     const struct kept_copy *c)
{
	if (zc_page_up(c->len1) + c->len2 > ZC_BOUNCE_SLOT)
		return 0;
	return !s->udp ||
	       (hi - lo) / zc_page + region_pages(c->len1) + region_pages(c->len2) <= UDP_PIECES_MAX;
}

/*
 * A kept buffer's send (fastring.h). Its largest iovec, the kept piece,
 * has all its pages in the idle set (read-only since an earlier send), or
 * its whole pages, its unaligned head and tail then being copied; its
 * other iovecs, at most a bounce slot's worth, are copied (a memcached
 * reply's header and END beside the item). The idle set is looked up
 * without the lock. No plan, no protection to change: the call is recorded
 * in the socket's ring and made, and the lock is taken only to read
 * completions. Returns 1 if the call was made (its result in *rp, *errp
 * and *failed, as on the locked path), 0 if the locked path must decide
 * (nothing was done).
 */
static int send_kept(struct zc_sock *s, uint32_t slot, uint32_t gen, int fd,
		     const struct msg_view *v, int flags, ssize_t *rp, int *errp, int *failed)
{
	struct iovec iov[3];
	struct kept_copy kc;
	size_t before = 0, after = 0;
	uintptr_t a, z, lo, hi;
	struct msghdr m;
	uint32_t seq;
	int i, k = 0, adopted, rc, b = -1, n = 0, inplace;
	ssize_t r;

	for (i = 1; i < (int)v->h.msg_iovlen; i++)
		if (v->iov[i].iov_len > v->iov[k].iov_len)
			k = i;
	/* The copied bytes are counted from the iovecs as read, the ones the
	 * copy and the call use (the program's array may have changed since):
	 * each below a slot, so no sum overflows. */
	for (i = 0; i < (int)v->h.msg_iovlen; i++) {
		if (i == k)
			continue;
		if (v->iov[i].iov_len > ZC_BOUNCE_SLOT)
			return 0;
		if (i < k)
			before += v->iov[i].iov_len;
		else
			after += v->iov[i].iov_len;
	}
	a = (uintptr_t)v->iov[k].iov_base;
	z = a + v->iov[k].iov_len;
	if (z < a || z > UINTPTR_MAX - zc_page)
		return 0;   /* (no memory there: the kernel says EFAULT) */

	/* In place, edge pages and all; else its whole pages, the edges
	 * copied. */
	lo = zc_page_down(a);
	hi = zc_page_up(z);
	kc.len1 = before;
	kc.len2 = after;
	inplace = kept_fits(s, lo, hi, &kc) && zc_fast_kept(slot, gen, lo, hi, &seq);
	if (!inplace) {
		lo = zc_page_up(a);
		hi = zc_page_down(z);
		kc.len1 = before + (lo - a);
		kc.len2 = (z - hi) + after;
		if (lo >= hi || !kept_fits(s, lo, hi, &kc) || !zc_fast_kept(slot, gen, lo, hi, &seq))
			return 0;
	}
	if (kept_layout(&kc, v, k, a, inplace ? a : lo, inplace ? z : hi, z))
		return 0;
	if (!zc_inflight_has_room_busy(slot) || zc_guard_reports_pending())
		return 0;
	b = kc.len1 + kc.len2 != 0;
	i = zc_fast_publish(slot, gen, lo, hi, seq, before + (z - a) + after, &b, &adopted);
	if (i >= 0 && b >= 0)
		kc.to = zc_bounce_addr(b);
	if (i < 0) {
		if (adopted >= 0) {
			zc_lock();
			disarm_locked(slot, gen, (int)zc_fast_key(adopted));   /* (b goes back) */
			zc_unlock();
		}
		return 0;
	}
	/* The copied bytes are the program's, outside the kept pages: read
	 * after publication (as the locked path copies after arming), with
	 * loads in a fault probe window or through the kernel (kept_layout).
	 * A bad pointer leaves the call to the locked path, whose call meets
	 * the same memory as the program's would without the shim. */
	if (kc.n && copy_kept(&kc)) {
		if (zc_fast_retract(slot, i)) {
			zc_lock();
			disarm_locked(slot, gen, (int)zc_fast_key(i));
			zc_unlock();
		}
		return 0;
	}
	if (kc.len1)
		iov[n++] = (struct iovec){ kc.to, kc.len1 };
	if (inplace) {
		iov[n++] = v->iov[k];
		if ((a | z) & (zc_page - 1))
			ZC_STAT_ADD(edge_sends, 1);   /* (its edge pages are kept: in place) */
	} else {
		iov[n++] = (struct iovec){ (void *)lo, hi - lo };
	}
	if (kc.len2)
		iov[n++] = (struct iovec){ kc.to + zc_page_up(kc.len1), kc.len2 };
	if (n == 1 && !v->h.msg_controllen) {
		r = ZC_REAL(sendto)(fd, iov[0].iov_base, iov[0].iov_len, flags | MSG_ZEROCOPY,
				    (const struct sockaddr *)v->h.msg_name, v->h.msg_namelen);
	} else {
		m = v->h;
		m.msg_iov = iov;   /* the iovec the decision was made on */
		m.msg_iovlen = (size_t)n;
		r = ZC_REAL(sendmsg)(fd, &m, flags | MSG_ZEROCOPY);
	}
	*errp = errno;
	*rp = r;
	*failed = FAIL_NO_ID;
	if (r > 0) {
		if (kc.len1 + kc.len2)   /* (as commit_locked counts them: a sent call's) */
			ZC_STAT_ADD(bounce_bytes, kc.len1 + kc.len2);
		rc = zc_fast_commit(slot, i, zc_inflight_next_id_busy(slot), (uint64_t)r);
		if (rc == 0) {
			zc_inflight_take_id_busy(slot);
			ZC_STAT_ADD(zc_sends, 1);
			ZC_STAT_ADD(zc_bytes, (uint64_t)r);
			ZC_STAT_ADD(kept_sends, 1);
			reap_batch(s, slot, gen);
			return 1;
		}
		zc_lock();
		if (rc == 1) {
			/* Adopted while its system call ran: the table's
			 * pending call, committed there. */
			commit_locked(s, slot, gen, (int)zc_fast_key(i), &no_plan, (size_t)r, 0);
		} else {
			/* Closed meanwhile: as the close does (sock.c). */
			ZC_STAT_ADD(zc_sends, 1);
			ZC_STAT_ADD(zc_bytes, (uint64_t)r);
			if (zc_fast_adopt_slot_locked(slot, gen) == 0)
				zc_inflight_orphan_slot_locked(slot, gen);
		}
		zc_unlock();
		return 1;
	}
	/* Failed: whether the kernel numbered it is read as on the locked
	 * path (fail_locked), with the call in the table. */
	zc_lock();
	if (zc_fast_adopt_one_locked(slot, i) == 0) {
		*failed = fail_locked(s, slot, gen, (int)zc_fast_key(i), &no_plan,
				      r < 0 ? *errp : 0);
	} else {
		/* No room to adopt it (not expected: the table keeps room
		 * for every ring call): hold it under the id it may have
		 * taken, and no more zerocopy on the socket, as fail_locked
		 * does when it cannot know. */
		rc = zc_fast_commit(slot, i, zc_inflight_next_id_busy(slot), before + (z - a) + after);
		if (rc == 0)
			zc_inflight_take_id_busy(slot);
		if (!s->zc_off) {
			s->zc_off = 1;
			ZC_STAT_ADD(sockets_zc_off, 1);
		}
		ZC_STAT_ADD(sockets_id_unknown, 1);
		*failed = FAIL_ID_UNKNOWN;
	}
	zc_unlock();
	return 1;
}

int zc_send_msg(int fd, const struct msghdr *msg, int flags, int own, ssize_t *ret)
{
	int saved = errno;
	struct msg_view v;
	struct zc_sock *s;
	struct zc_plan *p;
	struct msghdr m;
	struct zc_copy_what what;   /* (set where why is INELIGIBLE_MEM) */
	size_t total;
	uint32_t gen;
	int slot, b, err, retried = 0, failed = FAIL_NO_ID, why = 0;
	ssize_t r;

	if (read_msg(msg, own, &v)) {
		errno = saved;
		return 0;
	}
	total = v.total;
	if (total < zc_cfg.threshold || total == SIZE_MAX)
		return 0;
	slot = candidate(fd, flags, &v, &why);
	if (slot < 0) {
		if (slot == -2)
			count_copy(fd, total, why, NULL);
		errno = saved;
		return 0;
	}
	if (v.many) {
		count_copy(fd, total, ZC_WHY_IOVECS, NULL);
		errno = saved;
		return 0;
	}
	s = &zc_socks[slot];
	gen = s->gen;
	if ((why = begin(s, gen, fd)))
		goto copy;
	if (v.h.msg_iovlen <= KEPT_IOV_MAX && send_kept(s, (uint32_t)slot, gen, fd, &v, flags, &r, &err, &failed))
		goto made;
again:
	b = prepare(s, (uint32_t)slot, gen, &v.h, own, total, &why, &what);
	if (b < 0)
		goto copy_busy;
	p = zc_bounce_plan(b);

	m = v.h;
	m.msg_iov = p->out;
	m.msg_iovlen = (size_t)p->nout;
	if (p->nout == 1 && !m.msg_controllen)
		/* One piece (a page-aligned payload): sendto() hands the
		 * kernel one buffer, less work than a one-iovec sendmsg(). The
		 * same call for the kernel otherwise: same result, same errno. */
		r = ZC_REAL(sendto)(fd, p->out[0].iov_base, p->out[0].iov_len, flags | MSG_ZEROCOPY,
				    (const struct sockaddr *)m.msg_name, m.msg_namelen);
	else
		r = ZC_REAL(sendmsg)(fd, &m, flags | MSG_ZEROCOPY);
	err = errno;

	zc_lock();
	if (r > 0)
		commit_locked(s, (uint32_t)slot, gen, b, p, (size_t)r, 0);
	else
		failed = fail_locked(s, (uint32_t)slot, gen, b, p, r < 0 ? err : 0);
	zc_unlock();
made:
	if (r < 0 && err == EMSGSIZE && s->udp && failed == FAIL_NO_ID) {
		/* More page pieces than a zerocopy datagram takes (or a
		 * datagram too large for any send: then the copy says
		 * EMSGSIZE as it would without the shim). */
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		count_copy(fd, total, ZC_WHY_FRAGS, NULL);
		errno = saved;
		r = ZC_REAL(sendmsg)(fd, msg, flags);
		*ret = r;
		return 1;
	}
	if (r < 0 && err == ENOBUFS) {
		/* Zerocopy's own limits (optmem, locked pages): reap and try
		 * once more, then copy. The program never sees this ENOBUFS. */
		if (!retried++ && failed == FAIL_NO_ID) {
			zc_lock();
			zc_reap_all_locked();
			zc_unlock();
			goto again;
		}
		ZC_STAT_ADD(enobufs_fallbacks, 1);
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		count_copy(fd, total, ZC_WHY_ENOBUFS, NULL);
		errno = saved;
		r = ZC_REAL(sendmsg)(fd, msg, flags);
		*ret = r;
		return 1;
	}
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
	zc_quarantine_drain();
	*ret = r;
	errno = r < 0 ? err : saved;   /* a success leaves errno as it was */
	return 1;

copy_busy:
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
copy:
	count_copy(fd, total, why, &what);
	errno = saved;
	return 0;
}

int zc_send_mmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, int *ret)
{
	int saved = errno;
	struct mmsghdr mine[MMSG_MAX];
	int bs[MMSG_MAX];
	struct msg_view v;
	struct zc_sock *s;
	struct zc_copy_what what;   /* (set where why is INELIGIBLE_MEM) */
	size_t grand = 0;
	uint32_t gen;
	unsigned armed = 0;
	int slot, r, err, named = 1, local = 0, many = 0, why = 0;

	if (vlen == 0 || vlen > MMSG_MAX)
		return 0;
	for (unsigned i = 0; i < vlen; i++) {
		if (read_msg(&vec[i].msg_hdr, 0, &v)) {
			errno = saved;
			return 0;   /* a bad pointer: libc's call reports it */
		}
		if (v.total < zc_cfg.threshold || v.total == SIZE_MAX)
			return 0;   /* zerocopy only when every message is large */
		grand += v.total;
		named &= !!v.h.msg_name;
		local |= v.h.msg_name && !zc_cfg.local_force && v.local;
		many |= v.many;
	}
	slot = candidate(fd, flags, NULL, &why);
	if (slot < 0) {
		if (slot == -2)
			count_copy(fd, grand, why, NULL);
		errno = saved;
		return 0;
	}
	s = &zc_socks[slot];
	if (s->unconnected && !named) {
		errno = saved;
		return 0;   /* an unnamed message: the kernel reports EDESTADDRREQ */
	}
	if (s->unconnected && local) {
		count_copy(fd, grand, ZC_WHY_LOCAL_PEER, NULL);   /* all copied */
		errno = saved;
		return 0;
	}
	if (many) {
		count_copy(fd, grand, ZC_WHY_IOVECS, NULL);
		errno = saved;
		return 0;
	}
	gen = s->gen;
	if ((why = begin(s, gen, fd))) {
		count_copy(fd, grand, why, NULL);
		errno = saved;
		return 0;
	}
	for (armed = 0; armed < vlen; armed++) {
		int b = -1;

		/* Read again: the first pass kept only the totals (sixteen
		 * copies would not fit a small signal stack). */
		if (read_msg(&vec[armed].msg_hdr, 0, &v) == 0 && v.total != SIZE_MAX && !v.many)
			b = prepare(s, (uint32_t)slot, gen, &v.h, 0, v.total, &why, &what);
		else
			why = ZC_WHY_FAULT;   /* (changed under the shim since the first pass) */
		if (b < 0)
			break;
		bs[armed] = b;
		mine[armed].msg_hdr = v.h;
		mine[armed].msg_hdr.msg_iov = zc_bounce_plan(b)->out;
		mine[armed].msg_hdr.msg_iovlen = (size_t)zc_bounce_plan(b)->nout;
		mine[armed].msg_len = 0;
	}
	if (armed < vlen) {
		zc_lock();
		for (unsigned i = 0; i < armed; i++)
			disarm_locked((uint32_t)slot, gen, bs[i]);
		zc_unlock();
		goto copy;
	}

	r = ZC_REAL(sendmmsg)(fd, mine, vlen, flags | MSG_ZEROCOPY);
	err = errno;
	zc_lock();
	for (unsigned i = 0; i < vlen; i++) {
		/* Each message the kernel sent is a call of its own, with its
		 * own id, in order. The one it stopped at failed (with err
		 * when it is the first; sendmmsg() reports no errno for a
		 * later one); those after it were not tried. */
		unsigned stop = r < 0 ? 0 : (unsigned)r;

		if (i < stop && mine[i].msg_len > 0)
			commit_locked(s, (uint32_t)slot, gen, bs[i], zc_bounce_plan(bs[i]),
				      mine[i].msg_len, 0);
		else if (i == stop)
			fail_locked(s, (uint32_t)slot, gen, bs[i], zc_bounce_plan(bs[i]),
				    r < 0 ? err : 0);
		else
			disarm_locked((uint32_t)slot, gen, bs[i]);
	}
	zc_unlock();
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
	if (r < 0 && err == ENOBUFS) {
		ZC_STAT_ADD(enobufs_fallbacks, 1);
		count_copy(fd, grand, ZC_WHY_ENOBUFS, NULL);
		errno = saved;
		return 0;
	}
	if (r < 0 && err == EMSGSIZE && s->udp) {
		/* The first message took no id (fail_locked): the C
		 * library's call copies them all, and says EMSGSIZE itself
		 * for a datagram too large for any send. */
		count_copy(fd, grand, ZC_WHY_FRAGS, NULL);
		errno = saved;
		return 0;
	}
	for (int i = 0; i < r; i++)
		vec[i].msg_len = mine[i].msg_len;
	*ret = r;
	errno = r < 0 ? err : saved;   /* a success leaves errno as it was */
	return 1;

copy:
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
	count_copy(fd, grand, why, &what);
	errno = saved;
	return 0;
}
