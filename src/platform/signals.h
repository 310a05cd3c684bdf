/*
 * signals.h - the shim's SIGSEGV (guard) and stats-signal handlers, and the
 * program's view of those signals.
 */
#ifndef ZC_SIGNALS_H
#define ZC_SIGNALS_H

/* Install the handlers (constructor), taking over the program's handlers
 * installed before the shim's constructor ran. */
int zc_signals_install(void);

#include "shim.h"

/* Give this thread an alternate signal stack if it has none: the guard may
 * protect pages of its own stack, and a fault there must still find a
 * stack to run the handler on. 0, or -1 when this process may not (a
 * vfork or CLONE_VM child): the send is copied. */
extern __thread int zc_altstack_state ZC_TLS_MODEL;   /* 0 unknown, 1 seen to */
int zc_altstack_setup(void);

static inline int zc_altstack_ensure(void)
{
	return ZC_LIKELY(zc_altstack_state) ? 0 : zc_altstack_setup();
}

/* Is this thread inside a handler of the program's that the shim called
 * (a send made there runs in signal context: nothing but async-signal-safe
 * calls, so no logging, no thread started)? A handler that leaves by
 * longjmp or siglongjmp is taken off the count by the jump's wrapper
 * (hooks_jump.c, zc_handlers_left); one left any other way (setcontext,
 * an exception) leaves it up, and the thread is then taken as inside a
 * handler: the safe side. */
extern __thread int zc_handler_depth ZC_TLS_MODEL;
void zc_handlers_left(uintptr_t sp);
static inline int zc_in_program_handler(void)
{
	return zc_handler_depth > 0;
}

/* The kernel's bit for "the program has SIGSEGV blocked" (signals.c):
 * SIGRTMAX with glibc on Linux. */
#define ZC_SEGV_PROXY (_NSIG - 1)

#include <signal.h>

/* A mask the program hands in, as the kernel must hold it (SIGSEGV
 * replaced by the proxy), and one the kernel holds, as the program must
 * see it (the proxy shown as SIGSEGV). Async-signal-safe. */
void zc_mask_to_kernel(sigset_t *set);
void zc_mask_to_program(sigset_t *set);
/* in, or its kernel form in *buf; NULL stays NULL. */
const sigset_t *zc_mask_arg(const sigset_t *in, sigset_t *buf);

/* sigprocmask() as the program's wrapper does it (masks in and out in the
 * program's terms). */
int zc_program_sigmask(int how, const sigset_t *set, sigset_t *old);

/* Around an exec (hooks_exec.c): the kernel given the program's SIGSEGV
 * disposition and mask, and the shim's back if the exec fails. */
struct zc_exec_state {
	int ign, masked;
	struct sigaction act;
	sigset_t mask;
};
void zc_exec_prepare(struct zc_exec_state *st);
void zc_exec_undo(const struct zc_exec_state *st);

#endif
