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
#include "guard.h"
#include "owner.h"
#include "relay.h"
#include "shim.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
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

#define LOCAL_MAX 64
static struct sockaddr_storage local_addrs[LOCAL_MAX];
static int nlocal;

int zc_sock_init(void)
{
	void *p = mmap(NULL, ZC_SOCK_MAX * sizeof(struct zc_sock), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *q = mmap(NULL, ZC_FD_MAX * sizeof(uint32_t), PROT_READ | PROT_WRITE,
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
			int fd = 0, ok = d->name[0] != 0;
			uint64_t cookie = 0;
			socklen_t cl = sizeof cookie;

			off += d->reclen;
			for (const char *c = d->name; *c; c++) {
				if (*c < '0' || *c > '9' || fd > (INT32_MAX - 9) / 10) {
					ok = 0;
					break;
				}
				fd = fd * 10 + (*c - '0');
			}
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
			if (zc_socks[s].used && zc_socks[s].cookie == cookie &&
			    zc_socks[s].nfds < ZC_SOCK_FDS)
				found = (int)s;
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

/* Look at fd for the first time. */
static int classify(int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	int domain, type, proto, v;
	int unconnected = 0, slot;
	uint32_t expect = ZC_FD_UNKNOWN;
	uint64_t cookie, verified;

	/* A vfork or CLONE_VM child: fd is a number in its own fd table,
	 * which the shared tables must not learn (the parent's fd of that
	 * number may be another socket). Its sends are copied. */
	if (zc_owner_foreign_vm()) {
		ZC_STAT_ADD(vm_child_copies, 1);
		return -1;
	}
	if (getopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain)) {
		if (errno == ENOTSOCK)
			zc_fd_set(fd, ZC_FD_PASS);
		return -1;
	}
	if ((domain != AF_INET && domain != AF_INET6) ||
	    getopt_int(fd, SOL_SOCKET, SO_TYPE, &type) ||
	    getopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &proto) ||
	    !((type == SOCK_STREAM && proto == IPPROTO_TCP) ||
	      (type == SOCK_DGRAM && proto == IPPROTO_UDP)))
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
		zc_idwin_init(&s->win, 0);
	}
	if (!__atomic_compare_exchange_n(&zc_fdtab[fd], &expect, (uint32_t)slot + ZC_FD_SLOT0, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		zc_sock_free_locked((uint32_t)slot);
		zc_unlock();
		return expect >= ZC_FD_SLOT0 ? (int)(expect - ZC_FD_SLOT0) : -1;
	}
	zc_unlock();
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
	if (zc_socks[s].zc_set)
		__atomic_fetch_sub(&zc_live_zc, 1, __ATOMIC_RELAXED);
	zc_socks[s].used = 0;
	zc_socks[s].gen++;
	free_slots[nfree_slots++] = s;
}

/* Wait up to the stall budget for the slot's calls to complete. */
static void drain(uint32_t slot, uint32_t gen, int fd)
{
	uint64_t deadline = zc_now_ns() + (uint64_t)zc_cfg.stall_us * 1000u;

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
		outstanding = zc_idwin_outstanding(&zc_socks[slot].win) != 0;
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
		zc_guard_orphan_slot_locked(slot, zc_socks[slot].gen);
		zc_sock_free_locked(slot);
	}
	zc_fd_set(fd, ZC_FD_UNKNOWN);
	zc_unlock();
}

void zc_sock_forget(int fd)
{
	uint32_t st, slot, gen;

	zc_owner_check();
	st = zc_fd_state(fd);
	if (vm_child_change(st))
		return;
	if (st < ZC_FD_SLOT0) {
		if (st != ZC_FD_UNKNOWN)
			zc_fd_set(fd, ZC_FD_UNKNOWN);
		return;
	}
	slot = st - ZC_FD_SLOT0;
	/* Another fd of the socket stays open: the socket, its calls and
	 * their completions live on there. */
	zc_lock();
	if (zc_socks[slot].used && zc_socks[slot].nfds > 1 &&
	    zc_sock_has_fd(&zc_socks[slot], fd)) {
		drop_fd_locked(&zc_socks[slot], fd);
		zc_fd_set(fd, ZC_FD_UNKNOWN);
		zc_unlock();
		return;
	}
	gen = zc_socks[slot].gen;
	zc_unlock();
	if (zc_idwin_outstanding(&zc_socks[slot].win))
		drain(slot, gen, fd);
	zc_lock();
	if (zc_socks[slot].used && zc_socks[slot].gen == gen &&
	    zc_sock_has_fd(&zc_socks[slot], fd)) {
		zc_reap_locked(slot);
		zc_guard_orphan_slot_locked(slot, gen);
		zc_sock_free_locked(slot);
	}
	zc_fd_set(fd, ZC_FD_UNKNOWN);
	zc_unlock();
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

void zc_sock_hands_off(int fd)
{
	struct inh_ent *e;

	zc_owner_check();
	if (vm_child_change(zc_fd_state(fd)))
		return;
	if (zc_fd_state(fd) >= ZC_FD_SLOT0)
		zc_sock_forget(fd);
	zc_fd_set(fd, ZC_FD_PASS);
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
	if (syscall(SYS_poll, &p, 1ul, 0) < 0)
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
	zc_lock();
	mine = zc_socks[slot].used && zc_sock_has_fd(&zc_socks[slot], fd) && zc_socks[slot].zc_set;
	if (mine)
		zc_reap_locked(slot);
	zc_unlock();
	if (!mine)
		return 0;
	/* What is left after the shim's notifications are gone. */
	if (syscall(SYS_poll, &p, 1ul, 0) < 0)
		return 0;
	if (still_ready)
		*still_ready = p.revents & mask;
	return !(p.revents & POLLERR);
}

/* The last epoll registration of each fd (epfd + 1, data): epoll reports
 * the program's data, not the fd. */
struct epreg {
	int epfd1;
	uint64_t data;
};
static struct epreg *epregs;

void zc_epoll_note(int epfd, int fd, uint64_t data, int add)
{
	if ((unsigned)fd >= ZC_FD_MAX)
		return;
	if (!epregs) {
		void *p = mmap(NULL, ZC_FD_MAX * sizeof(struct epreg), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		struct epreg *expect = NULL;

		if (p == MAP_FAILED)
			return;
		if (!__atomic_compare_exchange_n(&epregs, &expect, (struct epreg *)p, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			munmap(p, ZC_FD_MAX * sizeof(struct epreg));
	}
	if (add) {
		epregs[fd].data = data;
		__atomic_store_n(&epregs[fd].epfd1, epfd + 1, __ATOMIC_RELEASE);
	} else if (epregs[fd].epfd1 == epfd + 1) {
		__atomic_store_n(&epregs[fd].epfd1, 0, __ATOMIC_RELEASE);
	}
}

int zc_epoll_fd_of(int epfd, uint64_t data)
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
			    epregs[fd].data == data)
				return fd;
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
