/*
 * guard_uffd.c - the userfaultfd guard backend (guard_backend.h): a guarded
 * page is write-protected in its page-table entry (UFFDIO_WRITEPROTECT on
 * mappings registered whole with UFFDIO_REGISTER_MODE_WP), and a write to
 * it waits in the kernel until a thread of the shim has resolved it.
 *
 * Why: write-protection is a bit in each page-table entry, so it never
 * splits or merges a mapping (the mprotect backend costs up to two
 * mappings per kept buffer, which caps the kept set by vm.max_map_count);
 * and the writing thread gets no signal, so the program's signal masks,
 * handlers and longjmps have nothing to do with the guard.
 *
 * Two threads of the shim's own serve it, started on the first protection
 * (a program that never sends large never has them), all signals blocked:
 *
 *  - the reader reads the userfaultfd and never takes a lock or waits on
 *    anything else: the kernel holds a thread that unmaps, moves or
 *    discards registered memory (munmap, mremap, MADV_DONTNEED) until its
 *    report (UFFD_EVENT_UNMAP, REMAP, REMOVE) has been read, and that
 *    thread may hold the global lock (the shim's own discard does);
 *    reports go to a ring that every guard path drains under the lock
 *    (uf_sync) before it trusts a record, faults to the server;
 *  - the server takes each write fault to a guarded page through the
 *    guard (zc_guard_resolve: wait up to ZCSHIM_STALL_US for the
 *    completion, then a private copy) and wakes the writer.
 *
 * Kernel writes (read() into a guarded buffer) wait like user-space ones
 * when the userfaultfd could be opened with kernel-fault rights (root or
 * CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=1); opened with
 * UFFD_USER_MODE_ONLY they fail with EFAULT, as under mprotect, and the
 * read family resolves first (zc_guard_uffd_user: kernel_writes_wait 0).
 *
 * A private copy keeps the program's mapping: the mapping is registered
 * for missing-page faults too for the moment of the copy, the pages are
 * discarded (the kernel keeps its references to the old ones) and filled
 * again with UFFDIO_COPY, which is atomic: any access in between waits
 * for it. Only with kernel-fault rights (a kernel access in between would
 * fail otherwise) and where the pages can be discarded (not mlocked):
 * elsewhere the write waits for the completion (ZC_FRESH_ATTRS).
 *
 * A fork child does not inherit the registration (no UFFD_FEATURE_EVENT_FORK):
 * the kernel clears the write-protect bits in the child's page tables, so
 * the child's memory is all writable. A child made by fork() opens its own
 * userfaultfd (uf_child), with the rights it has at the fork; any other
 * child (_Fork, a raw clone) uses the mprotect backend.
 *
 * Signal context: none. No primitive runs in a signal handler (is_fault
 * claims nothing). Both threads use raw syscalls and the shim's own memory
 * only (they may serve a fault of a thread that holds the allocator's lock).
 */
#include "guard_backend.h"
#include "guard.h"
#include "kcheck.h"
#include "owner.h"
#include "real.h"
#include "settings.h"
#include "shim.h"
#include "signals.h"
#include "stats.h"
#include "sys.h"
#include "vma.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* The features the backend needs: write-protect faults, and the reports
 * of memory going away or moving (so that no record outlives it). */
#define UF_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_EVENT_REMAP | \
		     UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

static int ufd = -1;             /* the userfaultfd (its number may move: zc_uffd_fd_closing) */
static int covered;              /* opened with kernel-fault rights */
static int threads_up;           /* 1: reader and server run in this process; -1: never here */
static int reader_up;            /* the reader runs (started first) */

/* Reports: reader -> whoever holds the lock next (uf_sync). */
enum { REP_GONE = 1, REP_MOVED = 2 };
struct report {
	int kind;
	uintptr_t a, b, len;    /* GONE [a, b); MOVED a -> b, len bytes */
};
#define REP_RING 4096u
static struct report rep[REP_RING];
static uint32_t rep_head, rep_tail;   /* head: the reader's; tail: under the lock */
static int rep_lost;                  /* the ring was full: look everywhere */

/* Faults: reader -> server. The address, with bit 0 set for a
 * write-protect fault (clear: a missing-page fault during a copy). */
