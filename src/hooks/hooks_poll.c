/*
 * hooks_poll.c - the program's event loop must not see the shim's
 * notifications.
 *
 * The kernel raises POLLERR/EPOLLERR on a socket while its error queue is
 * not empty, and zerocopy notifications go there. A program that knows
 * nothing of zerocopy would take that for a dead connection, or spin on it
 * (a level-triggered loop), or, with select(), see a readable socket and
 * block in recv(). After each wait returns, an error condition on a socket
 * the shim sends zerocopy on is checked: the shim reads its notifications,
 * and if no error is left the condition is hidden (and, for select, the
 * readiness it caused). A wait left with nothing to report waits again for
 * the rest of its timeout. Real socket errors are reported unchanged.
 *
 * Costs nothing while no socket uses zerocopy (zc_live_zc is 0), and one
 * scan of the returned events otherwise.
 */
#include "owner.h"
#include "probe.h"
#include "shim.h"
#include "signals.h"
#include "sock.h"
#include "stats.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

/* Declared here: the headers declare them only in fortified builds. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);

/* Also in a child whose inherited sockets may carry its parent's
 * notifications (sock.c, theirs_error); a child made without fork's
 * handlers resets first, so that it knows. */
static inline int active(void)
{
	if (!zc_ready)
		return 0;
	zc_owner_check();
	return __atomic_load_n(&zc_live_zc, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&zc_inh_theirs, __ATOMIC_RELAXED);
}
#define ACTIVE() active()

/* Deadline bookkeeping for "wait again for the rest of the timeout". */
static uint64_t deadline_ms(int timeout)
{
	return timeout < 0 ? UINT64_MAX : zc_now_ns() + (uint64_t)timeout * 1000000u;
}

/* Milliseconds left (rounded up), 0 if passed, -1 for "no timeout". */
static int left_ms(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return -1;
	now = zc_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
}

static uint64_t deadline_ts(const struct timespec *ts)
{
	if (!ts)
		return UINT64_MAX;
	return zc_now_ns() + (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static int left_ts(uint64_t deadline, struct timespec *out)
{
	uint64_t now = zc_now_ns();

	if (now >= deadline)
		return 0;
	out->tv_sec = (time_t)((deadline - now) / 1000000000u);
	out->tv_nsec = (long)((deadline - now) % 1000000000u);
	return 1;
}

/* Hide the shim's POLLERR in fds; returns how many fds still have events. */
static int filter_pollfds(struct pollfd *fds, nfds_t n, int r)
{
	int saved = errno;

	for (nfds_t i = 0; i < n; i++) {
		if (!(fds[i].revents & POLLERR) || fds[i].fd < 0 ||
		    !zc_sock_error_is_ours(fds[i].fd, 0, NULL))
			continue;
		fds[i].revents &= (short)~POLLERR;
		ZC_STAT_ADD(errors_hidden, 1);
		if (!fds[i].revents)
			r--;
	}
	errno = saved;
	return r;
}

static int do_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	uint64_t deadline = deadline_ms(timeout);
	int r;

	for (;;) {
		r = ZC_REAL(poll)(fds, n, timeout);
		if (r <= 0 || !ACTIVE() || (r = filter_pollfds(fds, n, r)) > 0)
			return r;
		if ((timeout = left_ms(deadline)) == 0)
			return 0;
	}
}

ZC_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!ACTIVE())
		return ZC_REAL(poll)(fds, n, timeout);
	return do_poll(fds, n, timeout);
}

ZC_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (!ACTIVE() || fdslen / sizeof *fds < n)
		return ZC_REAL(__poll_chk)(fds, n, timeout, fdslen);
	return do_poll(fds, n, timeout);
}

static int do_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *mask)
{
	uint64_t deadline = deadline_ts(ts);
	struct timespec left;
	int r;

	for (;;) {
		r = ZC_REAL(ppoll)(fds, n, ts, mask);
		if (r <= 0 || !ACTIVE() || (r = filter_pollfds(fds, n, r)) > 0)
			return r;
		if (ts) {
			if (!left_ts(deadline, &left))
				return 0;
			ts = &left;
		}
	}
}

