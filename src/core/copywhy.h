/*
 * copywhy.h - why a large send was copied: one reason per copied call.
 *
 * Every large send on a TCP/UDP socket that the shim copies instead of
 * sending with zerocopy is counted in copy_sends and in exactly one
 * copy_<reason> field (include/zcshim.h), so the fields add up to
 * copy_sends and an operator sees which case a program is in. With
 * ZCSHIM_LOG=debug, the first call copied for each reason is named with
 * what it concerned (the memory range and its mapping, or the socket).
 */
#ifndef ZC_COPYWHY_H
#define ZC_COPYWHY_H

#include <stddef.h>
#include <stdint.h>

#define ZC_COPY_REASONS(X)                                              \
	X(INELIGIBLE_MEM, copy_ineligible_mem, "a piece lies in memory the guard cannot protect and is too large for bounce memory") \
	X(REWRITTEN, copy_rewritten, "the program rewrites this buffer between sends") \
	X(LOCAL_PEER, copy_local_peer, "the peer is on this host (ZCSHIM_LOCAL=force sends to it with zerocopy)") \
	X(BUDGET, copy_budget, "the pin budget is full (ZCSHIM_MAX_INFLIGHT, RLIMIT_MEMLOCK)") \
	X(ENOBUFS, copy_enobufs, "the kernel refused zerocopy with ENOBUFS (optmem_max, locked-memory limit)") \
	X(SOCKET_OFF, copy_socket_off, "zerocopy is off on this socket") \
	X(BUSY, copy_busy, "another thread was sending on this socket") \
	X(COST_MODEL, copy_cost_model, "guarding these pages for one send costs more than copying them (ZCSHIM_ADAPT=0 guards anyway)") \
	X(VM_CHILD, copy_vm_child, "sent by a vfork/CLONE_VM child") \
	X(IOVECS, copy_iovecs, "more iovecs than a zerocopy call takes") \
	X(BOUNCE_FULL, copy_bounce_full, "the bytes to copy exceed a bounce slot, or no slot was free") \
	X(NO_PAGES, copy_no_pages, "no whole page to send from the program's memory") \
	X(ID_WINDOW, copy_id_window, "the socket's id window is full") \
	X(RECORDS_FULL, copy_records_full, "the guard's range table is full") \
	X(GUARD_REFUSED, copy_guard_refused, "the kernel refused to protect the pages") \
	X(FAULT, copy_fault, "reading the program's memory faulted (the C library's call reports it)") \
	X(CLOSED, copy_closed, "the socket was closed meanwhile") \
	X(NO_ALTSTACK, copy_no_altstack, "no signal stack could be set up for this thread") \
	X(FRAGS, copy_frags, "the kernel refused zerocopy for a datagram of more page pieces than it takes (EMSGSIZE)") \
	X(GUARD_THREADS, copy_guard_threads, "the userfaultfd guard's threads were not running yet: the first send came from inside a signal handler, or they could not start")

enum zc_copy_why {
	ZC_WHY_NONE = 0,
#define ZC_WHY_ENUM(e, field, text) ZC_WHY_##e,
	ZC_COPY_REASONS(ZC_WHY_ENUM)
#undef ZC_WHY_ENUM
	ZC_WHY_COUNT
};

/* What the first copy of a reason concerned, for the debug log. */
struct zc_copy_what {
	int fd;
	uintptr_t start, end;   /* a memory range (0, 0: none) */
	unsigned vma_flags;     /* its mapping (vma.h), when start < end */
	int have_vma;
};

/* Count one copied call of bytes for why (copy_sends, copy_bytes and the
 * reason's field). what may be NULL. Logs the reason's first occurrence at
 * debug level, from the thread that sends, unless that thread is inside a
 * signal handler (the log formats with snprintf): then a later
 * occurrence outside one is named. No lock, no malloc. */
void zc_copy_count(size_t bytes, int why, const struct zc_copy_what *what);

#endif
