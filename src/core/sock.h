/*
 * sock.h - per-socket state and the fd table that finds it.
 *
 * The fd table maps an fd number to "not looked at yet", "pass through"
 * or a socket slot. Lookups are lock-free (one relaxed load): that is the
 * whole cost a small send pays. Slots are allocated and freed under the
 * global lock.
 *
 * A slot belongs to one socket, identified by its SO_COOKIE (never reused
 * by the kernel), so an fd number closed behind the shim's back (fclose,
 * a libc-internal close) and reused is noticed before the next zerocopy
 * send on it.
 */
#ifndef ZC_SOCK_H
#define ZC_SOCK_H

#include <stdint.h>
#include <sys/socket.h>

#include "idwin.h"
#include "owner.h"

#define ZC_SOCK_MAX 16384
#define ZC_FD_MAX (1u << 20)

enum {
	ZC_FD_UNKNOWN = 0,  /* not looked at yet */
	ZC_FD_PASS = 1,     /* not a candidate: not TCP/UDP, or the program's own zerocopy */
	ZC_FD_COPY = 2,     /* TCP/UDP to a local peer: large sends copied (and counted) */
	ZC_FD_SLOT0 = 3,    /* ZC_FD_SLOT0 + n: socket slot n */
};

#define ZC_SOCK_FDS 8   /* fds (dup, dup2...) that may share one slot */

struct zc_sock {
	int fd;                   /* the fd the shim reads the error queue from: fds[0] */
	int fds[ZC_SOCK_FDS];     /* every fd of this socket the shim knows */
	uint8_t nfds;
	uint32_t gen;             /* bumped each time the slot is freed */
	uint8_t used;
	uint8_t udp;
	uint8_t unconnected;      /* UDP without connect(): check each destination */
	uint8_t zc_set;           /* SO_ZEROCOPY enabled by the shim */
	uint8_t zc_off;           /* no new zerocopy sends (COPIED, or refused) */
	uint8_t vm_changed;       /* a vfork/CLONE_VM child changed one of its fds in
				   * its own fd table (sock.c, vm_child_change) */
	int busy;                 /* a zerocopy send is under way (atomic) */
	uint64_t cookie;
	uint32_t copied;          /* COPIED completions seen */
	uint64_t verified;        /* (fd epoch << 32) | (fd + 1) last matched by cookie */
	uint8_t must_reap;        /* a call whose release changes pages is out: */
	uint32_t must_reap_id;    /* the newest such call */
	uint8_t repeer;           /* connect() was called: look at the peer again */
	uint8_t local;            /* the peer is local now: large sends copied */
	uint8_t untracked;        /* more fds of the socket than fds[] holds */
	/* The program took the error queue for itself (IP_RECVERR, timestamping,
	 * its own zerocopy) while calls were out: no new zerocopy send, and the
	 * slot lives on until the last call completes, its notifications kept
	 * out of the program's sight. ZC_HANDOFF_SHARED: the program's own
	 * entries may be in the queue too, so the shim reads it only inside the
	 * program's own MSG_ERRQUEUE reads (an entry the shim read could not be
	 * put back). */
	uint8_t handoff;
	/* The socket's id window: kept here to live and die with the slot,
	 * but owned by inflight.c. Only inflight.c may read or change it;
	 * everyone else goes through zc_inflight_*(slot) (inflight.h). */
	struct zc_idwin win;
};

extern struct zc_sock *zc_socks;

/* Bumped by every C library call that may close or replace an fd without
 * the shim's close/dup2 wrappers seeing it (hooks_libc_close.c): a socket's
 * fd is then checked against its cookie again on its next send. */
extern uint32_t zc_fd_epoch;

static inline void zc_fd_epoch_bump(void)
{
	__atomic_fetch_add(&zc_fd_epoch, 1, __ATOMIC_RELEASE);
}

