/*
 * vma.c - /proc/self/maps, parsed into a cache (see vma.h).
 *
 * The cache lives in memory the shim maps itself and is read with raw
 * open/read: it is consulted on the send path, which may run while the
 * program's allocator is busy in another thread.
 */
#include "vma.h"
#include "shim.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define VMA_MAX 65536            /* vm.max_map_count's default is 65530 */
#define VMA_REFRESH_GAP_NS 20000000ull

static struct zc_vma *vmas;      /* sorted by start */
static uint32_t nvmas;
static int valid;
static uint64_t last_refresh_ns;
static unsigned invalidations;   /* bumped without the lock by wrappers */
static unsigned seen_invalidations;
/* Odd while refresh() rewrites the cache: a reader without the lock
 * (zc_vma_copyable_racy) trusts what it read only if the count was even
 * and the same before and after. */
static unsigned cache_seq;
/* The executable (read_exe, at each refresh): its private mappings inside
 * the file are marked ZC_VMA_EXE. */
static struct zc_exe_file exe;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *parse_hex(const char *p, const char *end, uintptr_t *out)
{
	uintptr_t v = 0;
	const char *start = p;
	int d;

	while (p < end && (d = hexval(*p)) >= 0) {
		v = (v << 4) | (uintptr_t)d;
		p++;
	}
	*out = v;
	return p == start ? NULL : p;
}

static const char *skip_field(const char *p, const char *end)
{
	while (p < end && *p != ' ')
		p++;
	while (p < end && *p == ' ')
		p++;
	return p;
}

static int starts(const char *p, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(end - p) >= n && !memcmp(p, prefix, n);
}

/* A decimal number ending at a space or the end: the inode field. */
static const char *parse_dec(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = p;

	while (p < end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p++ - '0');

		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return NULL;
		v = v * 10 + d;
	}
	if (p == s || (p < end && *p != ' '))
		return NULL;
	*out = v;
	return p;
}

int zc_vma_exe_inside(const struct zc_vma *v, const struct zc_exe_file *e, size_t page)
{
	uint64_t limit = (e->size + page - 1) / page * page, len = v->end - v->start;

	return e->inode && v->inode == e->inode && v->dev_major == e->dev_major &&
	       v->dev_minor == e->dev_minor &&
	       !(v->flags & (ZC_VMA_SHARED | ZC_VMA_ANON | ZC_VMA_SPECIAL)) &&
	       v->offset <= limit && len <= limit - v->offset;
}

int zc_maps_parse_line(const char *line, size_t len, struct zc_vma *out)
{
	const char *p = line, *end = line + len, *dev, *inode, *path, *q;
	uintptr_t start, stop, off, maj, min;
	uint64_t ino;

	if (!(p = parse_hex(p, end, &start)) || p >= end || *p != '-')
		return -1;
	if (!(p = parse_hex(p + 1, end, &stop)) || p >= end || *p != ' ')
		return -1;
	p++;
	if (end - p < 4)
		return -1;
	out->start = start;
	out->end = stop;
	out->flags = 0;
	if (p[0] == 'r') out->flags |= ZC_VMA_READ;
	if (p[1] == 'w') out->flags |= ZC_VMA_WRITE;
	if (p[2] == 'x') out->flags |= ZC_VMA_EXEC;
	if (p[3] == 's') out->flags |= ZC_VMA_SHARED;
	else if (p[3] != 'p') return -1;
	p = skip_field(p, end);          /* perms */
	if (!parse_hex(p, end, &off))
		return -1;
	p = skip_field(p, end);          /* offset */
	dev = p;
	if (!(q = parse_hex(dev, end, &maj)) || q >= end || *q != ':' ||
	    !parse_hex(q + 1, end, &min))
		return -1;
	p = skip_field(p, end);          /* dev */
	inode = p;
	if (!parse_dec(inode, end, &ino))
		return -1;
	p = skip_field(p, end);          /* inode */
	out->offset = off;
	out->dev_major = (unsigned)maj;
	out->dev_minor = (unsigned)min;
	out->inode = ino;
	path = p;
	if (ino == 0 && starts(dev, end, "00:00")) {
		if (path == end || starts(path, end, "[heap]") || starts(path, end, "[anon:"))
			out->flags |= ZC_VMA_ANON;
		else if (starts(path, end, "[stack"))
			out->flags |= ZC_VMA_ANON | ZC_VMA_STACK;
		else if (*path == '[')
			out->flags |= ZC_VMA_SPECIAL;
	}
	return start < stop ? 0 : -1;
}

int zc_vma_flags_eligible(unsigned flags)
{
	return (flags & (ZC_VMA_READ | ZC_VMA_WRITE | ZC_VMA_EXEC | ZC_VMA_SHARED |
			 ZC_VMA_ANON | ZC_VMA_STACK | ZC_VMA_SPECIAL)) ==
	       (ZC_VMA_READ | ZC_VMA_WRITE | ZC_VMA_ANON);
}

/* Mapping flags are cached as /proc/self/maps showed them, except the
 * read-only pieces that were the guard's own: cached writable (see
 * refresh). */