/* The temporary masks of ppoll, pselect and epoll_pwait are the program's:
 * SIGSEGV in them goes to the kernel as its proxy (signals.c). */
ZC_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *mask)
{
	sigset_t k;

	mask = zc_mask_arg(mask, &k);
	if (!ACTIVE())
		return ZC_REAL(ppoll)(fds, n, ts, mask);
	return do_ppoll(fds, n, ts, mask);
}

ZC_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			  const sigset_t *mask, size_t fdslen)
{
	sigset_t k;

	mask = zc_mask_arg(mask, &k);
	if (!ACTIVE() || fdslen / sizeof *fds < n)
		return ZC_REAL(__ppoll_chk)(fds, n, ts, mask, fdslen);
	return do_ppoll(fds, n, ts, mask);
}

/*
 * select() reports a socket with a pending error as readable and writable.
 * For each such socket of the shim's, what is really ready once its
 * notifications are read decides which bits stay.
 */
static int filter_fdsets(int nfds, fd_set *rd, fd_set *wr, int r)
{
	int saved = errno;

	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		int inr = rd && FD_ISSET(fd, rd), inw = wr && FD_ISSET(fd, wr);
		short want = (short)((inr ? POLLIN : 0) | (inw ? POLLOUT : 0)), still = 0;
		struct pollfd p = { fd, want, 0 };

		if (!(inr || inw) || zc_fd_state(fd) < ZC_FD_SLOT0)
			continue;
		if (ZC_REAL(poll)(&p, 1, 0) <= 0 || !(p.revents & POLLERR) ||
		    !zc_sock_error_is_ours(fd, want, &still))
			continue;
		ZC_STAT_ADD(errors_hidden, 1);
		if (inr && !(still & POLLIN)) {
			FD_CLR(fd, rd);
			r--;
		}
		if (inw && !(still & POLLOUT)) {
			FD_CLR(fd, wr);
			r--;
		}
	}
	errno = saved;
	return r;
}

/* The sets as the program passed them, to wait again with after a wakeup
 * that was only the shim's; read in a fault probe window (probe.h): -1 for
 * a bad pointer, which the kernel reports with EFAULT. */
static int read_fdsets(const fd_set *rd, const fd_set *wr, const fd_set *ex, fd_set *r0,
		       fd_set *w0, fd_set *e0)
{
	return (rd && zc_probe_read(r0, rd, sizeof *r0)) || (wr && zc_probe_read(w0, wr, sizeof *w0)) ||
	       (ex && zc_probe_read(e0, ex, sizeof *e0));
}

ZC_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	fd_set r0, w0, e0;
	int r;

	if (!ACTIVE() || read_fdsets(rd, wr, ex, &r0, &w0, &e0))
		return ZC_REAL(select)(nfds, rd, wr, ex, tv);
	for (;;) {
		/* Linux updates tv with the time left: waiting again with it
		 * keeps the program's overall timeout. */
		r = ZC_REAL(select)(nfds, rd, wr, ex, tv);
		if (r <= 0 || (r = filter_fdsets(nfds, rd, wr, r)) > 0)
			return r;
		if (tv && tv->tv_sec == 0 && tv->tv_usec == 0)
			return 0;
		if (rd)
			*rd = r0;
		if (wr)
			*wr = w0;
		if (ex)
			*ex = e0;
	}
}

ZC_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
		      const sigset_t *mask)
{
	uint64_t deadline = deadline_ts(ts);
	struct timespec left;
	fd_set r0, w0, e0;
	sigset_t k;
	int r;

	mask = zc_mask_arg(mask, &k);
	if (!ACTIVE() || read_fdsets(rd, wr, ex, &r0, &w0, &e0))
		return ZC_REAL(pselect)(nfds, rd, wr, ex, ts, mask);
	for (;;) {
		r = ZC_REAL(pselect)(nfds, rd, wr, ex, ts, mask);
		if (r <= 0 || (r = filter_fdsets(nfds, rd, wr, r)) > 0)
			return r;
		if (ts) {
			if (!left_ts(deadline, &left))
				return 0;
			ts = &left;
		}
		if (rd)
			*rd = r0;
		if (wr)
			*wr = w0;
		if (ex)
			*ex = e0;
	}
}

