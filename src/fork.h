/*
 * fork.h - what a fork does to the shim's state, in one place (fork.c).
 *
 * Each module resets its own state (its *_child_reset function); this
 * file only says when, and in which order.
 */
#ifndef ZC_FORK_H
#define ZC_FORK_H

/* Constructor, last before the shim is ready: register the pthread_atfork
 * handlers. */
void zc_fork_install(void);

/* The child reset: every guard dropped, every inherited socket passed
 * through, counters from zero, the global lock free and this thread
 * outside every critical section, then this process made the owner
 * (owner.c). unseen: fork's handlers never announced this child (counted
 * in forks_unseen). Async-signal-safe. Called only by owner.c, which
 * makes sure one thread of the child runs it, once. */
void zc_fork_child_reset(int unseen);

#endif
