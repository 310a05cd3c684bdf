/*
 * sock.c - the fd table, socket slots, and which sockets are candidates.
 *
 * A socket is a candidate when it is TCP or UDP over IPv4/IPv6, its error
 * queue is the shim's alone (the program did not enable SO_ZEROCOPY,
 * IP_RECVERR, IPV6_RECVERR or timestamping), and its peer is not local
 * (the kernel copies data looped to a local socket anyway), unless
 * ZCSHIM_LOCAL=force.
 */
#include "sock.h"
#include "fastring.h"
#include "completion.h"
#include "guard.h"
#include "inflight.h"
#include "owner.h"
#include "relay.h"
#include "shim.h"
#include "sys.h"
#include "sigdefer.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

struct zc_sock *zc_socks;
uint32_t *zc_fdtab;
uint32_t zc_sock_hwm;
uint32_t zc_live_zc;
uint32_t zc_fd_epoch;
static uint32_t free_slots[ZC_SOCK_MAX];
static uint32_t nfree_slots;
/* TCP/UDP sockets duplicated while the shim had no slot for them (a dup
 * before the first large send), by cookie: the slot made for one later
 * looks for the socket's other fds. Full: every new slot looks. (lock) */
#define UNSEEN_MAX 256
static uint64_t unseen[UNSEEN_MAX];
static uint32_t nunseen;
static int unseen_all;

/* How long the program's setsockopt() taking the error queue waits for
 * the shim's calls to complete before the program's entries may start to
 * arrive (UDP completions come as the packets leave: well within this). */
#define ZC_HANDOFF_WAIT_MS 200

#define LOCAL_MAX 64
static struct sockaddr_storage local_addrs[LOCAL_MAX];
static int nlocal;

int zc_sock_init(void)
{
	void *p = zc_sys_mmap(NULL, ZC_SOCK_MAX * sizeof(struct zc_sock), PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *q = zc_sys_mmap(NULL, ZC_FD_MAX * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED || q == MAP_FAILED)
		return -1;
	zc_socks = p;
	for (uint32_t i = ZC_SOCK_MAX; i-- > 0;)
		free_slots[nfree_slots++] = i;
	zc_fdtab = q;
	return 0;
}

void zc_local_addrs_load(void)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i && nlocal < LOCAL_MAX; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			memcpy(&local_addrs[nlocal++], i->ifa_addr, sizeof(struct sockaddr_in));
		else if (i->ifa_addr->sa_family == AF_INET6)
			memcpy(&local_addrs[nlocal++], i->ifa_addr, sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
}

static int v4_local(uint32_t a_be)
{
	uint32_t a = ntohl(a_be);

	if ((a >> 24) == 127 || a == 0)
		return 1;
	for (int i = 0; i < nlocal; i++)
		if (local_addrs[i].ss_family == AF_INET &&
		    ((struct sockaddr_in *)&local_addrs[i])->sin_addr.s_addr == a_be)
			return 1;
	return 0;
}

int zc_addr_is_local(const struct sockaddr *sa, socklen_t len)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return v4_local(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			uint32_t v4;

			memcpy(&v4, &a->s6_addr[12], 4);
			return v4_local(v4);
		}
		for (int i = 0; i < nlocal; i++)
			if (local_addrs[i].ss_family == AF_INET6 &&
			    !memcmp(&((struct sockaddr_in6 *)&local_addrs[i])->sin6_addr, a, sizeof *a))
				return 1;
	}
	return 0;
}

static int getopt_int(int fd, int level, int name, int *v)
{
	socklen_t l = sizeof *v;

	*v = 0;
	return (int)syscall(SYS_getsockopt, fd, level, name, v, &l);
}

uint64_t zc_sock_cookie(int fd)
{
	uint64_t c = 0;
	socklen_t l = sizeof c;

	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_COOKIE, &c, &l))
		return 0;
	return c;
}

int zc_sock_has_fd(const struct zc_sock *s, int fd)
{
	for (int i = 0; i < s->nfds; i++)
		if (s->fds[i] == fd)
			return 1;
	return 0;
}

/* Remove fd from slot s; the slot reads its error queue from what is left.
 * Returns the fds left. (lock held) */
static int drop_fd_locked(struct zc_sock *s, int fd)
{
	zc_assert_locked();
	for (int i = 0; i < s->nfds; i++) {
		if (s->fds[i] != fd)
			continue;
		s->fds[i] = s->fds[--s->nfds];
		break;
	}
	if (s->nfds)
		s->fd = s->fds[0];
	return s->nfds;
}

/*
 * Sockets this process inherited, by cookie, sorted: from its parent at
 * fork(), or open when an exec'd program starts. The kernel numbers
 * zerocopy sends per socket, not per process: if parent and child both
 * sent zerocopy on one socket, each would count ids the other used and
 * release buffers on the other's completions. So a child never sends
 * zerocopy on a socket it inherited, whether or not the parent had used
 * it yet, through any fd (dup, connect again...). An exec'd program cannot
 * tell whether its parent sends on them: it does the same.
 *
 * theirs: the parent's shim may send zerocopy on it (it had the socket, or
 * had not looked at it yet; after exec: SO_ZEROCOPY was on). The parent's
 * notifications then reach this process's poll as POLLERR, which the
 * program would never have seen: theirs_error() reads them. Cleared when
 * the program takes the error queue or zerocopy for itself.
 * Written once in the child (one thread) or the constructor; after that
 * only theirs changes (a byte, relaxed).
 */
