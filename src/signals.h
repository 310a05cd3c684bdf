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

#endif