/* The value of zc_sock.verified for fd matched now. */
static inline uint64_t zc_sock_verified_key(int fd)
{
	return ((uint64_t)__atomic_load_n(&zc_fd_epoch, __ATOMIC_ACQUIRE) << 32) |
	       ((uint32_t)fd + 1u);
}
extern uint32_t *zc_fdtab;
extern uint32_t zc_sock_hwm;   /* slots [0, hwm) may be in use */

int zc_sock_init(void);

static inline uint32_t zc_fd_state(int fd)
{
	if ((unsigned)fd >= ZC_FD_MAX || !zc_fdtab)
		return ZC_FD_PASS;
	return __atomic_load_n(&zc_fdtab[fd], __ATOMIC_ACQUIRE);
}

static inline void zc_fd_set(int fd, uint32_t v)
{
	if ((unsigned)fd < ZC_FD_MAX && zc_fdtab)
		__atomic_store_n(&zc_fdtab[fd], v, __ATOMIC_RELEASE);
}

/* The slot of fd, classifying it on first use; -1 means pass through,
 * -2 copy (a local peer), ZC_SOCK_VM_CHILD copy (a TCP or UDP socket of a
 * vfork or CLONE_VM child's, not remembered). Also -1 for a TCP socket
 * not connected yet (not remembered). */
#define ZC_SOCK_VM_CHILD (-3)
int zc_sock_get(int fd);

/* Is this destination a local peer (loopback or an address of this host)? */
int zc_addr_is_local(const struct sockaddr *sa, socklen_t len);

/* Read the socket's cookie; 0 if the kernel cannot tell. */
uint64_t zc_sock_cookie(int fd);

/* fd was closed, or is being replaced: resolve what its slot has in flight
 * (waiting up to ZCSHIM_STALL_US for completions, then giving the program
 * private copies), free the slot, forget the fd. Caller does not hold the
 * lock. */
void zc_sock_forget(int fd);

/* fd no longer refers to slot's socket (it was closed behind the shim's
 * back and the number reused). */
void zc_sock_forget_stale(int fd, uint32_t slot);

/* A new socket appeared at fd (socket, accept, connect changed its peer):
 * look at it afresh on its next large send. */
void zc_sock_reset(int fd);

enum { ZC_HANDOFF_NONE, ZC_HANDOFF_DRAIN, ZC_HANDOFF_SHARED };

/* The program itself manages zerocopy or the error queue on fd (it sends
 * with MSG_ZEROCOPY): leave the socket to it once the shim's calls on it
 * have completed (see zc_sock_handoff_begin). */
void zc_sock_hands_off(int fd);

/*
 * The program sets an option that gives it the error queue or zerocopy
 * (level, name: SO_ZEROCOPY, IP_RECVERR, IPV6_RECVERR, SO_TIMESTAMPING).
 * Before the real setsockopt: no new zerocopy send on the socket, and if
 * the option may put the program's own entries in the queue, the shim's
 * calls are given up to ZC_HANDOFF_WAIT_MS to complete while the queue is
 * still the shim's alone. After it (ok: the call succeeded): the socket is
 * the program's once nothing of the shim's is out; a failed call changes
 * nothing.
 */
struct zc_handoff {
	int slot;        /* -1: fd is not a socket the shim manages */
	uint32_t gen;
	uint8_t prev;    /* the slot's handoff state before */
	uint8_t entries; /* the option may queue entries of the program's */
};
struct zc_handoff zc_sock_handoff_begin(int fd, int level, int name);
void zc_sock_handoff_end(int fd, struct zc_handoff h, int ok);

/* A slot handed off whose last call has completed: its fds become the
 * program's (lock held). */
void zc_sock_handoff_settle_locked(uint32_t slot);

/* Checks a zerocopy send needs on slot beyond the fd table's: the peer
 * after a connect(), a local peer, a hand-off. 0: go on; -1 pass the call
 * through; -2 copy it (counted). */
