/*
 * hooks_jump.c - a jump out of a signal handler of the program's.
 *
 * The shim counts the program's handlers running in each thread
 * (signals.c): a send inside one must do only what is async-signal-safe
 * (no thread started, no log line formatted). A handler that leaves by
 * longjmp() or siglongjmp() never returns to the shim, so without these
 * wrappers the count would stay up, and the thread would be taken as
 * inside a handler for good. Each wrapper reads where the jump lands (the
 * stack pointer the jump buffer holds) and takes off the handlers the
 * jump leaves (zc_handlers_left), then jumps.
 *
 * glibc stores that stack pointer mangled with its pointer guard (the
 * thread control block's pointer_guard, at %fs:0x30 on x86-64: xor, then
 * rotate left 17 bits). Elsewhere the landing place is unknown, and the
 * count stays: the safe side.
 */
/* With _FORTIFY_SOURCE, <setjmp.h> renames calls to longjmp and
 * siglongjmp to __longjmp_chk, and would rename these definitions too:
 * the wrappers are defined under their own names. */
#undef _FORTIFY_SOURCE
#include "real.h"
#include "shim.h"
#include "signals.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

/* The stack pointer a jump to env restores, or 0 if unknown. */
static uintptr_t landing_sp(struct __jmp_buf_tag env[1])
{
#if defined(__x86_64__) && defined(__GLIBC__)
	uintptr_t v = (uintptr_t)env->__jmpbuf[6], guard;   /* JB_RSP */

	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	v = (v >> 17) | (v << 47);
	v ^= guard;
	/* A jump out of a handler goes up the stack. Below this frame lies
	 * another stack (or a wrong reading): not trusted, the count stays. */
	return v > (uintptr_t)__builtin_frame_address(0) ? v : 0;
#else
	(void)env;
	return 0;
#endif
}

static inline void leaving(struct __jmp_buf_tag env[1])
{
	if (ZC_UNLIKELY(zc_handler_depth > 0))
		zc_handlers_left(landing_sp(env));
}

ZC_EXPORT void longjmp(struct __jmp_buf_tag env[1], int val)
{
	leaving(env);
	ZC_REAL(longjmp)(env, val);
	abort();
}

ZC_EXPORT void _longjmp(struct __jmp_buf_tag env[1], int val)
{
	leaving(env);
	ZC_REAL(_longjmp)(env, val);
	abort();
}

ZC_EXPORT void siglongjmp(struct __jmp_buf_tag env[1], int val)
{
	leaving(env);
	ZC_REAL(siglongjmp)(env, val);
	abort();
}

/* What longjmp and siglongjmp become with _FORTIFY_SOURCE (no header
 * declares it). */
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

ZC_EXPORT void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	leaving(env);
	ZC_REAL(__longjmp_chk)(env, val);
	abort();
}
