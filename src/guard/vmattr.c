/*
 * vmattr.c - give a fresh mapping the attributes of the one it replaces,
 * and check with the kernel that nothing is left over (see vmattr.h).
 *
 * Signal-context invariant: everything here runs in the SIGSEGV handler
 * under the global lock: raw syscalls (openat, read, close, madvise,
 * mlock2, munlock, mmap, mbind, get_mempolicy, prctl, pkey_mprotect), the
 * static buffer below, no malloc, no stdio.
 */
#include "vmattr.h"
#include "shim.h"
#include "vma.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#define MPOL_DEFAULT_ 0
#define MPOL_F_ADDR_ (1 << 1)

/* Node masks as wide as the kernel's largest (CONFIG_NODES_SHIFT 10). */
#define NODE_BITS 1024
#define NODE_WORDS (NODE_BITS / (8 * sizeof(unsigned long)))
#define NAME_MAX_ 96   /* the kernel's limit is 80 with the NUL */
#define SMAPS_READ 2048

static int code_bit(char a, char b)
{
	if (a < 'a' || a > 'z' || b < 'a' || b > 'z')
		return -1;
	return (a - 'a') * 26 + (b - 'a');
}

void zc_vmflags_parse(const char *p, size_t len, struct zc_vmflags *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i + 1 < len; i++) {
		int bit;

		if (p[i] == ' ' || (i && p[i - 1] != ' ') || (i + 2 < len && p[i + 2] != ' '))
			continue;
		if ((bit = code_bit(p[i], p[i + 1])) >= 0)
			out->w[bit / 64] |= 1ull << (bit % 64);
	}
}

int zc_vmflags_has(const struct zc_vmflags *f, const char *code)
{
	int bit = code_bit(code[0], code[1]);

	return bit >= 0 && (f->w[bit / 64] >> (bit % 64)) & 1;
}

static void vmflags_clear(struct zc_vmflags *f, const char *code)
{
	int bit = code_bit(code[0], code[1]);

	f->w[bit / 64] &= ~(1ull << (bit % 64));
}

struct attrs {
	struct zc_vmflags f;   /* without rd, wr, sd: see attrs_same */
	int pkey;              /* ProtectionKey, -1 when not shown */
	int policy;            /* mode | mode flags; -1 no NUMA policy support */
	unsigned long nodes[NODE_WORDS];
	char name[NAME_MAX_];  /* "[anon:NAME]" name, "" none */
};

/* One range being looked at: the mappings overlapping it, which must all
 * read the same and cover it. */
struct query {
	uintptr_t start, end;
	uintptr_t covered;
	int n, mixed;
	struct attrs a;
};

/* Compared: the flags except rd and wr (the guard made the original
 * read-only; the copy is read-write, as the original is once released)
 * and sd (soft-dirty: the copy's pages were just written, which is what
 * the bit says), the anonymous name, the NUMA policy. Not the protection
 * key (set after the data is copied, see zc_vmattr_finish). */
static int attrs_same(const struct attrs *x, const struct attrs *y)
{
	return !memcmp(&x->f, &y->f, sizeof x->f) && !strcmp(x->name, y->name) &&
	       x->policy == y->policy && !memcmp(x->nodes, y->nodes, sizeof x->nodes);
}

static void read_policy(uintptr_t addr, struct attrs *a)
{
	int mode = 0;

	memset(a->nodes, 0, sizeof a->nodes);
	if (syscall(SYS_get_mempolicy, &mode, a->nodes, (unsigned long)NODE_BITS, (void *)addr,
		    (unsigned long)MPOL_F_ADDR_))
		/* No NUMA support: no policy to keep. Any other failure (the
		 * page gone meanwhile) makes the two differ: no copy. */
		mode = errno == ENOSYS ? -1 : -2;
	a->policy = mode;
}

/* The "[anon:NAME]" of a maps line, into out. */
static void read_name(const char *line, size_t len, char *out)
{
	static const char tag[] = "[anon:";
	size_t k = 0;

	out[0] = 0;
	for (size_t i = 0; i + sizeof tag - 1 <= len; i++) {
		if (memcmp(line + i, tag, sizeof tag - 1))
			continue;
		for (i += sizeof tag - 1; i < len && line[i] != ']' && k + 1 < NAME_MAX_; i++)
			out[k++] = line[i];
		out[k] = 0;
		return;
	}
}