struct inh_ent {
	uint64_t cookie;
	int fd;            /* its number then (epoll's events name data, not fds) */
	uint8_t theirs;
};
static struct inh_ent *inh;
static uint32_t ninh, inh_cap;
static int inh_all;   /* the list could not be made: pass every socket through */
uint32_t zc_inh_theirs;

static struct inh_ent *list_find(struct inh_ent *v, uint32_t n, uint64_t cookie)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid].cookie == cookie)
			return &v[mid];
		if (v[mid].cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct inh_ent *inh_find(uint64_t cookie)
{
	return list_find(inh, ninh, cookie);
}

static int inherited(uint64_t cookie)
{
	return inh_all || inh_find(cookie);
}

/* Heapsort: no allocation, O(n log n) for a child of a server with tens of
 * thousands of connections. */
static void sift(struct inh_ent *v, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t c = 2 * root + 1;
		struct inh_ent t;

		if (c >= n)
			return;
		if (c + 1 < n && v[c + 1].cookie > v[c].cookie)
			c++;
		if (v[root].cookie >= v[c].cookie)
			return;
		t = v[root];
		v[root] = v[c];
		v[c] = t;
		root = c;
	}
}

static void sort_cookies(struct inh_ent *v, uint32_t n)
{
	for (uint32_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (uint32_t end = n; end-- > 1;) {
		struct inh_ent t = v[0];

		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end);
	}
}

struct dirent64_raw {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* An entry of /proc/self/fd as an fd number: 1 and *fd, or 0 for "." and
 * "..". (Memory only: the atfork child handler's path uses it.) */
static int fd_of_name(const char *name, int *fd)
{
	int v = 0;

	if (!*name)
		return 0;
	for (const char *c = name; *c; c++) {
		if (*c < '0' || *c > '9' || v > (INT32_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*c - '0');
	}
	*fd = v;
	return 1;
}

/* Grow the list by mmap (async-signal-safe: the atfork child handler may
 * run in a child of a multithreaded program). */
static int inh_push(uint64_t cookie, int fd, int theirs)
{
	if (ninh == inh_cap) {
		uint32_t ncap = inh_cap ? inh_cap * 2 : 512;
		void *p = (void *)syscall(SYS_mmap, NULL, (size_t)ncap * sizeof *inh,
					  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return -1;
		if (inh) {
			memcpy(p, inh, (size_t)ninh * sizeof *inh);
			syscall(SYS_munmap, inh, (size_t)inh_cap * sizeof *inh);
		}
		inh = p;
		inh_cap = ncap;
	}
	inh[ninh].cookie = cookie;
	inh[ninh].fd = fd;
	inh[ninh++].theirs = (uint8_t)theirs;
	zc_inh_theirs += theirs != 0;
	return 0;
}

/* May the parent's shim (or its own parent's: old, the parent's list of
 * what it inherited) send zerocopy on fd's socket? forked: from the
 * parent's fd table, copied at the fork: a socket it manages, or one it
 * has not looked at yet (not one it passes through: not a candidate, or
 * the program's own zerocopy). After exec: SO_ZEROCOPY is on. */
static int parent_may_send(int fd, uint64_t cookie, int forked, struct inh_ent *old,
			   uint32_t nold)
{
	struct inh_ent *e;
	int v = 0;

	if (forked) {
		uint32_t st = zc_fd_state(fd);

		return st >= ZC_FD_SLOT0 || st == ZC_FD_UNKNOWN ||
		       ((e = list_find(old, nold, cookie)) && e->theirs);
	}
	return !getopt_int(fd, SOL_SOCKET, SO_ZEROCOPY, &v) && v;
}

void zc_sock_note_inherited(int forked)
{
	char buf[4096];
	long n;
	int dfd;
	/* A grandchild starts afresh, but its grandparent's sockets (in its
	 * parent's list) may still carry the grandparent's notifications. */
	struct inh_ent *old = inh;
	uint32_t nold = ninh, oldcap = inh_cap;

	inh = NULL;
	ninh = inh_cap = 0;
	inh_all = 0;
	zc_inh_theirs = 0;
	dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		/* No /proc, or no fd left: no zerocopy in this child. After
		 * exec, sockets already using zerocopy are still passed
		 * through (classify). */
		inh_all = forked;
		goto out;
	}
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
			int fd = -1, ok = fd_of_name(d->name, &fd);
			uint64_t cookie = 0;
			socklen_t cl = sizeof cookie;

			off += d->reclen;
			if (!ok || fd == dfd ||
			    syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_COOKIE, &cookie, &cl) ||
			    !cookie)
				continue;
			if (inh_push(cookie, fd, parent_may_send(fd, cookie, forked, old, nold))) {
				inh_all = forked;
				break;
			}
			if (forked && zc_fd_state(fd) >= ZC_FD_SLOT0)
				zc_fd_set(fd, ZC_FD_PASS);
		}
		if (inh_all)
			break;
	}
	if (n < 0)
		inh_all = forked;
	syscall(SYS_close, dfd);
	sort_cookies(inh, ninh);
out:
	if (old)
		syscall(SYS_munmap, old, (size_t)oldcap * sizeof *old);
}

