/*
 * owner.h - which process the shim's state belongs to.
 *
 * The shim's tables describe one process: its fds, its guarded pages, the
 * ids it took on each socket's zerocopy counter. Another process can come
 * to run the shim's code over them in two ways, neither of which the C
 * library's fork handlers are sure to see:
 *
 *  - a copy of the memory (fork, _Fork, a raw clone or fork system call):
 *    the tables are stale copies. The owner word lives on a page marked
 *    MADV_WIPEONFORK, which the kernel gives every such child zeroed: the
 *    first call of the child's into the shim finds it zero and runs the
 *    child reset (fork.c; fork's child handler runs the same one). The lock word is
 *    there too, and reads as neither free nor held: the lock's fast path
 *    costs nothing more, and a few entry points that read the tables
 *    without the lock (send, close, poll) load the owner word first.
 *  - the same memory (vfork, clone(CLONE_VM), posix_spawn's child): the
 *    tables are the parent's own, but the fd table is not. Told apart by
 *    getpid(), only where it matters: when such a process would change
 *    what an fd of the shim's means (close, dup2, a first look at an fd),
 *    and then on each send on a socket it did so to.
 */
#ifndef ZC_OWNER_H
#define ZC_OWNER_H

#include "shim.h"

#include <sys/syscall.h>
#include <unistd.h>

enum { ZC_OWN_CHILD = 0, ZC_OWN_OWNED = 1, ZC_OWN_ADOPTING = 2 };
enum { ZC_LOCK_WIPED = 0, ZC_LOCK_FREE = 1, ZC_LOCK_HELD = 2, ZC_LOCK_WAIT = 3 };

struct zc_own {
	uint32_t state;    /* ZC_OWN_*: 0 in a child that has not reset yet */
	int lock_word;     /* the global lock (lock.c), ZC_LOCK_*: 0 in such a child */
	int pid;           /* the owner's pid, for CLONE_VM children */
};

/* The owner page: a page of its own in the shim's .bss (64 KiB, the largest
 * page size, so that nothing else shares it), one load away from every
 * user, no pointer to follow. */
#define ZC_OWN_PAGE 65536
union zc_own_page {
	struct zc_own o;
	char pad[ZC_OWN_PAGE];
};
extern union zc_own_page zc_own_page;
#define zc_own (&zc_own_page.o)

/* First thing at start-up (constructor): the owner, the lock free, the
 * page wiped in fork children. 0, or the errno of a kernel that cannot
 * wipe it (before Linux 4.14): children made without fork's handlers are
 * then not noticed (the caller says so). */
int zc_owner_init(void);

/* Run the child reset (fork.c, zc_fork_child_reset) if this process is a
 * copy that has not run it (counted in forks_unseen), in one thread of
 * it, once; _forked: from fork's child handler. */
void zc_owner_adopt(void);
void zc_owner_adopt_forked(void);

/* Call before trusting anything in the shim's tables. */
static inline void zc_owner_check(void)
{
	if (ZC_UNLIKELY(__atomic_load_n(&zc_own->state, __ATOMIC_ACQUIRE) != ZC_OWN_OWNED))
		zc_owner_adopt();
}

/* Is this process sharing the owner's memory without being it (vfork,
 * clone(CLONE_VM))? One getpid() system call. Async-signal-safe. */
static inline int zc_owner_foreign_vm(void)
{
	return (int)syscall(SYS_getpid) != __atomic_load_n(&zc_own->pid, __ATOMIC_RELAXED);
}

/* The child reset's last step (fork.c): this process is the owner, and
 * the threads waiting in zc_owner_adopt* for the reset go on. Called only
 * from fork.c's zc_fork_child_reset. Async-signal-safe. */
void zc_owner_take(void);

#endif