int zc_vma_init(void)
{
	void *p = zc_sys_mmap(NULL, VMA_MAX * sizeof(struct zc_vma), PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	vmas = p;
	return 0;
}

/* The executable, as the kernel names it now: read at every refresh, as
 * a process may change it (prctl PR_SET_MM_EXE_FILE, which lets the old
 * file be written again). Unknown: no mapping is marked, and its memory
 * is read through the kernel. */
static void read_exe(void)
{
	struct stat st;

	memset(&exe, 0, sizeof exe);
	if (!syscall(SYS_newfstatat, AT_FDCWD, "/proc/self/exe", &st, 0) && S_ISREG(st.st_mode) &&
	    st.st_size > 0) {
		exe.dev_major = major(st.st_dev);
		exe.dev_minor = minor(st.st_dev);
		exe.size = (uint64_t)st.st_size;
		exe.inode = (uint64_t)st.st_ino;
	}
}

void zc_vma_invalidate(void)
{
	__atomic_fetch_add(&invalidations, 1, __ATOMIC_RELEASE);
}

static void refresh(const struct zc_ext_table *t)
{
	static char buf[65536];
	size_t have = 0;
	/* (Odd before any change; made odd, not bumped: a fork child may
	 * have inherited an odd count from a refresh its parent was in.) */
	unsigned seq = cache_seq | 1;
	int fd;

	__atomic_store_n(&cache_seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	nvmas = 0;
	valid = 0;
	last_refresh_ns = zc_now_ns();
	seen_invalidations = __atomic_load_n(&invalidations, __ATOMIC_ACQUIRE);
	read_exe();
	fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		__atomic_store_n(&cache_seq, seq + 1, __ATOMIC_RELEASE);
		return;
	}
	for (;;) {
		ssize_t r = syscall(SYS_read, fd, buf + have, sizeof buf - have);
		char *line = buf, *nl, *stop;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		stop = buf + have;
		while ((nl = memchr(line, '\n', (size_t)(stop - line)))) {
			struct zc_vma v;

			if (nvmas < VMA_MAX && !zc_maps_parse_line(line, (size_t)(nl - line), &v)) {
				struct zc_ext_range gap;

				/* A read-only private anonymous mapping the guard
				 * covers is read-write memory the guard protects;
				 * it stays known as such after the guard lets go
				 * (the program's own mprotect drops the cache). */
				if ((v.flags & (ZC_VMA_READ | ZC_VMA_WRITE | ZC_VMA_EXEC | ZC_VMA_SHARED |
						ZC_VMA_ANON | ZC_VMA_STACK | ZC_VMA_SPECIAL)) ==
					    (ZC_VMA_READ | ZC_VMA_ANON) &&
				    zc_ext_uncovered(t, v.start, v.end, &gap, 1) == 0)
					v.flags |= ZC_VMA_WRITE;
				if (zc_vma_exe_inside(&v, &exe, zc_page))
					v.flags |= ZC_VMA_EXE;
				vmas[nvmas++] = v;
			}
			line = nl + 1;
		}
		have = (size_t)(stop - line);
		memmove(buf, line, have);
		if (have == sizeof buf)   /* a line longer than the buffer */
			have = 0;
	}
	syscall(SYS_close, fd);
	valid = nvmas > 0;
	__atomic_store_n(&cache_seq, seq + 1, __ATOMIC_RELEASE);
}

/* The index of the mapping holding a, or -1. */
static int find(uintptr_t a)
{
	uint32_t lo = 0, hi = nvmas;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vmas[mid].end <= a)
			lo = mid + 1;
		else if (vmas[mid].start > a)
			hi = mid;
		else
			return (int)mid;
	}
	return -1;
}

/* 1 eligible, 0 not, -1 the cache does not know the range, -2 read-only
 * anonymous memory the guard did not protect (the mapping may have changed
 * since the cache was made). */
static int lookup(uintptr_t start, uintptr_t end, const struct zc_ext_table *t)
{
	uintptr_t p = start;

	while (p < end) {
		int i = find(p);
		uintptr_t stop;

		if (i < 0)
			return -1;
		stop = vmas[i].end < end ? vmas[i].end : end;
		if (!zc_vma_flags_eligible(vmas[i].flags)) {
			unsigned f = vmas[i].flags;

			/* Read-only private anonymous pages are ours when the
			 * guard covers them; if not, the mapping changed after
			 * the cache was made (the program sent from it, so it
			 * is readable now). */
			if ((f & (ZC_VMA_SHARED | ZC_VMA_ANON | ZC_VMA_EXEC | ZC_VMA_STACK |
				  ZC_VMA_SPECIAL)) == ZC_VMA_ANON &&
			    !(f & ZC_VMA_WRITE)) {
				struct zc_ext_range gap;

				if ((f & ZC_VMA_READ) && zc_ext_uncovered(t, p, stop, &gap, 1) == 0) {
					p = stop;
					continue;
				}
				return -2;
			}
			return 0;
		}
		p = stop;
	}
	return 1;
}

/* Does the cache still describe the mappings (no program call changed
 * them since it was read)? */
static int cache_current(void)
{
	return valid && seen_invalidations == __atomic_load_n(&invalidations, __ATOMIC_ACQUIRE);
}

