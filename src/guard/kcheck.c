/*
 * kcheck.c - ask the kernel what a range of memory is now (see kcheck.h).
 */
#include "kcheck.h"
#include "shim.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int supported;   /* set once by zc_kcheck_init, read-only after */

void zc_kcheck_init(void)
{
	static char page[4096] __attribute__((aligned(4096)));
	int saved = errno;

	/* EINVAL on memory of our own that is readable and writable can only
	 * mean the kernel does not know the advice. */
	page[0] = 1;
	supported = syscall(SYS_madvise, page, sizeof page, MADV_POPULATE_WRITE) == 0;
	errno = saved;
}

static int ask(uintptr_t start, uintptr_t end, int advice)
{
	int saved = errno, r = -1;

	if (!supported)
		return -1;
	if (start >= end)
		return 1;
	for (int tries = 0; tries < 4; tries++) {
		if (syscall(SYS_madvise, (void *)start, (size_t)(end - start), advice) == 0) {
			r = 1;
			break;
		}
		/* EINTR/EAGAIN: try again; anything else is a no. */
		if (errno != EINTR && errno != EAGAIN) {
			r = 0;
			break;
		}
	}
	errno = saved;
	return r;
}

int zc_kcheck_readable(uintptr_t start, uintptr_t end)
{
	return ask(start, end, MADV_POPULATE_READ);
}

int zc_kcheck_writable(uintptr_t start, uintptr_t end)
{
	return ask(start, end, MADV_POPULATE_WRITE);
}
