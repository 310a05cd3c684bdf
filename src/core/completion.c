/*
 * completion.c - read zerocopy notifications from a socket's error queue.
 *
 * The shim reads the error queue only of sockets it manages, and manages
 * only sockets whose error queue carries nothing but its own notifications
 * (sock.c leaves alone sockets with IP_RECVERR, IPV6_RECVERR, timestamping
 * or SO_ZEROCOPY set by the program). Reads are non-blocking and happen on
 * the shim's own calls (a send on the socket, a guard fault, a close).
 *
 * Signal-context invariant: zc_reap_locked runs in the fault handler. It
 * uses the raw recvmsg syscall and the caller's stack only.
 */
#include "completion.h"
#include "fastring.h"
#include "guard.h"
#include "inflight.h"
#include "relay.h"
#include "shim.h"
#include "sock.h"
#include "stats.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REAP_MAX_PER_CALL 256   /* notifications read in one go */

/* One error-queue message: count and mark what it releases. Returns the
 * calls newly released; -1 if the message holds no zerocopy notification. */
static int64_t take_locked(uint32_t slot, struct msghdr *msg)
{
	struct zc_sock *s = &zc_socks[slot];
	int64_t released = -1;

	zc_assert_locked();
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		struct sock_extended_err *ee;
		uint32_t newly, count;

		if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
		      (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
			continue;
		ee = (struct sock_extended_err *)CMSG_DATA(cm);
		if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno != 0)
			continue;
		newly = zc_inflight_mark_released_locked(slot, ee->ee_info, ee->ee_data);
		count = ee->ee_data - ee->ee_info + 1;
		released = (released < 0 ? 0 : released) + newly;
		ZC_STAT_ADD_LOCKED(completions, newly);
		if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) {
			ZC_STAT_ADD(completions_copied, newly);
			s->copied += count;
		}
	}
	return released;
}

/* Complete the calls the window now says are released; apply the COPIED
 * policy. */
static void settle_locked(uint32_t slot, int64_t released)
{
	struct zc_sock *s = &zc_socks[slot];

	zc_assert_locked();
	if (released > 0) {
		zc_inflight_complete_done_locked(slot, s->gen);
		zc_inflight_advance_locked(slot);
	}
	/* (Also when nothing counted as newly released: a completion read
	 * before its ring call took its id, fastring.h.) */
	zc_fast_sweep_locked(slot);
	/* The kernel's advice: a socket whose data is copied anyway should
	 * stop asking for zerocopy (unless the operator forces local peers,
	 * whose data is always copied). */
	if (!s->zc_off && !zc_cfg.local_force && zc_cfg.copied_limit &&
	    s->copied >= zc_cfg.copied_limit) {
		s->zc_off = 1;
		ZC_STAT_ADD(sockets_zc_off, 1);
	}
}

/* A notification of one of this process's sockets that a child read
 * (relay.h): marked as if read here. */
static void relayed_locked(uint64_t cookie, uint32_t lo, uint32_t hi, int copied)
{
	zc_assert_locked();
	for (uint32_t slot = 0; slot < zc_sock_hwm; slot++) {
		struct zc_sock *s = &zc_socks[slot];
		uint32_t newly;

		if (!s->used || !s->zc_set || s->cookie != cookie)
			continue;
		newly = zc_inflight_mark_released_locked(slot, lo, hi);
		ZC_STAT_ADD_LOCKED(completions, newly);
		ZC_STAT_ADD(completions_relayed, newly);
		if (copied) {
			ZC_STAT_ADD(completions_copied, newly);
			s->copied += hi - lo + 1;
		}
		settle_locked(slot, newly);
		return;
	}
}

int zc_reap_locked(uint32_t slot)
{
	zc_assert_locked();
	return zc_reap_max_locked(slot, 0);
}

int zc_reap_max_locked(uint32_t slot, int max)
{
	struct zc_sock *s = &zc_socks[slot];
	int64_t released = 0;
	int read = 0;

	zc_assert_locked();
	if (ZC_UNLIKELY(zc_relay_pending()))
		zc_relay_take(relayed_locked);
	/* The program's own entries may be in the queue: an entry read here
	 * could not be given back. Only its own reads take the shim's. A
	 * vfork child's fd may be another socket now. */
	if (!s->used || !s->zc_set || s->handoff == ZC_HANDOFF_SHARED || zc_sock_vm_child(s))
		return 0;
	if (max <= 0 || max > REAP_MAX_PER_CALL)
		max = REAP_MAX_PER_CALL;
	for (int n = 0; n < max; n++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6)) * 2];
			struct cmsghdr align;
		} ctl;
		struct msghdr msg = { 0 };
		int64_t got;
		long r;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		r = syscall(SYS_recvmsg, s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;   /* EAGAIN: empty; anything else: nothing to read */
		}
		read++;
		got = take_locked(slot, &msg);
		if (got > 0)
			released += got;
	}
	settle_locked(slot, released);
	return read;
}

int zc_claim_errqueue_entry(int fd, struct msghdr *msg)
{
	uint32_t st = zc_fd_state(fd), slot;
	int64_t got = -1;

	if (st < ZC_FD_SLOT0 || !msg->msg_control)
		return 0;
	slot = st - ZC_FD_SLOT0;
	zc_lock();
	if (zc_socks[slot].used && zc_sock_has_fd(&zc_socks[slot], fd) && zc_socks[slot].zc_set &&
	    !zc_sock_vm_child(&zc_socks[slot])) {
		got = take_locked(slot, msg);
		if (got >= 0) {
			settle_locked(slot, got);
			zc_sock_handoff_settle_locked(slot);
		}
	}
	zc_unlock();
	return got >= 0;
}

void zc_reap_all_locked(void)
{
	uint32_t seen[64];
	int nseen;

	zc_assert_locked();
	nseen = zc_inflight_sockets_locked(seen, 64);
	for (int k = 0; k < nseen; k++)
		zc_reap_locked(seen[k]);
}

int zc_reap_owners_locked(uintptr_t start, uintptr_t end, struct pollfd *fds, int max)
{
	uint32_t seen[16];
	int nseen, nfds = 0;

	zc_assert_locked();
	nseen = zc_inflight_owners_locked(start, end, seen, 16);
	for (int k = 0; k < nseen; k++)
		zc_reap_locked(seen[k]);
	for (int k = 0; k < nseen && nfds < max; k++) {
		fds[nfds].fd = zc_socks[seen[k]].fd;
		fds[nfds].events = 0;   /* POLLERR: the error queue has something */
		fds[nfds].revents = 0;
		nfds++;
	}
	return nfds;
}

void zc_completion_init(void)
{
	zc_guard_set_reaper(zc_reap_owners_locked);
}