void zc_sock_child_reset(void)
{
	/* First, while the fd table still says what the parent did. */
	zc_sock_note_inherited(1);
	/* The parent's slots: a thread of the parent may have been changing
	 * one at the fork (_Fork does not wait for the lock), so the free
	 * list is made again rather than trusted. */
	for (uint32_t s = 0; s < zc_sock_hwm && s < ZC_SOCK_MAX; s++) {
		struct zc_sock *k = &zc_socks[s];

		if (!k->used)
			continue;
		for (int i = 0; i < k->nfds && i < ZC_SOCK_FDS; i++)
			if (zc_fd_state(k->fds[i]) == s + ZC_FD_SLOT0)
				zc_fd_set(k->fds[i], ZC_FD_PASS);
		k->used = 0;
		k->gen++;
	}
	nfree_slots = 0;
	for (uint32_t i = ZC_SOCK_MAX; i-- > 0;)
		free_slots[nfree_slots++] = i;
	zc_live_zc = 0;
}

/* Up to max fds of this process, other than not1 and not2, on the socket
 * with this cookie, from /proc/self/fd. Only on rare paths: a slot made
 * for a socket duplicated before the shim knew it, the last known fd of a
 * socket with more fds than a slot holds being closed. */
static int other_fds(uint64_t cookie, int not1, int not2, int *out, int max)
{
	char buf[4096];
	long n;
	int found = 0;
	int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return 0;
	while (found < max && (n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n && found < max;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
			int fd = -1, ok = fd_of_name(d->name, &fd);

			off += d->reclen;
			if (ok && fd != dfd && fd != not1 && fd != not2 && zc_sock_cookie(fd) == cookie)
				out[found++] = fd;
		}
	}
	syscall(SYS_close, dfd);
	return found;
}

/* fd2 reaches slot's socket: list it (lock held). */
static void add_fd_locked(uint32_t slot, int fd2)
{
	struct zc_sock *s = &zc_socks[slot];

	zc_assert_locked();
	if (zc_sock_has_fd(s, fd2))
		return;
	if (s->nfds == ZC_SOCK_FDS) {
		s->untracked = 1;   /* found again by cookie when it matters */
		return;
	}
	s->fds[s->nfds++] = fd2;
	zc_fd_set(fd2, slot + ZC_FD_SLOT0);
}

/* fd is another fd of a socket the shim already manages (same cookie):
 * it joins that socket's slot, so ids, guards and completions stay one. */