int zc_vma_eligible(uintptr_t start, uintptr_t end, const struct zc_ext_table *t)
{
	int r = -1;

	if (!vmas)
		return 0;
	if (cache_current())
		r = lookup(start, end, t);
	if (r >= 0)
		return r;
	/* A range the cache does not know (new heap, a new mapping) is read
	 * again at once. Read-only anonymous memory may be the program's own
	 * choice: it is re-read at most every VMA_REFRESH_GAP_NS. */
	if (r == -2 && zc_now_ns() - last_refresh_ns < VMA_REFRESH_GAP_NS)
		return 0;
	refresh(t);
	r = lookup(start, end, t);
	return r > 0;
}

/* 1 copyable, 0 not, -1 the cache does not know the range. */
/* Loads may read a mapping of these flags (zc_vma_copyable): private,
 * readable, and anonymous or the executable's inside its file. */
static int flags_copyable(unsigned f)
{
	return (f & (ZC_VMA_READ | ZC_VMA_SHARED | ZC_VMA_SPECIAL)) == ZC_VMA_READ &&
	       (f & (ZC_VMA_ANON | ZC_VMA_EXE));
}

static int lookup_copyable(uintptr_t start, uintptr_t end)
{
	for (uintptr_t p = start; p < end;) {
		int i = find(p);

		if (i < 0)
			return -1;
		if (!flags_copyable(vmas[i].flags))
			return 0;
		p = vmas[i].end;
	}
	return 1;
}

int zc_vma_copyable(uintptr_t start, uintptr_t end, const struct zc_ext_table *t)
{
	int r = -1;

	if (!vmas)
		return 0;
	if (start >= end)
		return 1;
	if (cache_current())
		r = lookup_copyable(start, end);
	if (r >= 0)
		return r;
	refresh(t);
	return lookup_copyable(start, end) > 0;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

int zc_vma_copyable_racy(uintptr_t start, uintptr_t end)
{
	unsigned seq = __atomic_load_n(&cache_seq, __ATOMIC_ACQUIRE);
	uint32_t n = LOAD(nvmas);
	int r = 1;

	if (!vmas || (seq & 1) || !LOAD(valid) || n > VMA_MAX ||
	    LOAD(seen_invalidations) != __atomic_load_n(&invalidations, __ATOMIC_ACQUIRE))
		return -1;
	for (uintptr_t p = start; p < end && r == 1;) {
		uint32_t lo = 0, hi = n;
		uintptr_t vs = 0, ve = 0;
		unsigned f = 0;

		while (lo < hi) {   /* (find(), every load bounded) */
			uint32_t mid = lo + (hi - lo) / 2;

			vs = LOAD(vmas[mid].start);
			ve = LOAD(vmas[mid].end);
			if (ve <= p) {
				lo = mid + 1;
			} else if (vs > p) {
				hi = mid;
			} else {
				f = LOAD(vmas[mid].flags);
				break;
			}
		}
		if (lo >= hi || ve <= p)
			r = -1;   /* (not in the cache: the locked path reads the maps again) */
		else if (!flags_copyable(f))
			r = 0;
		p = ve;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&cache_seq, __ATOMIC_RELAXED) == seq ? r : -1;
}

int zc_vma_span(uintptr_t a, uintptr_t *start, uintptr_t *end, int fresh)
{
	static const struct zc_ext_table none;   /* bounds as the kernel has them */
	int i = -1;

	if (!vmas)
		return -1;
	if (!fresh && cache_current())
		i = find(a);
	if (i < 0) {
		refresh(&none);
		i = find(a);
	}
	if (i < 0)
		return -1;
	*start = vmas[i].start;
	*end = vmas[i].end;
	return 0;
}

int zc_vma_flags_at(uintptr_t a, unsigned *flags)
{
	int i = vmas && valid ? find(a) : -1;

	if (i < 0)
		return -1;
	*flags = vmas[i].flags;
	return 0;
}

void zc_vma_child_unprotect(uintptr_t start, uintptr_t end, int first)
{
	static const struct zc_ext_table none;   /* no range is the guard's here */
	uint32_t lo = 0, hi;

	if (!vmas || start >= end || (start | end) & (zc_page - 1))
		return;
	if (first)
		refresh(&none);
	hi = nvmas;
	while (lo < hi) {   /* the first mapping ending after start */
		uint32_t mid = lo + (hi - lo) / 2;

		if (vmas[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < nvmas && vmas[i].start < end; i++) {
		uintptr_t a = vmas[i].start > start ? vmas[i].start : start;
		uintptr_t b = vmas[i].end < end ? vmas[i].end : end;

		if ((vmas[i].flags & (ZC_VMA_READ | ZC_VMA_WRITE | ZC_VMA_EXEC | ZC_VMA_SHARED |
				      ZC_VMA_ANON | ZC_VMA_STACK | ZC_VMA_SPECIAL)) ==
		    (ZC_VMA_READ | ZC_VMA_ANON))
			syscall(SYS_mprotect, (void *)a, (size_t)(b - a), PROT_READ | PROT_WRITE);
	}
}
