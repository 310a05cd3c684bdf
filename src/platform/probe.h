/*
 * probe.h - reading the program's memory through the program's pointers.
 *
 * The kernel answers a bad pointer in a call's arguments with EFAULT. The
 * shim reads some of those arguments itself (a send's msghdr, iovecs and
 * address; its unaligned ends, copied into bounce memory; a sample of a
 * rewritten buffer; the iovecs of a read into guarded memory), and a bad
 * one must end in the same EFAULT, not in a crash: such reads run inside a
 * fault probe window. A fault the kernel raises there makes the SIGSEGV
 * handler jump back (zc_probe_jump) and the read report failure.
 *
 * Only the window's own reads may fault in it, so no handler of the
 * program's runs inside one: a handler there could unmap what is being
 * read, send (and so open and close a window of its own over this one),
 * or have a fault of its own taken for the window's. A window is a
 * critical section (sigdefer.h: a signal landing in it runs its handler as
 * the window closes). Under ZCSHIM_SIGNALS=block it blocks every signal
 * but the six a faulting instruction raises (one of those blocked would
 * kill the process at the bad pointer), so there a SIGSEGV sent with
 * kill() still runs the program's handler inside it.
 *
 * Not for signal context (the fault handler) or under the global lock: a
 * window reads memory that may fault, and the fault handler takes the lock.
 */
#ifndef ZC_PROBE_H
#define ZC_PROBE_H

#include <stddef.h>

/* Run fn(arg) inside a window. 0, or -1 if fn read a bad pointer (it
 * stopped there; whatever it wrote before stays written). */
int zc_probe_run(void (*fn)(void *), void *arg);

/* Copy n bytes from the program's src; 0, or -1 if src is bad. */
int zc_probe_read(void *dst, const void *src, size_t n);

/*
 * Copy n bytes from the program's src through the kernel
 * (process_vm_readv on this process), for memory a load may not read
 * safely: a file mapping's page past the end of its file raises SIGBUS,
 * which no window catches (the shim handles SIGSEGV only, and a SIGBUS
 * handler of its own would stand between the program and its handler);
 * the kernel's copy meets the same page as the kernel's own read would,
 * and reports EFAULT. 0; -1 if some byte could not be read (the caller
 * hands the call to the C library, whose send meets the same page and
 * gives the program what it would have without the shim); -2 if the
 * kernel refuses the call itself (seccomp, an old kernel), after which
 * zc_probe_kread_works() says 0. No signal, no lock; a system call.
 */
int zc_probe_kread(void *dst, const void *src, size_t n);
int zc_probe_kread_works(void);

/* If this thread is inside a window, jump back into it (never returns
 * then); 0 otherwise. For the SIGSEGV handler, on a fault the kernel
 * raised. */
int zc_probe_jump(void);

#endif