static int share(int fd)
{
	uint64_t cookie = zc_sock_cookie(fd);
	uint32_t expect = ZC_FD_UNKNOWN;
	int found = -1;

	if (cookie) {
		zc_lock();
		for (uint32_t s = 0; s < zc_sock_hwm && found < 0; s++)
			if (zc_socks[s].used && zc_socks[s].cookie == cookie)
				found = (int)s;
		if (found >= 0 && zc_socks[found].nfds == ZC_SOCK_FDS) {
			/* No room to list it: copy its sends, and let the
			 * socket's last listed close look for it. */
			zc_socks[found].untracked = 1;
			zc_unlock();
			return -1;
		}
		if (found >= 0) {
			if (__atomic_compare_exchange_n(&zc_fdtab[fd], &expect,
							(uint32_t)found + ZC_FD_SLOT0, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				zc_socks[found].fds[zc_socks[found].nfds++] = fd;
			else
				found = expect >= ZC_FD_SLOT0 ? (int)(expect - ZC_FD_SLOT0) : -1;
		}
		zc_unlock();
		if (found >= 0)
			return found;
	}
	expect = ZC_FD_UNKNOWN;
	__atomic_compare_exchange_n(&zc_fdtab[fd], &expect, ZC_FD_PASS, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	return -1;
}

/* Is fd a TCP or UDP socket over IPv4 or IPv6? 1 yes (*domain, *type
 * set), 0 no, -1 not a socket or no answer (errno). */
static int tcp_or_udp(int fd, int *domain, int *type)
{
	int proto;

	if (getopt_int(fd, SOL_SOCKET, SO_DOMAIN, domain))
		return -1;
	return (*domain == AF_INET || *domain == AF_INET6) &&
	       !getopt_int(fd, SOL_SOCKET, SO_TYPE, type) &&
	       !getopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &proto) &&
	       ((*type == SOCK_STREAM && proto == IPPROTO_TCP) ||
		(*type == SOCK_DGRAM && proto == IPPROTO_UDP));
}

/* Look at fd for the first time. */
static int classify(int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	int domain, type, v;
	int unconnected = 0, slot;
	uint32_t expect = ZC_FD_UNKNOWN;
	uint64_t cookie, verified;

	/* A vfork or CLONE_VM child: fd is a number in its own fd table,
	 * which the shared tables must not learn (the parent's fd of that
	 * number may be another socket). Its sends are copied: counted as
	 * such (copy_vm_child) where fd is a TCP or UDP socket. */
	v = tcp_or_udp(fd, &domain, &type);
	if (zc_owner_foreign_vm()) {
		if (v <= 0)
			return -1;
		ZC_STAT_ADD(vm_child_copies, 1);
		return ZC_SOCK_VM_CHILD;
	}
	if (v < 0) {
		if (errno == ENOTSOCK)
			zc_fd_set(fd, ZC_FD_PASS);
		return -1;
	}
	if (!v)
		goto pass;
	/* SO_ZEROCOPY already on: another fd (dup) of a socket the shim
	 * manages shares its slot; otherwise it is somebody else's. */
	if (getopt_int(fd, SOL_SOCKET, SO_ZEROCOPY, &v))
		goto pass;
	if (v)
		return share(fd);
	if (!getopt_int(fd, SOL_IP, IP_RECVERR, &v) && v)
		goto pass;
	if (domain == AF_INET6 && !getopt_int(fd, SOL_IPV6, IPV6_RECVERR, &v) && v)
		goto pass;
	if (!getopt_int(fd, SOL_SOCKET, SO_TIMESTAMPING, &v) &&
	    (v & (SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
		  SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_ACK)))
		goto pass;
	if (syscall(SYS_getpeername, fd, &peer, &plen)) {
		if (errno != ENOTCONN)
			goto pass;
		if (type == SOCK_STREAM)
			return -1;   /* not connected yet: ask again later */
		unconnected = 1;
	} else if (!zc_cfg.local_force && zc_addr_is_local((struct sockaddr *)&peer, plen)) {
		__atomic_compare_exchange_n(&zc_fdtab[fd], &expect, ZC_FD_COPY, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		return -2;
	}
	verified = zc_sock_verified_key(fd);
	cookie = zc_sock_cookie(fd);
	if (!cookie)
		goto pass;   /* without an identity, reuse of the fd goes unseen */
	if (inherited(cookie))
		goto pass;   /* the parent's socket too: see zc_sock_note_inherited */

	zc_lock();
	if (!nfree_slots) {
		zc_unlock();
		return -1;   /* full: copy for now, look again later */
	}
	slot = (int)free_slots[--nfree_slots];
	if ((uint32_t)slot >= zc_sock_hwm)
		zc_sock_hwm = (uint32_t)slot + 1;
	{
		struct zc_sock *s = &zc_socks[slot];
		uint32_t gen = s->gen;

		memset(s, 0, sizeof *s);
		s->gen = gen;
		s->fd = fd;
		s->fds[0] = fd;
		s->nfds = 1;
		s->used = 1;
		s->udp = type == SOCK_DGRAM;
		s->unconnected = (uint8_t)unconnected;
		s->cookie = cookie;
		s->verified = verified;
		zc_inflight_window_reset_locked((uint32_t)slot);
	}
	if (!__atomic_compare_exchange_n(&zc_fdtab[fd], &expect, (uint32_t)slot + ZC_FD_SLOT0, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		zc_sock_free_locked((uint32_t)slot);
		zc_unlock();
		return expect >= ZC_FD_SLOT0 ? (int)(expect - ZC_FD_SLOT0) : -1;
	}
	{
		int seen = unseen_all;

		for (uint32_t i = 0; i < nunseen && !seen; i++)
			if (unseen[i] == cookie) {
				unseen[i] = unseen[--nunseen];
				seen = 1;
			}
		zc_unlock();
		if (!seen)
			return slot;
	}
	{
		/* Copies made before the slot existed reach the same error
		 * queue: list them, or closing this fd would leave them the
		 * notifications. */
		int more[ZC_SOCK_FDS];
		int n = other_fds(cookie, fd, -1, more, ZC_SOCK_FDS);

		zc_lock();
		if (zc_socks[slot].used && zc_socks[slot].cookie == cookie)
			for (int i = 0; i < n; i++)
				if (zc_fd_state(more[i]) == ZC_FD_UNKNOWN)
					add_fd_locked((uint32_t)slot, more[i]);
		zc_unlock();
	}
	return slot;
pass:
	__atomic_compare_exchange_n(&zc_fdtab[fd], &expect, ZC_FD_PASS, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	return -1;
}

int zc_sock_get(int fd)
{
	uint32_t st = zc_fd_state(fd);

	if (ZC_LIKELY(st >= ZC_FD_SLOT0))
		return (int)(st - ZC_FD_SLOT0);
	if (st == ZC_FD_PASS)
		return -1;
	if (st == ZC_FD_COPY)
		return -2;
	return classify(fd);
}

void zc_sock_free_locked(uint32_t s)
{
	uint32_t gen = zc_socks[s].gen;

	zc_assert_locked();
	if (zc_socks[s].zc_set)
		__atomic_fetch_sub(&zc_live_zc, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&zc_socks[s].used, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&zc_socks[s].gen, gen + 1, __ATOMIC_SEQ_CST);
	/* Calls a sender recorded in the socket's ring (fastring.h) before
	 * it could see the close: the table's now, and orphaned with the
	 * rest (a sender that sees the close does the same itself). */
	if (zc_fast_adopt_slot_locked(s, gen) == 0)
		zc_inflight_orphan_slot_locked(s, gen);
	free_slots[nfree_slots++] = s;
}

/* Wait up to budget_ns for the slot's calls to complete. */
static void drain(uint32_t slot, uint32_t gen, int fd, uint64_t budget_ns)
{
	uint64_t deadline = zc_now_ns() + budget_ns;

	for (;;) {
		struct pollfd p = { fd, 0, 0 };
		uint64_t now, left;
		int outstanding;

		zc_lock();
		if (!zc_socks[slot].used || zc_socks[slot].gen != gen) {
			zc_unlock();
			return;
		}
		zc_reap_locked(slot);
		outstanding = zc_inflight_outstanding(slot) != 0;
		zc_unlock();
		now = zc_now_ns();
		if (!outstanding || now >= deadline)
			return;
		left = deadline - now;
		{
			struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };

			syscall(SYS_ppoll, &p, 1ul, &ts, NULL, (size_t)8);
		}
	}
}

/*
 * A process sharing this memory without being its owner (a vfork or
 * clone(CLONE_VM) child) is about to change what fd means in its own fd
 * table (close, dup2, a new socket there...). The owner's fd, and its
 * slot, stay as they are: the slot is only marked. The owner's next send
 * on any socket checks the cookie again (the two fd tables may be one,
 * CLONE_FILES); sends and completion reads on a marked slot check which
 * process they run in (a getpid() each: only such slots pay it). Returns
 * 1 if so: the caller leaves the slot and the fd's state alone.
 */
static int vm_child_change(uint32_t st)
{
	if (st < ZC_FD_SLOT0 || !zc_owner_foreign_vm())
		return 0;
	__atomic_store_n(&zc_socks[st - ZC_FD_SLOT0].vm_changed, 1, __ATOMIC_RELAXED);
	zc_fd_epoch_bump();
	return 1;
}

void zc_sock_forget_stale(int fd, uint32_t slot)
{
	if (vm_child_change(slot + ZC_FD_SLOT0))
		return;
	/* fd is another socket now: never read its error queue for the old
	 * one. The old calls can no longer complete; resolve them. */
	zc_lock();
	if (zc_socks[slot].used && zc_sock_has_fd(&zc_socks[slot], fd) &&
	    drop_fd_locked(&zc_socks[slot], fd) == 0) {
		zc_inflight_orphan_slot_locked(slot, zc_socks[slot].gen);
		zc_sock_free_locked(slot);
	}
	zc_fd_set(fd, ZC_FD_UNKNOWN);
	zc_unlock();
}

/* fd, one of slot's fds, is going away (lock not held). Another fd of
 * the socket takes over the slot; with none, the calls in flight are
 * resolved (a wait of up to ZCSHIM_STALL_US for completions, then private
 * copies) and the slot freed. */
static void forget_slot_fd(uint32_t slot, int fd)
{
	struct zc_sock *s = &zc_socks[slot];
	uint32_t gen;
	int other = -1;

	zc_lock();
	if (!s->used || !zc_sock_has_fd(s, fd)) {
		zc_unlock();
		return;
	}
	/* Another fd of the socket stays open: the socket, its calls and
	 * their completions live on there. */
	if (s->nfds > 1) {
		drop_fd_locked(s, fd);
		zc_unlock();
		return;
	}
	gen = s->gen;
	zc_unlock();
	if (zc_inflight_outstanding(slot) &&
	    (s->untracked || __atomic_load_n(&unseen_all, __ATOMIC_RELAXED))) {
		/* Copies of the socket the slot does not list may be open: the
		 * notifications would go to them. */
		if (other_fds(s->cookie, fd, -1, &other, 1) != 1)
			other = -1;
	}
	if (other >= 0) {
		zc_lock();
		if (s->used && s->gen == gen && zc_sock_has_fd(s, fd)) {
			add_fd_locked(slot, other);
			if (s->nfds > 1) {
				drop_fd_locked(s, fd);
				zc_unlock();
				return;
			}
		}
		zc_unlock();
	}
	if (zc_inflight_outstanding(slot))
		drain(slot, gen, fd, (uint64_t)zc_cfg.stall_us * 1000u);
	zc_lock();
	if (s->used && s->gen == gen && zc_sock_has_fd(s, fd)) {
		zc_reap_locked(slot);
		zc_inflight_orphan_slot_locked(slot, gen);
		zc_sock_free_locked(slot);
	}
	zc_unlock();
}

void zc_sock_forget(int fd)
{
	uint32_t st;

	zc_owner_check();
	st = zc_fd_state(fd);
	if (vm_child_change(st))
		return;   /* a vfork child's fd table is its own */
	if (st >= ZC_FD_SLOT0)
		forget_slot_fd(st - ZC_FD_SLOT0, fd);
	if (st != ZC_FD_UNKNOWN)
		zc_fd_set(fd, ZC_FD_UNKNOWN);
}

void zc_sock_reset(int fd)
{
	zc_owner_check();
	if (vm_child_change(zc_fd_state(fd)))
		return;
	if (zc_fd_state(fd) >= ZC_FD_SLOT0)
		zc_sock_forget(fd);
	else
		zc_fd_set(fd, ZC_FD_UNKNOWN);
}

void zc_sock_dup(int fd, int fd2)
{
	uint32_t st = zc_fd_state(fd), st2 = zc_fd_state(fd2);

	if (fd == fd2 || (unsigned)fd2 >= ZC_FD_MAX)
		return;
	if (vm_child_change(st) || vm_child_change(st2))
		return;   /* a vfork child's fd table is its own */
	/* The number was closed where the shim could not see it. */
	if (st2 >= ZC_FD_SLOT0)
		zc_sock_forget_stale(fd2, st2 - ZC_FD_SLOT0);
	else if (st2 != ZC_FD_UNKNOWN)
		zc_fd_set(fd2, ZC_FD_UNKNOWN);
	if (st >= ZC_FD_SLOT0) {
		uint32_t slot = st - ZC_FD_SLOT0;

		zc_lock();
		if (zc_socks[slot].used && zc_sock_has_fd(&zc_socks[slot], fd))
			add_fd_locked(slot, fd2);
		zc_unlock();
	} else if (st != ZC_FD_PASS) {
		/* A socket the shim has no slot for yet (or a local peer's,
		 * which connect() may change), if it can ever have one. */
		int domain, type, listening;
		uint64_t cookie;

		if (getopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) ||
		    (domain != AF_INET && domain != AF_INET6) ||
		    getopt_int(fd, SOL_SOCKET, SO_TYPE, &type) ||
		    (type != SOCK_STREAM && type != SOCK_DGRAM) ||
		    getopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening) || listening ||
		    !(cookie = zc_sock_cookie(fd)))
			return;
		zc_lock();
		if (nunseen < UNSEEN_MAX)
			unseen[nunseen++] = cookie;
		else
			__atomic_store_n(&unseen_all, 1, __ATOMIC_RELAXED);
		zc_unlock();
	}
}

int zc_sock_replace_begin(int fd, int old, uint32_t *slotp, uint32_t *genp)
{
	uint32_t st, slot;
	struct zc_sock *s;
	int hold = -1;

	zc_owner_check();
	st = zc_fd_state(fd);
	if (st < ZC_FD_SLOT0 || vm_child_change(st))
		return -1;
	slot = st - ZC_FD_SLOT0;
	s = &zc_socks[slot];
	zc_lock();
	if (!s->used || !zc_sock_has_fd(s, fd)) {
		zc_unlock();
		return -1;
	}
	*slotp = slot;
	*genp = s->gen;
	if (s->nfds == 1) {
		/* A private fd of the socket: its error queue stays readable
		 * whatever dup2 does with fd. Above old: the number of a
		 * closed fd the program passes as old must stay closed. */
		hold = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, old >= 0 ? old + 1 : 0);
		if (hold < 0) {
			zc_unlock();
			*slotp = UINT32_MAX;
			zc_sock_forget(fd);   /* no fd left: resolve now, as before */
			return -1;
		}
		zc_fd_set(hold, ZC_FD_UNKNOWN);
		s->fds[s->nfds++] = hold;
	}
	/* From here a send on fd looks at it afresh: it may name another
	 * file at any moment. */
	drop_fd_locked(s, fd);
	zc_fd_set(fd, ZC_FD_UNKNOWN);
	zc_unlock();
	return hold;
}

void zc_sock_replace_end(int fd, int hold, uint32_t slot, uint32_t gen, int ok)
{
	struct zc_sock *s;

	if (slot == UINT32_MAX)
		return;
	s = &zc_socks[slot];
	if (!ok) {
		/* Nothing changed: fd is the socket's again. */
		zc_lock();
		if (s->used && s->gen == gen) {
			add_fd_locked(slot, fd);
			if (hold >= 0 && s->nfds > 1)
				drop_fd_locked(s, hold);
		}
		zc_unlock();
	} else if (hold >= 0) {
		forget_slot_fd(slot, hold);
	}
	if (hold >= 0)
		syscall(SYS_close, hold);
}

void zc_sock_connected(int fd, int changed)
{
	uint32_t st = zc_fd_state(fd);

	if (st >= ZC_FD_SLOT0)
		__atomic_store_n(&zc_socks[st - ZC_FD_SLOT0].repeer, 1, __ATOMIC_RELEASE);
	else if (st != ZC_FD_UNKNOWN && changed)
		zc_fd_set(fd, ZC_FD_UNKNOWN);   /* classify again with the new peer */
}

/* The peer after a connect(): connected elsewhere, local or not, or no
 * longer connected (AF_UNSPEC). -1: not connected (TCP): no zerocopy yet. */
static int repeer(struct zc_sock *s, int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;

	if (syscall(SYS_getpeername, fd, &peer, &plen)) {
		if (errno != ENOTCONN || !s->udp)
			return -1;
		s->unconnected = 1;   /* each destination is checked */
		s->local = 0;
	} else {
		s->unconnected = 0;
		s->local = !zc_cfg.local_force && zc_addr_is_local((struct sockaddr *)&peer, plen);
	}
	__atomic_store_n(&s->repeer, 0, __ATOMIC_RELEASE);
	return 0;
}

int zc_sock_send_check(uint32_t slot, int fd)
{
	struct zc_sock *s = &zc_socks[slot];
	int saved = errno, r = 0;

	if (s->handoff) {
		zc_lock();
		if (s->used && s->handoff) {
			zc_reap_locked(slot);
			zc_sock_handoff_settle_locked(slot);
		}
		zc_unlock();
		return -1;
	}
	if (__atomic_load_n(&s->repeer, __ATOMIC_ACQUIRE) && repeer(s, fd))
		r = -1;
	else if (s->local) {
		/* Copied like a local peer's; what is still out is reaped. */
		if (zc_inflight_outstanding(slot)) {
			zc_lock();
			if (s->used)
				zc_reap_locked(slot);
			zc_unlock();
		}
		r = -2;
	}
	errno = saved;
	return r;
}

/* The socket is the program's: its fds pass through (lock held). */
static void release_locked(uint32_t slot)
{
	struct zc_sock *s = &zc_socks[slot];

	zc_assert_locked();
	for (int i = 0; i < s->nfds; i++)
		zc_fd_set(s->fds[i], ZC_FD_PASS);
	zc_sock_free_locked(slot);
}

void zc_sock_handoff_settle_locked(uint32_t slot)
{
	struct zc_sock *s = &zc_socks[slot];

	zc_assert_locked();
	/* A send under way (busy) may still take an id. */
	if (s->used && s->handoff && !zc_inflight_outstanding(slot) &&
	    !__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE))
		release_locked(slot);
}