int zc_sock_send_check(uint32_t slot, int fd);

/* connect() was called on fd (whatever its outcome). A socket the shim
 * manages keeps its slot and its calls in flight (the kernel's id counter
 * belongs to the socket, not to the peer); its peer is looked at again
 * before its next zerocopy send. */
void zc_sock_connected(int fd, int changed);

/* fd2 is a new fd of fd's file (dup, fcntl F_DUPFD, a successful dup2 or
 * dup3): a socket the shim manages is reached through it too. */
void zc_sock_dup(int fd, int fd2);

/* dup2/dup3 onto fd, around the real call. Before: fd leaves its slot; if
 * it was the slot's last fd, the shim keeps the socket reachable through a
 * private fd (returned, or -1; numbered above old, which must stay what it
 * was), so that nothing is decided before the outcome is known. After: a failed call puts fd back; a
 * successful one resolves the slot's calls as a close would. */
int zc_sock_replace_begin(int fd, int old, uint32_t *slot, uint32_t *gen);
void zc_sock_replace_end(int fd, int hold, uint32_t slot, uint32_t gen, int ok);

/* Is this a vfork/CLONE_VM child sending on, or reading the completions
 * of, a socket whose fd it changed in its own fd table? Then it must not
 * (sock.c, vm_child_change). Lock-free. */
static inline int zc_sock_vm_child(const struct zc_sock *s)
{
	return ZC_UNLIKELY(__atomic_load_n(&s->vm_changed, __ATOMIC_RELAXED)) &&
	       zc_owner_foreign_vm();
}

/* Is fd one of slot s's fds? (lock held) */
int zc_sock_has_fd(const struct zc_sock *s, int fd);

/* Free slot s (lock held). */
void zc_sock_free_locked(uint32_t s);

/* Sockets with SO_ZEROCOPY set by the shim and still open (lock-free read:
 * the poll family does nothing extra while it and zc_inh_theirs are 0). */
extern uint32_t zc_live_zc;

/* fd reported an error condition (POLLERR). If the shim sends zerocopy on
 * it, read its notifications and return 1 when nothing else is left (the
 * program must not see that POLLERR); 0 when the error is real or not the
 * shim's business. Its readiness for revents_mask (POLLIN, POLLOUT) after
 * that goes to *still_ready. */
int zc_sock_error_is_ours(int fd, short revents_mask, short *still_ready);

/* epoll: which fd a registration (epfd, data) names, for the fds the shim
 * sends zerocopy on; -1 if none; *events (if not NULL) its events. The
 * program's epoll_ctl and its note run under zc_epoll_lock. */
void zc_epoll_lock(void);
void zc_epoll_unlock(void);
uint64_t zc_epoll_gen(void);
void zc_epoll_note(int epfd, int fd, uint32_t events, uint64_t data, int add);
int zc_epoll_fd_of(int epfd, uint64_t data, uint32_t *events);
/* A report the shim hid used up fd's one-shot registration: arm it again
 * (see sock.c). gen_after: zc_epoll_gen() when the wait returned. */
void zc_epoll_rearm(int epfd, int fd, uint64_t gen_after);

/* Remember every socket open now as inherited, so none of them is ever
 * sent with zerocopy here: forked, in a fork child (from the parent's
 * tables: which ones the parent's shim may send zerocopy on); else at
 * start-up, after exec (those with SO_ZEROCOPY on). */
void zc_sock_note_inherited(int forked);

/* Inherited sockets whose error queue may carry the parent's
 * notifications: the poll family reads those for this program, which
 * never asked for them (zc_sock_error_is_ours). */
extern uint32_t zc_inh_theirs;

/* The fork child's part of fork.c's reset: every slot freed, every
 * inherited socket noted and passed through. */
void zc_sock_child_reset(void);

/* Host addresses, read once at start (getifaddrs allocates). */
void zc_local_addrs_load(void);

#endif