/* epoll reports the program's data, not the fd: the registrations noted
 * by epoll_ctl say which fd an event is for. An event dropped whole used
 * up a one-shot registration (EPOLLONESHOT) the program never saw fire:
 * it is armed again, as if the kernel had never reported it (sock.c). */
static int filter_events(int epfd, struct epoll_event *ev, int r)
{
	int saved = errno, out = 0;
	uint64_t gen = zc_epoll_gen();

	for (int i = 0; i < r; i++) {
		if (ev[i].events & EPOLLERR) {
			uint32_t events = 0;
			int fd = zc_epoll_fd_of(epfd, ev[i].data.u64, &events);

			if (fd >= 0 && zc_sock_error_is_ours(fd, 0, NULL)) {
				ev[i].events &= ~(uint32_t)EPOLLERR;
				ZC_STAT_ADD(errors_hidden, 1);
				if (!ev[i].events && (events & EPOLLONESHOT))
					zc_epoll_rearm(epfd, fd, gen);
			}
		}
		if (ev[i].events)
			ev[out++] = ev[i];
	}
	errno = saved;
	return out;
}

ZC_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int r, saved;

	if (!zc_ready)
		return ZC_REAL(epoll_ctl)(epfd, op, fd, ev);
	/* The call and its note together, apart from a re-arm. */
	zc_epoll_lock();
	r = ZC_REAL(epoll_ctl)(epfd, op, fd, ev);
	saved = errno;
	if (r == 0) {
		if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev)
			zc_epoll_note(epfd, fd, ev->events, ev->data.u64, 1);
		else if (op == EPOLL_CTL_DEL)
			zc_epoll_note(epfd, fd, 0, 0, 0);
	}
	zc_epoll_unlock();
	errno = saved;
	return r;
}

/* epoll_wait is epoll_pwait without a mask: one loop for both. */
static int do_epoll(int epfd, struct epoll_event *ev, int max, int timeout,
		    const sigset_t *mask, int pwait)
{
	uint64_t deadline = deadline_ms(timeout);
	int r;

	for (;;) {
		r = pwait ? ZC_REAL(epoll_pwait)(epfd, ev, max, timeout, mask)
			  : ZC_REAL(epoll_wait)(epfd, ev, max, timeout);
		if (r <= 0 || (r = filter_events(epfd, ev, r)) > 0)
			return r;
		if ((timeout = left_ms(deadline)) == 0)
			return 0;
	}
}

ZC_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	if (!ACTIVE())
		return ZC_REAL(epoll_wait)(epfd, ev, max, timeout);
	return do_epoll(epfd, ev, max, timeout, NULL, 0);
}

ZC_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
			  const sigset_t *mask)
{
	sigset_t k;

	mask = zc_mask_arg(mask, &k);
	if (!ACTIVE())
		return ZC_REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
	return do_epoll(epfd, ev, max, timeout, mask, 1);
}

ZC_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			   const struct timespec *ts, const sigset_t *mask)
{
	uint64_t deadline;
	struct timespec left;
	sigset_t k;
	int r;

	mask = zc_mask_arg(mask, &k);
	if (!ACTIVE())
		return ZC_REAL(epoll_pwait2)(epfd, ev, max, ts, mask);
	deadline = deadline_ts(ts);
	for (;;) {
		r = ZC_REAL(epoll_pwait2)(epfd, ev, max, ts, mask);
		if (r <= 0 || (r = filter_events(epfd, ev, r)) > 0)
			return r;
		if (ts) {
			if (!left_ts(deadline, &left))
				return 0;
			ts = &left;
		}
	}
}