struct zc_handoff zc_sock_handoff_begin(int fd, int level, int name)
{
	struct zc_handoff h = { -1, 0, 0, 1 };
	uint32_t st, slot;
	struct zc_sock *s;

	zc_owner_check();
	st = zc_fd_state(fd);
	if (st < ZC_FD_SLOT0 || vm_child_change(st))
		return h;
	slot = st - ZC_FD_SLOT0;
	s = &zc_socks[slot];
	zc_lock();
	if (!s->used || !zc_sock_has_fd(s, fd)) {
		zc_unlock();
		return h;
	}
	h.slot = (int)slot;
	h.gen = s->gen;
	h.prev = s->handoff;
	/* IP_RECVERR on TCP: the kernel reports ICMP errors of a TCP
	 * socket in SO_ERROR, never in its error queue, which stays the
	 * shim's alone. Every other option may queue the program's own
	 * entries (UDP's ICMP errors, timestamps, its zerocopy sends). */
	h.entries = s->udp || !(level == SOL_IP && name == IP_RECVERR);
	if (!s->handoff)
		s->handoff = ZC_HANDOFF_DRAIN;   /* no new zerocopy send */
	zc_unlock();
	if (h.entries && h.prev != ZC_HANDOFF_SHARED && zc_inflight_outstanding(slot))
		drain(slot, h.gen, fd, (uint64_t)ZC_HANDOFF_WAIT_MS * 1000000u);
	return h;
}