static int starts(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(p, prefix, n);
}

/* Fill each query from /proc/self/smaps, reading no further than the last
 * of them. -1 if the file cannot be read. */
static int read_attrs(struct query *q, int nq)
{
	static char buf[65536];
	struct attrs cur;
	struct zc_vma v = { 0 };
	uintptr_t last = 0;
	size_t have = 0;
	int fd, in = 0, done = 0;

	for (int k = 0; k < nq; k++) {
		q[k].covered = 0;
		q[k].n = q[k].mixed = 0;
		if (q[k].end > last)
			last = q[k].end;
	}
	fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (!done) {
		/* Small reads: the kernel writes each mapping's record, a page
		 * table walk, as the reader asks, and a large read would have
		 * it walk dozens past the last one wanted. */
		size_t want = sizeof buf - have < SMAPS_READ ? sizeof buf - have : SMAPS_READ;
		ssize_t r = syscall(SYS_read, fd, buf + have, want);
		char *line = buf, *nl, *stop;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		stop = buf + have;
		while (!done && (nl = memchr(line, '\n', (size_t)(stop - line)))) {
			size_t len = (size_t)(nl - line);
			struct zc_vma h;

			if (!zc_maps_parse_line(line, len, &h)) {
				/* A mapping's first line. */
				if (h.start >= last) {
					done = 1;
					break;
				}
				v = h;
				in = 0;
				for (int k = 0; k < nq; k++)
					in |= v.start < q[k].end && q[k].start < v.end;
				if (in) {
					memset(&cur, 0, sizeof cur);
					cur.pkey = -1;
					read_name(line, len, cur.name);
					for (int k = 0; k < nq; k++)
						if (v.start < q[k].end && q[k].start < v.end) {
							read_policy(v.start > q[k].start ? v.start
											 : q[k].start,
								    &cur);
							break;
						}
				}
			} else if (in && starts(line, len, "ProtectionKey:")) {
				int key = 0;

				for (size_t i = 14; i < len; i++)
					if (line[i] >= '0' && line[i] <= '9')
						key = key * 10 + (line[i] - '0');
				cur.pkey = key;
			} else if (in && starts(line, len, "VmFlags:")) {
				/* A mapping's last line. */
				zc_vmflags_parse(line + 8, len - 8, &cur.f);
				vmflags_clear(&cur.f, "rd");
				vmflags_clear(&cur.f, "wr");
				vmflags_clear(&cur.f, "sd");
				for (int k = 0; k < nq; k++) {
					uintptr_t s, e;

					if (!(v.start < q[k].end && q[k].start < v.end))
						continue;
					s = v.start > q[k].start ? v.start : q[k].start;
					e = v.end < q[k].end ? v.end : q[k].end;
					q[k].covered += e - s;
					if (!q[k].n++)
						q[k].a = cur;
					else if (!attrs_same(&q[k].a, &cur) || q[k].a.pkey != cur.pkey)
						q[k].mixed = 1;
				}
				in = 0;
			}
			line = nl + 1;
		}
		have = (size_t)(stop - line);
		memmove(buf, line, have);
		if (have == sizeof buf)   /* a line longer than the buffer */
			have = 0;
	}
	syscall(SYS_close, fd);
	return 0;
}

static int query_ok(const struct query *q)
{
	return q->n > 0 && !q->mixed && q->covered == q->end - q->start &&
	       q->a.policy != -2;
}

/* Can this thread read memory with protection key k? */
static int key_readable(int k)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned eax, edx, ecx = 0;

	/* RDPKRU; only reached when the kernel shows protection keys, which
	 * it does only with them enabled (otherwise the instruction faults). */
	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(ecx));
	return k >= 0 && k < 16 && !((eax >> (2 * k)) & 1);   /* access-disable bit */
#else
	(void)k;
	return 0;
#endif
}

/* madvise pairs: a code, the advice that sets it and the one that
 * clears it (-1: none can). */
static const struct {
	char code[3];
	int set, clear;
} advices[] = {
	{ "wf", MADV_WIPEONFORK, MADV_KEEPONFORK },
	{ "dc", MADV_DONTFORK, MADV_DOFORK },
	{ "dd", MADV_DONTDUMP, MADV_DODUMP },
	{ "mg", MADV_MERGEABLE, MADV_UNMERGEABLE },
	{ "hg", MADV_HUGEPAGE, -1 },
	{ "nh", MADV_NOHUGEPAGE, -1 },
	{ "sr", MADV_SEQUENTIAL, MADV_NORMAL },
	{ "rr", MADV_RANDOM, MADV_NORMAL },
};