#define FAULT_RING 4096u
static uintptr_t fault_ring[FAULT_RING];
static uint32_t fault_head, fault_tail;

static long uf_ioctl(unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, __atomic_load_n(&ufd, __ATOMIC_ACQUIRE), req, arg);
}

static int uf_open(int flags)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);

	if (fd < 0 && !(flags & UFFD_USER_MODE_ONLY)) {
		/* /dev/userfaultfd gives kernel-fault rights to whoever may
		 * open it (Linux 6.1). */
		int dev = (int)syscall(SYS_openat, AT_FDCWD, "/dev/userfaultfd",
				       O_RDWR | O_CLOEXEC | O_NONBLOCK);

		if (dev >= 0) {
			fd = (int)syscall(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			zc_sys_close(dev);
		}
	}
	if (fd < 0)
		return -1;
	{
		struct uffdio_api api = { .api = UFFD_API, .features = UF_FEATURES };

		if (syscall(SYS_ioctl, fd, UFFDIO_API, &api) ||
		    (api.features & UF_FEATURES) != UF_FEATURES) {
			zc_sys_close(fd);
			errno = EOPNOTSUPP;
			return -1;
		}
	}
	/* Out of the way of the numbers a program counts on (0, 1, 2 and the
	 * lowest free ones). */
	{
		int high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 512);

		if (high >= 0) {
			zc_sys_close(fd);
			fd = high;
		}
	}
	return fd;
}

/* Can this kernel write-protect private anonymous memory with it? (A
 * seccomp profile or an old kernel may say no at any step.) */
static int uf_try(int fd)
{
	void *p = zc_sys_mmap(NULL, zc_page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	if (p == MAP_FAILED)
		return 0;
	*(volatile char *)p = 1;
	{
		struct uffdio_register r = { .range = { (uintptr_t)p, zc_page },
					     .mode = UFFDIO_REGISTER_MODE_WP };
		struct uffdio_writeprotect w = { .range = { (uintptr_t)p, zc_page },
						 .mode = UFFDIO_WRITEPROTECT_MODE_WP };

		ok = !syscall(SYS_ioctl, fd, UFFDIO_REGISTER, &r) &&
		     (r.ioctls & ((__u64)1 << _UFFDIO_WRITEPROTECT)) &&
		     !syscall(SYS_ioctl, fd, UFFDIO_WRITEPROTECT, &w);
		w.mode = 0;
		syscall(SYS_ioctl, fd, UFFDIO_WRITEPROTECT, &w);
		/* Unregistered before the unmap: an unmap of registered
		 * memory waits until a reader has read its report, and no
		 * reader runs yet. */
		syscall(SYS_ioctl, fd, UFFDIO_UNREGISTER, &r.range);
	}
	zc_sys_munmap(p, zc_page);
	return ok;
}

int zc_uffd_open(int *kernel_faults)
{
	int fd = uf_open(0);

	covered = 1;
	if (fd < 0) {
		fd = uf_open(UFFD_USER_MODE_ONLY);
		covered = 0;
	}
	if (fd < 0)
		return -1;
	if (!uf_try(fd)) {
		zc_sys_close(fd);
		errno = EOPNOTSUPP;
		return -1;
	}
	ufd = fd;
	threads_up = 0;
	reader_up = 0;
	*kernel_faults = covered;
	return 0;
}

/* ---- the reader ---- */

static void futex_wake_all(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
}

static void push_report(int kind, uintptr_t a, uintptr_t b, uintptr_t len)
{
	uint32_t h = rep_head;

	if (h - __atomic_load_n(&rep_tail, __ATOMIC_ACQUIRE) >= REP_RING) {
		__atomic_store_n(&rep_lost, 1, __ATOMIC_RELEASE);
		return;
	}
	rep[h % REP_RING] = (struct report){ kind, a, b, len };
	__atomic_store_n(&rep_head, h + 1, __ATOMIC_RELEASE);
}

static void push_fault(uintptr_t v)
{
	uint32_t h = fault_head;

	/* Full (4096 writers waiting at once): wait for the server, which
	 * never waits for this thread. */
	while (h - __atomic_load_n(&fault_tail, __ATOMIC_ACQUIRE) >= FAULT_RING) {
		struct timespec ts = { 0, 100000 };

		syscall(SYS_nanosleep, &ts, NULL);
	}
	fault_ring[h % FAULT_RING] = v;
	__atomic_store_n(&fault_head, h + 1, __ATOMIC_RELEASE);
	futex_wake_all(&fault_head);
}

/* 1 while the reader reads and queues reports. The kernel lets a thread
 * that discarded or unmapped registered memory go on as soon as the reader
 * has read its report (userfaultfd_event_complete, inside read()), before
 * the reader has queued it: without this word, that thread's next send
 * could find the ring empty and trust records of memory that is gone
 * (memreport.sh dontneed saw its second message changed on the wire). Set
 * before the read, cleared after the queueing; uf_sync waits for it. */
static int reader_reading;

/* ZCSHIM_TEST_READER_DELAY_US (the test build only, testhooks.h): hold
 * reports the reader has read (so the kernel has let their threads go on)
 * this long before queueing them: the window the word above covers, made
 * wide (memreport.sh's "late" runs). */
static void test_reader_delay(const struct uffd_msg *m, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		if (m[i].event != UFFD_EVENT_PAGEFAULT) {
			uint32_t us = zc_test_reader_delay_us();
			struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };

			syscall(SYS_nanosleep, &ts, NULL);
			return;
		}
}

