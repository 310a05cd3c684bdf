/*
 * real.c - bind the wrapped libc functions.
 *
 * dlsym() may itself call malloc/free (for its error string); the shim wraps
 * malloc, free and realloc, so a thread-local flag marks "binding in
 * progress": malloc then hands out blocks of a static arena, and the free
 * wrapper leaks rather than recursing (hooks_alloc.c). malloc is bound
 * first, so the arena serves only what binding malloc itself needs.
 */
#include "real.h"
#include "shim.h"

#include <string.h>
#include <unistd.h>

struct zc_real_table zc_real;
__thread int zc_binding ZC_TLS_MODEL;

static void bind_one(void **slot, const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == self) {
		static const char msg[] = "libzcshim: dlsym(RTLD_NEXT) returned the shim's own ";
		ssize_t r = write(2, msg, sizeof msg - 1);

		r = write(2, name, strlen(name));
		r = write(2, "; is libzcshim.so preloaded twice?\n", 35);
		(void)r;
		_exit(127);
	}
	__atomic_store_n(slot, p, __ATOMIC_RELEASE);
}

void zc_real_bind(void)
{
	static int bound;

	if (__atomic_load_n(&bound, __ATOMIC_ACQUIRE))
		return;
	zc_binding++;
#define ZC_REAL_BIND(ret, name, args)                                         \
	{                                                                     \
		extern ret name args;                                          \
		bind_one((void **)&zc_real.name, #name, (void *)&name);        \
	}
	ZC_REAL_FUNCS(ZC_REAL_BIND)
#undef ZC_REAL_BIND
#define ZC_REAL_BIND_PLAIN(ret, name, args) bind_one((void **)&zc_real.name, #name, NULL);
	ZC_REAL_PLAIN(ZC_REAL_BIND_PLAIN)
#undef ZC_REAL_BIND_PLAIN
	zc_binding--;
	__atomic_store_n(&bound, 1, __ATOMIC_RELEASE);
}