/* Give [tmp, tmp + len), whose attributes are have, those of want. Each
 * call may fail (no KSM, the mlock limit, ...): the caller reads the
 * result again and judges. */
static void give(uintptr_t tmp, size_t len, const struct attrs *want, const struct attrs *have)
{
	void *p = (void *)tmp;

	if (zc_vmflags_has(&want->f, "nr") != zc_vmflags_has(&have->f, "nr"))
		/* MAP_NORESERVE (and so no "ac") is chosen at mmap time: map
		 * tmp again, still empty. */
		syscall(SYS_mmap, p, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
				(zc_vmflags_has(&want->f, "nr") ? MAP_NORESERVE : 0),
			-1, 0);
	for (size_t i = 0; i < sizeof advices / sizeof advices[0]; i++)
		if (!zc_vmflags_has(&want->f, advices[i].code) &&
		    zc_vmflags_has(&have->f, advices[i].code) && advices[i].clear >= 0)
			syscall(SYS_madvise, p, len, advices[i].clear);
	for (size_t i = 0; i < sizeof advices / sizeof advices[0]; i++)
		if (zc_vmflags_has(&want->f, advices[i].code))
			syscall(SYS_madvise, p, len, advices[i].set);
	if (zc_vmflags_has(&want->f, "lo")) {
		if (syscall(SYS_mlock2, p, len,
			    zc_vmflags_has(&want->f, "lf") ? MLOCK_ONFAULT : 0) &&
		    errno == ENOSYS && !zc_vmflags_has(&want->f, "lf"))
			syscall(SYS_mlock, p, len);   /* a kernel (or valgrind) without mlock2 */
	}
	else if (zc_vmflags_has(&have->f, "lo"))   /* mlockall(MCL_FUTURE) locked it */
		syscall(SYS_munlock, p, len);
	if (strcmp(want->name, have->name))
		syscall(SYS_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, p, len,
			want->name[0] ? want->name : NULL);
	if (want->policy >= 0 &&
	    (want->policy != have->policy || memcmp(want->nodes, have->nodes, sizeof want->nodes)))
		/* mbind reads maxnode - 1 bits. */
		syscall(SYS_mbind, p, len, (unsigned long)want->policy,
			want->policy == MPOL_DEFAULT_ ? NULL : want->nodes,
			want->policy == MPOL_DEFAULT_ ? 0ul : (unsigned long)NODE_BITS + 1, 0u);
}

static int pending_key = -1;   /* under the lock: from match to finish */

int zc_vmattr_match(uintptr_t start, uintptr_t tmp, size_t len)
{
	struct query q[2] = { { .start = start, .end = start + len },
			      { .start = tmp, .end = tmp + len } };
	int r = ZC_VMATTR_SAME;

	pending_key = -1;
	if (read_attrs(q, 2) || !query_ok(&q[0]) || !query_ok(&q[1]))
		return ZC_VMATTR_REFUSED;
	if (q[0].a.pkey != q[1].a.pkey) {
		/* The copy reads the original: this thread needs its key's
		 * access (a fault here, in the handler, could not be taken). */
		if (!key_readable(q[0].a.pkey))
			return ZC_VMATTR_REFUSED;
		pending_key = q[0].a.pkey;
		r = ZC_VMATTR_CARRIED;
	}
	if (attrs_same(&q[0].a, &q[1].a))
		return r;
	give(tmp, len, &q[0].a, &q[1].a);
	if (read_attrs(&q[1], 1) || !query_ok(&q[1]) || !attrs_same(&q[0].a, &q[1].a)) {
		pending_key = -1;
		return ZC_VMATTR_REFUSED;
	}
	return ZC_VMATTR_CARRIED;
}

int zc_vmattr_finish(uintptr_t tmp, size_t len)
{
	int k = pending_key;

	pending_key = -1;
	if (k < 0)
		return 0;
	return syscall(SYS_pkey_mprotect, (void *)tmp, len, PROT_READ | PROT_WRITE, k) ? -1 : 0;
}