static void *reader_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "zcshim-uffd", 0, 0, 0);
	for (;;) {
		struct pollfd p = { __atomic_load_n(&ufd, __ATOMIC_ACQUIRE), POLLIN, 0 };
		struct uffd_msg m[16];
		ssize_t n;

		if (syscall(SYS_ppoll, &p, 1, NULL, NULL, (size_t)8) < 0 && errno != EINTR)
			continue;
		__atomic_store_n(&reader_reading, 1, __ATOMIC_SEQ_CST);
		n = zc_sys_read(p.fd, m, sizeof m);
		if (n < 0) {
			__atomic_store_n(&reader_reading, 0, __ATOMIC_RELEASE);
			if (errno == EBADF) {
				/* The number moved (zc_uffd_fd_closing) or went. */
				struct timespec ts = { 0, 1000000 };

				syscall(SYS_nanosleep, &ts, NULL);
			}
			continue;
		}
		if (ZC_UNLIKELY(zc_test_reader_delay_us()))
			test_reader_delay(m, n / (ssize_t)sizeof m[0]);
		/* Reports first, then the word cleared, then the faults: a full
		 * fault ring makes push_fault wait for the server, which may
		 * wait for the lock of a thread waiting in uf_sync for this
		 * word. (The server drains the reports before it trusts a
		 * record, so their order against the faults does not matter.) */
		for (ssize_t i = 0; i < n / (ssize_t)sizeof m[0]; i++) {
			switch (m[i].event) {
			case UFFD_EVENT_UNMAP:
				push_report(REP_GONE, (uintptr_t)m[i].arg.remove.start,
					    (uintptr_t)m[i].arg.remove.end, 0);
				break;
			case UFFD_EVENT_REMOVE:
				push_report(REP_GONE, (uintptr_t)m[i].arg.remove.start,
					    (uintptr_t)m[i].arg.remove.end, 0);
				break;
			case UFFD_EVENT_REMAP:
				push_report(REP_MOVED, (uintptr_t)m[i].arg.remap.from,
					    (uintptr_t)m[i].arg.remap.to, (uintptr_t)m[i].arg.remap.len);
				break;
			}
		}
		__atomic_store_n(&reader_reading, 0, __ATOMIC_RELEASE);
		for (ssize_t i = 0; i < n / (ssize_t)sizeof m[0]; i++)
			if (m[i].event == UFFD_EVENT_PAGEFAULT)
				push_fault((uintptr_t)m[i].arg.pagefault.address |
					   ((m[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ? 1 : 0));
	}
	return NULL;
}

/* ---- the server ---- */

static void uf_wake(uintptr_t start, uintptr_t end)
{
	struct uffdio_range r = { start, end - start };

	uf_ioctl(UFFDIO_WAKE, &r);
}

static void *server_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "zcshim-guard", 0, 0, 0);
	for (;;) {
		uint32_t t = fault_tail, h = __atomic_load_n(&fault_head, __ATOMIC_ACQUIRE);
		uintptr_t v, page;

		if (t == h) {
			syscall(SYS_futex, &fault_head, FUTEX_WAIT_PRIVATE, h, NULL, NULL, 0);
			continue;
		}
		v = fault_ring[t % FAULT_RING];
		__atomic_store_n(&fault_tail, t + 1, __ATOMIC_RELEASE);
		page = zc_page_down(v);
		if (v & 1) {
			zc_guard_wp_fault(page);
		} else {
			/* A missing-page fault: a copy (uf_fresh) filled the
			 * page meanwhile (EEXIST), or a range was left
			 * registered for missing pages (a copy that could not
			 * finish) and the program touches a page it had not:
			 * it gets what it would without the guard, zeros. */
			struct uffdio_zeropage z = { .range = { page, zc_page }, .mode = 0 };

			uf_ioctl(UFFDIO_ZEROPAGE, &z);
		}
		uf_wake(page, page + zc_page);
	}
	return NULL;
}

