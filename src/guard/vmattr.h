/*
 * vmattr.h - the attributes of a mapping that a private copy must keep.
 *
 * The guard's private copy (and the fresh pages given to freed memory) is a
 * new mapping moved over the program's pages with mremap. A new mapping
 * has none of the old one's attributes: MADV_WIPEONFORK, DONTFORK,
 * DONTDUMP, HUGEPAGE/NOHUGEPAGE, MERGEABLE, SEQUENTIAL/RANDOM, mlock,
 * MAP_NORESERVE, an mbind policy, an anonymous name, a protection key, a
 * userfaultfd registration, ... A copy that dropped one would be memory
 * the program can tell apart from its own (a fork child reading a
 * WIPEONFORK page sees the parent's bytes; locked memory swaps out).
 *
 * So the copy is given every attribute the kernel lets a mapping be given,
 * and then the kernel is asked (/proc/self/smaps VmFlags, the anonymous
 * name, ProtectionKey; get_mempolicy) whether the copy and the original
 * now read the same. If they do not (an attribute that cannot be given,
 * such as a userfaultfd registration, or one this code does not know), no
 * copy is made: the caller waits for the completion instead.
 *
 * Signal context: called from the fault handler under the global lock.
 * Raw system calls and a static buffer only; no malloc, no stdio.
 */
#ifndef ZC_VMATTR_H
#define ZC_VMATTR_H

#include <stddef.h>
#include <stdint.h>

/* What zc_vmattr_match did to [tmp, tmp + len). */
enum {
	ZC_VMATTR_SAME = 0,     /* a fresh mapping reads the same as the original */
	ZC_VMATTR_CARRIED = 1,  /* attributes given to it; now it reads the same */
	ZC_VMATTR_REFUSED = -1, /* it cannot be made the same (or the kernel cannot
				 * say): make no copy */
};

/* Make the fresh private anonymous read-write mapping [tmp, tmp + len)
 * read like the pages [start, start + len) it is to replace (whose
 * read-only protection, the guard's, is not compared). Call before the
 * data is copied in; the protection key, if any, is set by
 * zc_vmattr_finish after the copy (a key may deny writes to tmp). tmp may
 * be replaced by a new mapping at the same address. Caller holds the
 * global lock. */
int zc_vmattr_match(uintptr_t start, uintptr_t tmp, size_t len);

/* After the data is in tmp: give it the original's protection key. 0, or
 * -1 (tmp must then be dropped). */
int zc_vmattr_finish(uintptr_t tmp, size_t len);

/* Pure helpers, exposed for the unit tests. Each two-letter VmFlags code
 * is one bit of a 26 * 26 bit set, so codes this file does not know still
 * compare. */
#define ZC_VMF_WORDS 11
struct zc_vmflags {
	uint64_t w[ZC_VMF_WORDS];
};
/* Parse the text after "VmFlags:" (len bytes). */
void zc_vmflags_parse(const char *p, size_t len, struct zc_vmflags *out);
int zc_vmflags_has(const struct zc_vmflags *f, const char *code);

#endif
