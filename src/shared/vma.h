/*
 * vma.h - which memory the guard may take over.
 *
 * The guard write-protects pages and, when a completion is late, swaps in a
 * private copy. Both are only correct for private anonymous memory that is
 * readable and writable (heap, anonymous mmap, .bss, thread stacks): a
 * shared mapping can be written by another process, which no guard in this
 * process can stop, and a copy of a file page would break what the program
 * sees of the file. Everything else is sent by copying.
 *
 * The answer comes from /proc/self/maps, cached. The cache is dropped when
 * the program changes its mappings through the wrapped calls (mmap, munmap,
 * mremap, mprotect, brk, sbrk); a range it does not know (a library dlopen
 * mapped, memory the allocator mapped itself) sends it back
 * to /proc/self/maps.
 */
#ifndef ZC_VMA_H
#define ZC_VMA_H

#include <stddef.h>
#include <stdint.h>

#include "extent.h"

enum {
	ZC_VMA_READ = 1,
	ZC_VMA_WRITE = 2,
	ZC_VMA_EXEC = 4,
	ZC_VMA_SHARED = 8,
	ZC_VMA_ANON = 16,       /* no file behind it ([heap], [anon:...], none) */
	ZC_VMA_STACK = 32,      /* the main thread's [stack] */
	ZC_VMA_SPECIAL = 64,    /* [vdso], [vvar], [vsyscall] */
	ZC_VMA_EXE = 128,       /* a private mapping of this process's own
				 * executable file, all of it inside the file
				 * (zc_vma_exe_inside) */
};

struct zc_vma {
	uintptr_t start, end;
	unsigned flags;
	unsigned dev_major, dev_minor;   /* the file's (0:0 and inode 0: none) */
	uint64_t offset, inode;          /* where in the file the mapping starts */
};

/* Parse one line of /proc/PID/maps (without its newline). Returns 0 and
 * fills out, or -1 if the line is not in the expected form. Pure. */
int zc_maps_parse_line(const char *line, size_t len, struct zc_vma *out);

/* The file a process executes: the kernel refuses to write it or to
 * change its size while it runs (ETXTBSY). */
struct zc_exe_file {
	unsigned dev_major, dev_minor;
	uint64_t inode, size;   /* inode 0: not known */
};

/* Is v a private mapping of exe whose pages all lie inside the file (the
 * end rounded up to a page)? A load from such a page cannot raise SIGBUS
 * for a page past the end of the file: the file cannot shrink while the
 * process runs. Pure. */
int zc_vma_exe_inside(const struct zc_vma *v, const struct zc_exe_file *exe, size_t page);

/* Is the mapping private, anonymous, readable and writable (and not the
 * main stack)? Pure. */
int zc_vma_flags_eligible(unsigned flags);

/* Can the guard take over every page of [start, end)? Pages that the guard
 * itself made read-only (listed in t) count as writable. Caller holds the
 * global lock. */
int zc_vma_eligible(uintptr_t start, uintptr_t end, const struct zc_ext_table *t);

/* Can every byte of [start, end) be read without a signal other than
 * SIGSEGV? Yes for readable private anonymous memory (heap, stacks,
 * anonymous mappings), and for private mappings of the program's own
 * executable inside the file (ZC_VMA_EXE: its .rodata, where servers keep
 * constant strings such as memcached's "END\r\n"). Not for any other
 * file mapping: a page past the end of its file raises SIGBUS, where the
 * kernel's own read gives EFAULT. The bounce copy reads such memory with
 * loads (its fault probe catches SIGSEGV), any other through the kernel
 * (zc_probe_kread). Caller holds the global lock. */
int zc_vma_copyable(uintptr_t start, uintptr_t end, const struct zc_ext_table *t);

/* zc_vma_copyable without the lock, from the cache only: 1 (loads may
 * read it), 0 (read it through the kernel), -1 (the cache does not know
 * the range now, or changed while it was read: ask under the lock). Reads
 * the cache with bounded indices under its sequence count, so a refresh
 * meanwhile gives -1, never a fault. Async-signal-safe. */
int zc_vma_copyable_racy(uintptr_t start, uintptr_t end);

/* The cached flags of the mapping holding a (for a log line): 0, or -1
 * when the cache does not know it. Caller holds the global lock. */
int zc_vma_flags_at(uintptr_t a, unsigned *flags);

/* A fork child's reset: make [start, end) read-write where it lies in
 * read-only private anonymous memory (what the guard leaves behind), and
 * nowhere else. The range comes from the child's copy of the parent's
 * records, which a thread of the parent may have been changing at the
 * fork (_Fork does not wait for the lock): half-written, it must not make
 * a file's pages or the stack writable. first: read /proc/self/maps (once
 * per reset). Async-signal-safe; nothing else runs in the process. */
void zc_vma_child_unprotect(uintptr_t start, uintptr_t end, int first);

/* The bounds of the mapping holding a (fresh: read /proc/self/maps
 * again first; otherwise the cache if it is current). 0, or -1 if no
 * mapping holds a. Caller holds the global lock. */
int zc_vma_span(uintptr_t a, uintptr_t *start, uintptr_t *end, int fresh);

/* The program changed its mappings: forget what the cache knows. */
void zc_vma_invalidate(void);

/* Allocate the cache (from the constructor). */
int zc_vma_init(void);

#endif