/* A protection was refused because it came from inside a signal handler
 * before the threads ran (start_threads_here): the next call from outside
 * one starts them (zc_guard_start_deferred). */
int zc_guard_start_wanted;

/* Both threads, once per process (lock held). This process is the
 * constructor's or a fork() child (uf_child), whose C library state is
 * whole; the caller is outside every handler of the program's
 * (start_threads_here), so pthread_create, which allocates, may run. */
static int start_threads(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int rc;

	static int warned;

	if (threads_up)
		return threads_up > 0 ? 0 : -1;
	/* Before pthread_create: its allocations reach free() and malloc(),
	 * whose hooks must not come back here. */
	__atomic_store_n(&zc_guard_start_wanted, 0, __ATOMIC_RELAXED);
	if (pthread_attr_init(&attr))
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* No signal of the program's is ever delivered to these threads. */
	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t)8);
	rc = reader_up ? 0 : ZC_REAL(pthread_create)(&t, &attr, reader_main, NULL);
	if (!rc) {
		reader_up = 1;
		rc = ZC_REAL(pthread_create)(&t, &attr, server_main, NULL);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
	pthread_attr_destroy(&attr);
	if (rc) {
		/* No memory or mappings for a stack now: this send is
		 * copied, and a later one tries again. A reader started
		 * alone is harmless (it reads reports for a guard that
		 * protects nothing); it is not started twice. */
		if (!warned++)
			zc_log(ZC_LOG_WARN, "cannot start the userfaultfd guard's threads (%s); large "
			       "sends are copied until they start. Set ZCSHIM_GUARD=mprotect to use "
			       "the mprotect guard", strerror(rc));
		return -1;
	}
	threads_up = 1;
	return 0;
}

/*
 * The first protection starts the threads, unless it comes from a send
 * inside a signal handler of the program's. pthread_create is not
 * async-signal-safe: it allocates the new thread's TLS with the program's
 * calloc(), and a handler that interrupted malloc() in the same thread
 * would wait for the allocator's lock its own thread holds, for ever. So
 * there the send is copied (copy_guard_threads) and the start waits for
 * the next call from outside a handler: a send, free(), pthread_create()
 * (zc_guard_start_deferred). (lock held)
 *
 * "Inside a handler" is the shim's count of the program's handlers
 * running in this thread (signals.c), which a jump out of a handler
 * brings down (hooks_jump.c). A handler installed with a raw rt_sigaction
 * system call is not counted: the limit DESIGN.md states.
 */
static int start_threads_here(void)
{
	if (ZC_LIKELY(threads_up > 0))
		return 0;
	if (threads_up < 0)
		return -1;
	if (zc_in_program_handler()) {
		__atomic_store_n(&zc_guard_start_wanted, 1, __ATOMIC_RELAXED);
		return -1;
	}
	/* A vfork or clone(CLONE_VM) child shares this memory, flag
	 * included: threads it started would die with it (at its exec or
	 * exit), and the parent's writes would wait for them for ever. */
	if (zc_owner_foreign_vm())
		return -1;
	return start_threads();
}

void zc_guard_start_deferred(void)
{
	int saved = errno;

	if (zc_in_program_handler() || zc_lock_held_here())
		return;
	zc_lock();
	if (__atomic_load_n(&zc_guard_start_wanted, __ATOMIC_RELAXED))
		start_threads_here();
	zc_unlock();
	errno = saved;
}