void zc_sock_handoff_end(int fd, struct zc_handoff h, int ok)
{
	struct zc_sock *s;

	if (h.slot < 0) {
		if (ok)
			zc_fd_set(fd, ZC_FD_PASS);
		return;
	}
	s = &zc_socks[h.slot];
	zc_lock();
	if (!s->used || s->gen != h.gen) {
		if (ok && zc_fd_state(fd) == ZC_FD_UNKNOWN)
			zc_fd_set(fd, ZC_FD_PASS);
	} else if (!ok) {
		s->handoff = h.prev;   /* the option was refused: nothing changed */
	} else {
		zc_reap_locked((uint32_t)h.slot);
		if (h.entries && zc_inflight_outstanding((uint32_t)h.slot)) {
			s->handoff = ZC_HANDOFF_SHARED;
			ZC_STAT_ADD(handoff_shared, 1);
		}
		zc_sock_handoff_settle_locked((uint32_t)h.slot);
	}
	zc_unlock();
}

void zc_sock_hands_off(int fd)
{
	struct inh_ent *e;

	zc_owner_check();
	if (vm_child_change(zc_fd_state(fd)))
		return;
	zc_sock_handoff_end(fd, zc_sock_handoff_begin(fd, SOL_SOCKET, SO_ZEROCOPY), 1);
	/* The program's own error queue now: none of it is the parent's. */
	if (zc_inh_theirs && (e = inh_find(zc_sock_cookie(fd))) && e->theirs)
		__atomic_store_n(&e->theirs, 0, __ATOMIC_RELAXED);
}

