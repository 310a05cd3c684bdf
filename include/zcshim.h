/*
 * zcshim.h - what libzcshim shows to the outside: its statistics fields.
 *
 * Programs never include this: they are run unmodified under
 * LD_PRELOAD=libzcshim.so. Tools that read the statistics line (and the
 * shim's own tests) use the field list below, which is the one place the
 * names and their order are defined.
 */
#ifndef ZCSHIM_H
#define ZCSHIM_H

/*
 * X(name, what it counts). Every field is an unsigned 64-bit counter except
 * the gauges inflight_bytes (now), inflight_max_bytes (high water),
 * idle_ranges (now) and the cost model's measured numbers (cost_*,
 * guard_once_min_pages: set once, on the first send that could be guarded).
 * zcstat --prometheus types those as gauges (tools/zcstat.c, is_gauge): a
 * new gauge is named there too. The live stats page (src/shared/stats.h)
 * takes its layout from this list: a field added at the end needs nothing
 * else there.
 */
#define ZCSHIM_STATS_FIELDS(X)                                                   \
	X(zc_sends, "send calls that went out with MSG_ZEROCOPY")                \
	X(zc_bytes, "bytes those calls sent")                                    \
	X(copy_sends, "large sends on TCP/UDP sockets that were copied instead") \
	X(copy_bytes, "bytes those calls sent")                                  \
	X(bounce_bytes, "unaligned head/tail bytes sent from shim memory")       \
	X(completions, "zerocopy calls the kernel reported released")            \
	X(completions_copied, "of those, calls the kernel copied after all")     \
	X(guard_protects, "page ranges made read-only by the guard")             \
	X(guard_faults, "writes by the program that hit a guarded page")         \
	X(guard_stall_ns, "time spent waiting for completions in the guard")     \
	X(cow_pages, "pages replaced by a private copy (copy-on-write)")         \
	X(quarantined, "freed buffers held until their completion, then freed")  \
	X(discard_pages, "guarded pages of freed memory given fresh pages")      \
	X(cow_attr_pages, "of cow_pages and discard_pages, pages given their mapping's attributes (advice, lock, policy, name, key)") \
	X(cow_attr_waits, "copies not made: the memory has attributes a copy cannot keep; the write waited for the completion") \
	X(kernel_write_resolves, "read()-family calls into guarded buffers")     \
	X(enobufs_fallbacks, "zerocopy calls refused with ENOBUFS, then copied") \
	X(budget_fallbacks, "large sends copied to stay within the pin budget")  \
	X(hot_copies, "large sends copied: their buffer is rewritten between sends") \
	X(hot_probes, "of rewritten buffers' sends, zerocopy tries (ever rarer)")   \
	X(idle_ranges, "released buffers kept read-only for their next send (now)") \
	X(inflight_bytes, "bytes sent with zerocopy not yet released")           \
	X(inflight_max_bytes, "highest value inflight_bytes reached")            \
	X(sockets_zc_on, "sockets on which zerocopy was enabled")                \
	X(sockets_zc_off, "sockets that stopped using zerocopy (COPIED)")           \
	X(signals_deferred, "program signals held until the shim left a critical section") \
	X(epoll_rearms, "one-shot epoll registrations armed again after a report the shim hid") \
	X(errors_hidden, "error conditions poll/select/epoll reported that were only the shim's notifications, hidden") \
	X(unkept_copies, "large sends copied: guarding them would pay a protection for that send alone") \
	X(cost_pair_ns, "measured: mprotect read-only and back, one page (ns)")     \
	X(cost_pair_page_ns, "measured: what each further page adds to that (ns)") \
	X(cost_copy_page_ns, "measured: copying one page (ns)")                    \
	X(guard_once_min_pages, "pages from which one guard cycle beats a copy (0: never)") \
	X(aligned_allocs, "malloc() blocks of at least the threshold placed on a page boundary") \
	X(hot_probes_skipped, "probes not made: the buffer's content changed since its send before") \
	X(failed_ids_taken, "failed zerocopy calls the kernel had numbered all the same (their completion came)") \
	X(sockets_id_unknown, "sockets stopped from zerocopy: a failed call may or may not have taken an id") \
	X(handoff_shared, "sockets the program took for its error queue while shim calls were still out") \
	X(stale_pages, "pages a record of the shim's described that the kernel found changed (unmapped, not readable, or writable again): record dropped, nothing granted") \
	X(stack_exit_resolves, "exiting threads whose stack held guarded or kept pages, resolved before the C library may unmap it") \
	X(forks_unseen, "this process: a child made without fork's handlers (_Fork, raw clone), reset on its first call") \
	X(inherited_notifications, "the parent's notifications read off inherited sockets, so no POLLERR shows") \
	X(vm_child_copies, "large sends copied in a vfork/CLONE_VM child: a socket it opened, or whose fd it changed") \
	X(completions_relayed, "of completions, those a child read off the socket and handed back") \
	X(probe_faults, "calls handed to the C library unread because a pointer of the program's faulted (it reports EFAULT)") \
	X(guard_uffd_registers, "mappings the userfaultfd guard registered (whole, once each)")    \
	X(guard_uffd_busy, "sends copied because the program registered their memory with a userfaultfd of its own") \
	X(guard_uffd_copies, "private copies the userfaultfd guard made in place (the mapping kept)") \
	X(guard_uffd_reports, "reports of memory unmapped, moved or discarded that the userfaultfd guard applied") \
	X(copy_ineligible_mem, "of copy_sends: a piece in memory the guard cannot protect (file, shared, read-only) too large for bounce memory") \
	X(copy_rewritten, "of copy_sends: the buffer is rewritten between sends (hot_copies)") \
	X(copy_local_peer, "of copy_sends: the peer is on this host (ZCSHIM_LOCAL=skip)") \
	X(copy_budget, "of copy_sends: the pin budget was full (budget_fallbacks)") \
	X(copy_enobufs, "of copy_sends: the kernel refused zerocopy with ENOBUFS (enobufs_fallbacks)") \
	X(copy_socket_off, "of copy_sends: zerocopy is off on the socket (refused, completions copied, an id unknown)") \
	X(copy_busy, "of copy_sends: another thread was sending on the socket") \
	X(copy_cost_model, "of copy_sends: guarding for this send alone costs more than the copy (unkept_copies)") \
	X(copy_vm_child, "of copy_sends: sent by a vfork/CLONE_VM child (vm_child_copies)") \
	X(copy_iovecs, "of copy_sends: more iovecs than a zerocopy call takes (64)") \
	X(copy_bounce_full, "of copy_sends: the bytes to copy into bounce memory exceed its slot (16 KiB), or no slot was free") \
	X(copy_no_pages, "of copy_sends: no whole page to send from the program's memory") \
	X(copy_id_window, "of copy_sends: the socket had as many calls out as its id window holds") \
	X(copy_records_full, "of copy_sends: the guard's table of ranges was full") \
	X(copy_guard_refused, "of copy_sends: the kernel refused to protect the pages (changed behind the shim)") \
	X(copy_fault, "of copy_sends: reading the program's memory faulted (the C library's call reports it)") \
	X(copy_closed, "of copy_sends: the socket was closed while the call was prepared") \
	X(copy_no_altstack, "of copy_sends: no signal stack could be set up for the thread") \
	X(cow_pending_waits, "private copies put off because a call over the pages was not sent yet (the write waited for the send)") \
	X(guard_uffd, "1: the userfaultfd guard is in use; 0: the mprotect guard (a level, not a count)") \
	X(guard_kernel_faults, "1: kernel writes into guarded pages wait instead of failing (a level)") \
	X(edge_sends, "zerocopy sends whose unaligned first or last page went out in place, guarded, instead of copied (a buffer sent again unchanged)") \
	X(copy_frags, "of copy_sends: a datagram of more page pieces than the kernel takes with zerocopy (net.core.max_skb_frags): copied") \
	X(kept_sends, "of zc_sends: a buffer sent again with all its pages still kept read-only, recorded without the global lock") \
	X(kept_adopted, "kept_sends still out when their buffer was written, unmapped or their socket closed: handed to the guard's records to wait or copy") \
	X(copy_guard_threads, "of copy_sends: the userfaultfd guard's threads were not running: the process's first guarded send came from inside a signal handler (they start at the next call from outside one), or they could not start")

#endif