/* ---- the primitives ---- */

static int uf_init(void)
{
	zc_kcheck_init();
	return 0;
}

static int wp_ioctl(uintptr_t start, uintptr_t end, int on)
{
	struct uffdio_writeprotect w = { .range = { start, end - start },
					 .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
	long r;

	while ((r = uf_ioctl(UFFDIO_WRITEPROTECT, &w)) && errno == EAGAIN)
		;
	return r ? -1 : 0;
}

static int reg_ioctl(uintptr_t start, uintptr_t end, __u64 mode)
{
	struct uffdio_register r = { .range = { start, end - start }, .mode = mode };

	return uf_ioctl(UFFDIO_REGISTER, &r) ? -1 : 0;
}

/*
 * fn over the pieces of [start, end) that lie in one mapping each (the
 * kernel's write-protect ioctl takes one mapping at a time before Linux
 * 6.5). The mapping's bounds come from vma.c; a hole ends the walk with
 * -1, ENOMEM.
 */
static int each_mapping(uintptr_t start, uintptr_t end,
			int (*fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, int), int arg)
{
	while (start < end) {
		uintptr_t ms, me, stop;

		if (zc_vma_span(start, &ms, &me, 0)) {
			errno = ENOMEM;
			return -1;
		}
		stop = me < end ? me : end;
		if (fn(start, stop, ms, me, arg))
			return -1;
		start = stop;
	}
	return 0;
}

/* Protect [start, end), inside the mapping [ms, me): register the mapping
 * whole first if it is not (whole, so no mapping is split). */
static int protect_piece(uintptr_t start, uintptr_t end, uintptr_t ms, uintptr_t me, int arg)
{
	(void)arg;
	if (!wp_ioctl(start, end, 1))
		return 0;
	if (errno != ENOENT && errno != EINVAL)
		return -1;
	if (reg_ioctl(ms, me, UFFDIO_REGISTER_MODE_WP) &&
	    (errno == EBUSY || zc_vma_span(start, &ms, &me, 1) ||
	     reg_ioctl(ms, me, UFFDIO_REGISTER_MODE_WP))) {
		/* EBUSY: the program registered this memory with a
		 * userfaultfd of its own; the send is copied. */
		if (errno == EBUSY)
			ZC_STAT_ADD(guard_uffd_busy, 1);
		return -1;
	}
	ZC_STAT_ADD(guard_uffd_registers, 1);
	zc_vma_invalidate();
	return wp_ioctl(start, end, 1);
}

static int uf_protect(uintptr_t start, uintptr_t end, int flags)
{
	(void)flags;
	if (start_threads_here()) {
		errno = EAGAIN;   /* copy_guard_threads */
		return -1;
	}
	/* Mapped and readable, pages present (the write-protect bit lives in
	 * a page-table entry: a page not there yet could not hold it). A
	 * read, never a write: a write to a page this guard holds already
	 * would wait for the server, which may be waiting for this thread's
	 * lock. */
	if (zc_kcheck_readable(start, end) == 0) {
		ZC_STAT_ADD(stale_pages, (end - start) / zc_page);
		zc_vma_invalidate();
		errno = EFAULT;
		return -1;
	}
	if (!wp_ioctl(start, end, 1))
		return 0;
	return each_mapping(start, end, protect_piece, 0);
}

static int unprotect_piece(uintptr_t start, uintptr_t end, uintptr_t ms, uintptr_t me, int arg)
{
	(void)ms;
	(void)me;
	(void)arg;
	if (!wp_ioctl(start, end, 0))
		return 0;
	/* Not registered, or not there any more: nothing of ours to undo. */
	ZC_STAT_ADD(stale_pages, (end - start) / zc_page);
	return 0;
}

/* Never makes writable what the program mapped read-only: write-protect
 * is a bit beside the mapping's own protection, which it leaves alone. */
static void uf_unprotect(uintptr_t start, uintptr_t end)
{
	if (!wp_ioctl(start, end, 0))
		return;
	if (each_mapping(start, end, unprotect_piece, 0))
		ZC_STAT_ADD(stale_pages, 1);
}

/*
 * The copy itself, inside one mapping. [start, end) alone is registered
 * for missing-page faults too (the mapping splits in three for the
 * moment), discarded and filled again; then unregistered (which drops
 * write-protection only there, where the pages are the fresh copy) and
 * registered for write-protect again, which merges the mapping back.
 * (Registering with fewer modes over a registration is a no-op to the
 * kernel, hence the unregister; and unregistering the whole mapping would
 * drop the protection of every other page in it.)
 */
static int fresh_piece(uintptr_t start, uintptr_t end, uintptr_t ms, uintptr_t me, int copy)
{
	size_t len = end - start;
	struct uffdio_range range = { start, len };
	void *save = NULL;
	int rc = 0;

	(void)ms;
	(void)me;
	if (!copy) {
		/* Memory being freed: its content is nobody's any more. The
		 * kernel keeps its references to the old pages. */
		if (syscall(SYS_madvise, (void *)start, len, MADV_DONTNEED))
			return errno == EINVAL ? ZC_FRESH_ATTRS : ZC_FRESH_NOMAP;   /* mlocked */
		return 0;
	}
	if (!covered)
		return ZC_FRESH_ATTRS;   /* see the head comment */
	save = zc_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (save == MAP_FAILED)
		return ZC_FRESH_NOMAP;
	memcpy(save, (const void *)start, len);   /* stable: write-protected */
	if (reg_ioctl(start, end, UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MISSING)) {
		rc = ZC_FRESH_NOMAP;   /* no mapping to split off (max_map_count) */
		goto out;
	}
	if (syscall(SYS_madvise, (void *)start, len, MADV_DONTNEED)) {
		/* mlocked: the write waits instead. Back to write-protect
		 * only, the pages untouched: unregistering would unprotect
		 * them, so the missing mode stays on these pages, which are
		 * all present (locked) and so never miss. */
		rc = ZC_FRESH_ATTRS;
		goto out;
	}
	{
		size_t done = 0;
		unsigned tries = 0;

		while (done < len) {
			struct uffdio_copy c = { .dst = start + done, .src = (uintptr_t)save + done,
						 .len = len - done, .mode = 0 };

			if (!uf_ioctl(UFFDIO_COPY, &c)) {
				done = len;
			} else if (c.copy > 0) {
				done += (size_t)c.copy;
			} else if ((errno == EAGAIN || errno == ENOMEM) && ++tries < 10000) {
				/* No memory for the page now: again in 1 ms
				 * (10 s at most). */
				struct timespec ts = { 0, 1000000 };

				syscall(SYS_nanosleep, &ts, NULL);
			} else {
				/* EEXIST cannot be (every access waits); skip
				 * the page rather than loop. */
				ZC_STAT_ADD(stale_pages, 1);
				done += zc_page;
				tries = 0;
			}
		}
	}
	ZC_STAT_ADD(guard_uffd_copies, 1);
	uf_ioctl(UFFDIO_UNREGISTER, &range);
	reg_ioctl(start, end, UFFDIO_REGISTER_MODE_WP);
out:
	zc_sys_munmap(save, len);
	return rc;
}

static int uf_fresh(uintptr_t start, uintptr_t end, int copy)
{
	int rc = 0;
	uintptr_t p = start;

	if (zc_kcheck_readable(start, end) == 0) {
		/* Gone: nothing to copy into; the caller detaches. */
		ZC_STAT_ADD(stale_pages, (end - start) / zc_page);
		return 0;
	}
	while (p < end && !rc) {
		uintptr_t ms, me, stop;

		if (zc_vma_span(p, &ms, &me, 0))
			return ZC_FRESH_NOMAP;
		stop = me < end ? me : end;
		rc = fresh_piece(p, stop, ms, me, copy);
		p = stop;
	}
	return rc;
}

/* Faults never come as signals. */
static int uf_is_fault(int sig, const siginfo_t *si, uintptr_t *addr)
{
	(void)sig;
	(void)si;
	(void)addr;
	return 0;
}

/* The child has no registration and no write-protect bits (head comment). */
static void uf_child_reset(uintptr_t start, uintptr_t end, int first)
{
	(void)start;
	(void)end;
	(void)first;
}

/* Which pages of [start, start + n pages) are write-protected now: from
 * /proc/self/pagemap (bit 57, Linux 5.13). out[i] = 1 guarded, 0 not. On
 * a read error, all 1: keep the records (the safe side). */
static void uf_guarded(uintptr_t start, size_t n, uint8_t *out)
{
	static uint64_t e[512];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	for (size_t done = 0; done < n;) {
		size_t k = n - done < 512 ? n - done : 512;
		ssize_t r = fd < 0 ? -1 :
			syscall(SYS_pread64, fd, e, k * 8, (off_t)((start / zc_page + done) * 8));

		for (size_t i = 0; i < k; i++)
			out[done + i] = r != (ssize_t)(k * 8) ? 1 : (uint8_t)((e[i] >> 57) & 1);
		done += k;
	}
	if (fd >= 0)
		zc_sys_close(fd);
}

static void uf_sync(void)
{
	uint32_t t;

	/* A report read but not queued yet (reader_reading). The reader
	 * takes no lock and its read does not block: a short wait. */
	while (__atomic_load_n(&reader_reading, __ATOMIC_ACQUIRE))
		syscall(SYS_sched_yield);
	t = rep_tail;

	if (__atomic_load_n(&rep_lost, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&rep_lost, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rep_tail, __atomic_load_n(&rep_head, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		zc_guard_gone_locked(0, UINTPTR_MAX & ~(uintptr_t)(zc_page - 1));
		return;
	}
	while (t != __atomic_load_n(&rep_head, __ATOMIC_ACQUIRE)) {
		struct report r = rep[t % REP_RING];

		__atomic_store_n(&rep_tail, ++t, __ATOMIC_RELEASE);
		ZC_STAT_ADD(guard_uffd_reports, 1);
		if (r.kind == REP_GONE)
			zc_guard_gone_locked(zc_page_down(r.a), zc_page_up(r.b));
		else
			zc_guard_moved_locked(r.a, r.b, r.len);
	}
}

static int uf_pending(void)
{
	return __atomic_load_n(&reader_reading, __ATOMIC_ACQUIRE) ||
	       rep_tail != __atomic_load_n(&rep_head, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&rep_lost, __ATOMIC_RELAXED);
}

/* A fork child (single-threaded, the records reset): the parent's
 * userfaultfd is the parent's (its registrations name the parent's memory),
 * so the child closes its copy and opens its own. forked: a fork() child,
 * whose C library may start threads; any other child uses mprotect. */
static int uf_child(int forked)
{
	int fd = ufd, kf;

	ufd = -1;
	threads_up = -1;
	reader_up = 0;
	zc_guard_start_wanted = 0;
	reader_reading = 0;
	rep_head = rep_tail = 0;
	rep_lost = 0;
	fault_head = fault_tail = 0;
	if (fd >= 0)
		zc_sys_close(fd);
	if (!forked)
		return -1;
	return zc_uffd_open(&kf);
}

int zc_uffd_fd(void)
{
	return __atomic_load_n(&ufd, __ATOMIC_ACQUIRE);
}

/* The program is closing fd, or making it another file (dup2): if it is
 * the userfaultfd, the guard moves it to another number first. Closing it
 * would end every registration: write-protected pages would become
 * writable with sends still reading them. */
void zc_uffd_fd_closing(int fd)
{
	int cur = __atomic_load_n(&ufd, __ATOMIC_ACQUIRE);

	if (cur < 0 || fd != cur)
		return;
	{
		int moved = (int)syscall(SYS_fcntl, cur, F_DUPFD_CLOEXEC, cur + 1);

		if (moved < 0)
			moved = (int)syscall(SYS_fcntl, cur, F_DUPFD_CLOEXEC, 3);
		if (moved >= 0)
			__atomic_store_n(&ufd, moved, __ATOMIC_RELEASE);
	}
}

#define UF_OPS(var, label, kwait)              \
	const struct zc_guard_ops var = {      \
		.name = label,                 \
		.kernel_writes_wait = kwait,   \
		.init = uf_init,               \
		.protect = uf_protect,         \
		.unprotect = uf_unprotect,     \
		.fresh = uf_fresh,             \
		.is_fault = uf_is_fault,       \
		.child_reset = uf_child_reset, \
		.guarded = uf_guarded,         \
		.pending = uf_pending,         \
		.sync = uf_sync,               \
		.child = uf_child,             \
	}

UF_OPS(zc_guard_uffd, "uffd", 1);
UF_OPS(zc_guard_uffd_user, "uffd", 0);