/*
 * fd, a socket this process inherited, reported an error condition. If
 * the parent's shim may send zerocopy on it, and its error queue is not
 * the program's (no IP_RECVERR, IPV6_RECVERR or transmit timestamps: the
 * only other entries it can hold), the parent's notifications are read
 * and handed back to it (relay.h): without the shim there would be none,
 * and the program would see no POLLERR. A record that does not reach the
 * parent (after exec there is no ring) costs it only time: its calls
 * complete late (a write to their pages waits ZCSHIM_STALL_US and gets a
 * private copy, a close does the same), never early: it cannot release
 * anything on a notification it never had. Returns as
 * zc_sock_error_is_ours.
 */
static int theirs_error(int fd, short mask, short *still_ready)
{
	struct pollfd p = { fd, mask, 0 };
	struct inh_ent *e;
	int v, domain = 0;
	uint64_t n = 0, cookie = zc_sock_cookie(fd);

	if (!(e = inh_find(cookie)) || !e->theirs)
		return 0;
	if (getopt_int(fd, SOL_SOCKET, SO_ZEROCOPY, &v) || !v ||
	    getopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) ||
	    (!getopt_int(fd, SOL_IP, IP_RECVERR, &v) && v) ||
	    (domain == AF_INET6 && !getopt_int(fd, SOL_IPV6, IPV6_RECVERR, &v) && v) ||
	    (!getopt_int(fd, SOL_SOCKET, SO_TIMESTAMPING, &v) &&
	     (v & (SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
		   SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_ACK))))
		return 0;
	for (int i = 0; i < 256; i++) {
		union {
			char buf[256];
			struct cmsghdr align;
		} ctl;
		struct msghdr m = { 0 };

		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof ctl.buf;
		if (syscall(SYS_recvmsg, fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n++;
		/* Handed back to the parent (relay.h). */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(cm);

			if (((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
			     (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) &&
			    ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY && ee->ee_errno == 0)
				zc_relay_put(cookie, ee->ee_info, ee->ee_data,
					     (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) != 0);
		}
	}
	ZC_STAT_ADD(inherited_notifications, n);
	if (zc_sys_poll(&p, 1, 0) < 0)
		return 0;
	if (still_ready)
		*still_ready = p.revents & mask;
	return !(p.revents & POLLERR);
}

int zc_sock_error_is_ours(int fd, short mask, short *still_ready)
{
	uint32_t st, slot;
	struct pollfd p = { fd, mask, 0 };
	int mine;

	zc_owner_check();
	st = zc_fd_state(fd);
	if (st < ZC_FD_SLOT0)
		return zc_inh_theirs ? theirs_error(fd, mask, still_ready) : 0;
	slot = st - ZC_FD_SLOT0;
	/* What is left after the shim's notifications are gone. One queued
	 * between the read and the poll raises POLLERR again: read once
	 * more. A POLLERR that survives a read that found nothing is the
	 * socket's own error, the program's to see. Bounded: completions
	 * arriving faster than this loop runs leave the condition reported,
	 * as an error would be. */
	for (int round = 0; round < 16; round++) {
		int got = 0;

		zc_lock();
		mine = zc_socks[slot].used && zc_sock_has_fd(&zc_socks[slot], fd) &&
		       zc_socks[slot].zc_set;
		if (mine) {
			got = zc_reap_locked(slot);
			zc_sock_handoff_settle_locked(slot);
		}
		zc_unlock();
		if (!mine)
			return 0;
		p.revents = 0;
		if (zc_sys_poll(&p, 1, 0) < 0)
			return 0;
		if (!(p.revents & POLLERR) || !got)
			break;
	}
	if (still_ready)
		*still_ready = p.revents & mask;
	return !(p.revents & POLLERR);
}

/* The last epoll registration of each fd (epfd + 1, events, data): epoll
 * reports the program's data, not the fd, and a one-shot registration
 * whose only report was the shim's must be armed again with the
 * program's own events (zc_epoll_rearm). gen is ep_gen at the program's
 * last ADD or MOD of it. */
struct epreg {
	int epfd1;
	uint32_t events;
	uint64_t data;
	uint64_t gen;
};
static struct epreg *epregs;
/* Serialises the program's epoll_ctl (call and note) with the shim's
 * re-arming, so the shim never arms over a registration the program is
 * changing. Taken inside a critical section (no handler of the program's
 * runs while it is held), around one epoll_ctl call only. */
static int ep_word;
static uint64_t ep_gen;   /* counts the program's ADD and MOD calls */

void zc_epoll_lock(void)
{
	zc_crit_enter();
	while (__atomic_exchange_n(&ep_word, 1, __ATOMIC_ACQUIRE))
		syscall(SYS_sched_yield);
}

void zc_epoll_unlock(void)
{
	__atomic_store_n(&ep_word, 0, __ATOMIC_RELEASE);
	zc_crit_leave();
}

uint64_t zc_epoll_gen(void)
{
	return __atomic_load_n(&ep_gen, __ATOMIC_ACQUIRE);
}

void zc_epoll_note(int epfd, int fd, uint32_t events, uint64_t data, int add)
{
	if ((unsigned)fd >= ZC_FD_MAX)
		return;
	if (!epregs) {
		void *p = zc_sys_mmap(NULL, ZC_FD_MAX * sizeof(struct epreg), PROT_READ | PROT_WRITE,
			              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		struct epreg *expect = NULL;

		if (p == MAP_FAILED)
			return;
		if (!__atomic_compare_exchange_n(&epregs, &expect, (struct epreg *)p, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			zc_sys_munmap(p, ZC_FD_MAX * sizeof(struct epreg));
	}
	if (add) {
		epregs[fd].data = data;
		epregs[fd].events = events;
		epregs[fd].gen = __atomic_add_fetch(&ep_gen, 1, __ATOMIC_ACQ_REL);
		__atomic_store_n(&epregs[fd].epfd1, epfd + 1, __ATOMIC_RELEASE);
	} else if (epregs[fd].epfd1 == epfd + 1) {
		__atomic_store_n(&epregs[fd].epfd1, 0, __ATOMIC_RELEASE);
	}
}

/*
 * The kernel disarmed fd's one-shot registration in epfd when it reported
 * the event the shim hid: arm it again with the program's events and data,
 * as if that report had never been made. Unless the program changed the
 * registration after the wait that got the report returned (gen_after:
 * zc_epoll_gen() then): its own MOD armed it, and the report that MOD
 * allows may already be the program's. A MOD made by another thread while
 * the wait was blocked cannot be told from one made before the report; it
 * is taken as made before it, and armed again, since a registration left
 * disarmed would never report anything more.
 * EPOLLEXCLUSIVE never meets this: the kernel refuses it with EPOLLONESHOT
 * (and refuses MOD of an exclusive registration).
 */
void zc_epoll_rearm(int epfd, int fd, uint64_t gen_after)
{
	struct epoll_event ev;

	if (!epregs || (unsigned)fd >= ZC_FD_MAX)
		return;
	zc_epoll_lock();
	if (__atomic_load_n(&epregs[fd].epfd1, __ATOMIC_ACQUIRE) == epfd + 1 &&
	    (epregs[fd].events & EPOLLONESHOT) && epregs[fd].gen <= gen_after) {
		ev.events = epregs[fd].events;
		ev.data.u64 = epregs[fd].data;
		if (ZC_REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
			ZC_STAT_ADD(epoll_rearms, 1);
	}
	zc_epoll_unlock();
}

/* The registration (epfd, data) names: its fd, for the fds the shim sends
 * zerocopy on (-1 if none), and its events (*events). */
int zc_epoll_fd_of(int epfd, uint64_t data, uint32_t *events)
{
	uint32_t hwm = __atomic_load_n(&zc_sock_hwm, __ATOMIC_ACQUIRE);

	if (!epregs)
		return -1;
	for (uint32_t s = 0; s < hwm; s++) {
		if (!zc_socks[s].used || !zc_socks[s].zc_set)
			continue;
		for (int i = 0; i < zc_socks[s].nfds && i < ZC_SOCK_FDS; i++) {
			int fd = zc_socks[s].fds[i];

			if ((unsigned)fd < ZC_FD_MAX &&
			    __atomic_load_n(&epregs[fd].epfd1, __ATOMIC_ACQUIRE) == epfd + 1 &&
			    epregs[fd].data == data) {
				if (events)
					*events = epregs[fd].events;
				return fd;
			}
		}
	}
	/* An inherited socket that may carry the parent's notifications,
	 * at the number it had (theirs_error checks it is still that one). */
	for (uint32_t i = 0; zc_inh_theirs && i < ninh; i++) {
		int fd = inh[i].fd;

		if (inh[i].theirs && (unsigned)fd < ZC_FD_MAX &&
		    __atomic_load_n(&epregs[fd].epfd1, __ATOMIC_ACQUIRE) == epfd + 1 &&
		    epregs[fd].data == data)
			return fd;
	}
	return -1;
}
