/*
 * check_vma.c - which memory the guard may take over (vma.c):
 * zc_maps_parse_line on real-looking /proc/PID/maps lines (anonymous,
 * file, [heap], [stack], shared, [vdso], [anon:...], executable, guard
 * pages) and on malformed ones, reading no byte past len;
 * zc_vma_flags_eligible; and zc_vma_eligible against this process's own
 * /proc/self/maps for fresh private, read-only and shared mappings.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vma.h"
#include "vmattr.h"
#include "suites.h"

enum { R = ZC_VMA_READ, W = ZC_VMA_WRITE, X = ZC_VMA_EXEC, S = ZC_VMA_SHARED,
       ANON = ZC_VMA_ANON, STACK = ZC_VMA_STACK, SPECIAL = ZC_VMA_SPECIAL };

static const struct {
	const char *line;
	uintptr_t start, end;
	unsigned flags;
	int eligible;
} good[] = {
	{ "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ",
	  0x7f0000000000, 0x7f0000021000, R | W | ANON, 1 },
	{ "7f0000000000-7f0000021000 rw-p 00000000 00:00 0",
	  0x7f0000000000, 0x7f0000021000, R | W | ANON, 1 },
	{ "555555554000-555555556000 r--p 00000000 08:01 1234   /usr/bin/cat",
	  0x555555554000, 0x555555556000, R, 0 },
	{ "7f4000000000-7f4000001000 rw-p 00002000 08:01 5678                       /usr/lib/libc.so.6",
	  0x7f4000000000, 0x7f4000001000, R | W, 0 },
	{ "555555558000-555555579000 rw-p 00000000 00:00 0                          [heap]",
	  0x555555558000, 0x555555579000, R | W | ANON, 1 },
	{ "7ffc12340000-7ffc12361000 rw-p 00000000 00:00 0                          [stack]",
	  0x7ffc12340000, 0x7ffc12361000, R | W | ANON | STACK, 0 },
	{ "7f6000000000-7f6000800000 rw-p 00000000 00:00 0                          [stack:4242]",
	  0x7f6000000000, 0x7f6000800000, R | W | ANON | STACK, 0 },
	{ "7f1234560000-7f1234580000 rw-s 00000000 00:01 1025                       /dev/zero (deleted)",
	  0x7f1234560000, 0x7f1234580000, R | W | S, 0 },
	{ "7ffc123f0000-7ffc123f2000 r-xp 00000000 00:00 0                          [vdso]",
	  0x7ffc123f0000, 0x7ffc123f2000, R | X | SPECIAL, 0 },
	{ "7ffc123ec000-7ffc123f0000 r--p 00000000 00:00 0                          [vvar]",
	  0x7ffc123ec000, 0x7ffc123f0000, R | SPECIAL, 0 },
	{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
	  0xffffffffff600000, 0xffffffffff601000, X | SPECIAL, 0 },
	{ "7f2000000000-7f2000001000 rw-p 00000000 00:00 0                          [anon:foo]",
	  0x7f2000000000, 0x7f2000001000, R | W | ANON, 1 },
	{ "7f3000000000-7f3000010000 rwxp 00000000 00:00 0 ",
	  0x7f3000000000, 0x7f3000010000, R | W | X | ANON, 0 },
	{ "7f5000000000-7f5000001000 ---p 00000000 00:00 0 ",
	  0x7f5000000000, 0x7f5000001000, ANON, 0 },
	{ "7f5000001000-7f5000002000 r--p 00000000 00:00 0 ",
	  0x7f5000001000, 0x7f5000002000, R | ANON, 0 },
	{ "7f7000000000-7f7000001000 rw-s 00000000 00:05 3   /SYSV00000000 (deleted)",
	  0x7f7000000000, 0x7f7000001000, R | W | S, 0 },
	{ "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon",
	  0x400000, 0x452000, R | X, 0 },
};

static const char *bad[] = {
	"",
	"hello",
	"7f00-7f10",
	"7f00-7f10 ",
	"7f00-7f10 rw",
	"7f00-7f10 rw-",
	"7f00-7f10 rw-q 00000000 00:00 0",
	"7f00-7f10 rw-  00000000 00:00 0",
	"7f10-7f00 rw-p 00000000 00:00 0",
	"7f00-7f00 rw-p 00000000 00:00 0",
	"7f00 7f10 rw-p 00000000 00:00 0",
	"7f00--7f10 rw-p 00000000 00:00 0",
	"-7f10 rw-p 00000000 00:00 0",
	"7f00-7f10\trw-p 00000000 00:00 0",
	"7f00-7f10 rw-p 00000000 00:00",
	"7f00-7f10 rw-p 00000000 00:00 ",
	"7f00-7f10 rw-p 00000000 00:00 x",
	"7f00-7f10 rw-p",
	"g7f00-7f10 rw-p 00000000 00:00 0",
};

/* A copy of s that ends exactly at an inaccessible page, so a parser
 * reading past len faults. */
static char *fence;
static size_t fence_page;

static const char *fenced(const char *s, size_t len)
{
	if (!fence) {
		fence_page = (size_t)sysconf(_SC_PAGESIZE);
		fence = mmap(NULL, 2 * fence_page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(fence, MAP_FAILED);
		ck_assert_int_eq(mprotect(fence + fence_page, fence_page, PROT_NONE), 0);
	}
	ck_assert_uint_le(len, fence_page);
	memcpy(fence + fence_page - len, s, len);
	return fence + fence_page - len;
}

START_TEST(test_parse_good)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct zc_vma v;
		size_t len = strlen(good[i].line);

		memset(&v, 0xEE, sizeof v);
		ck_assert_msg(zc_maps_parse_line(fenced(good[i].line, len), len, &v) == 0,
			      "rejected: %s", good[i].line);
		ck_assert_msg(v.start == good[i].start && v.end == good[i].end,
			      "%s: range %#lx-%#lx", good[i].line, (unsigned long)v.start,
			      (unsigned long)v.end);
		ck_assert_msg(v.flags == good[i].flags, "%s: flags %#x, expected %#x",
			      good[i].line, v.flags, good[i].flags);
		ck_assert_msg(zc_vma_flags_eligible(v.flags) == good[i].eligible,
			      "%s: eligible %d", good[i].line, zc_vma_flags_eligible(v.flags));
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct zc_vma v;
		size_t len = strlen(bad[i]);

		ck_assert_msg(zc_maps_parse_line(fenced(bad[i], len), len, &v) == -1,
			      "accepted: \"%s\"", bad[i]);
	}
}
END_TEST

/* The line is what len says, whatever follows it in memory. */
START_TEST(test_parse_len)
{
	static const char heap[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [heap]";
	static const char file[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 01 /x";
	static const char cut[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n"
				  "7f0000001000-7f0000002000 r--p 00000000 08:01 7 /x";
	struct zc_vma v;

	ck_assert_int_eq(zc_maps_parse_line(heap, strlen(heap), &v), 0);
	ck_assert_uint_eq(v.flags, R | W | ANON);
	/* Cut before "[heap]": no path, still anonymous. */
	ck_assert_int_eq(zc_maps_parse_line(heap, strlen(heap) - 6, &v), 0);
	ck_assert_uint_eq(v.flags, R | W | ANON);
	/* Inode 1 with a path: not anonymous. Cut to inode "0": anonymous. */
	ck_assert_int_eq(zc_maps_parse_line(file, strlen(file), &v), 0);
	ck_assert_uint_eq(v.flags, R | W);
	ck_assert_int_eq(zc_maps_parse_line(file, strlen(file) - 4, &v), 0);
	ck_assert_uint_eq(v.flags, R | W | ANON);
	/* Two lines in one buffer: only the first is read. */
	ck_assert_int_eq(zc_maps_parse_line(cut, (size_t)(strchr(cut, '\n') - cut), &v), 0);
	ck_assert_uint_eq(v.end, 0x7f0000001000);
	ck_assert_uint_eq(v.flags, R | W | ANON);
	/* Cut inside the end address. */
	ck_assert_int_eq(zc_maps_parse_line(heap, 20, &v), -1);
	ck_assert_int_eq(zc_maps_parse_line(heap, 0, &v), -1);
}
END_TEST

START_TEST(test_flags_eligible)
{
	ck_assert(zc_vma_flags_eligible(R | W | ANON));
	ck_assert(!zc_vma_flags_eligible(R | W));
	ck_assert(!zc_vma_flags_eligible(R | ANON));
	ck_assert(!zc_vma_flags_eligible(W | ANON));
	ck_assert(!zc_vma_flags_eligible(R | W | ANON | X));
	ck_assert(!zc_vma_flags_eligible(R | W | ANON | S));
	ck_assert(!zc_vma_flags_eligible(R | W | ANON | STACK));
	ck_assert(!zc_vma_flags_eligible(R | W | ANON | SPECIAL));
	ck_assert(!zc_vma_flags_eligible(0));
	/* Bits outside the known set do not matter. */
	ck_assert(zc_vma_flags_eligible(R | W | ANON | 0x1000));
}
END_TEST

/* The real /proc/self/maps, for mappings made here. */
START_TEST(test_eligible_live)
{
	static struct zc_ext v[4];
	static struct zc_ext_table t;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *rw, *ro, *sh;
	int on_stack = 0;
	uintptr_t sp = (uintptr_t)&on_stack & ~(uintptr_t)(pg - 1);

	memset(v, 0, sizeof v);
	memset(&t, 0, sizeof t);
	t.v = v;
	t.cap = 4;
	ck_assert_int_eq(zc_vma_init(), 0);
	rw = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(rw, MAP_FAILED);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(rw, 1, 4 * pg);
	memset(sh, 1, 4 * pg);
	zc_vma_invalidate();

	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 1);
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw + pg, (uintptr_t)rw + 2 * pg, &t), 1);
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)ro, (uintptr_t)ro + 4 * pg, &t), 0);
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)sh, (uintptr_t)sh + 4 * pg, &t), 0);
	/* The main thread's stack is not the guard's to take. */
	ck_assert_int_eq(zc_vma_eligible(sp, sp + pg, &t), 0);
	/* The library's own code is file memory. */
	{
		uintptr_t code = (uintptr_t)&zc_vma_eligible & ~(uintptr_t)(pg - 1);

		ck_assert_int_eq(zc_vma_eligible(code, code + pg, &t), 0);
	}

	/* Pages the guard made read-only count as writable, if the table
	 * lists them; only part of them listed is not enough. */
	ck_assert_int_eq(mprotect(rw + pg, 2 * pg, PROT_READ), 0);
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 0);
	v[0].start = (uintptr_t)rw + pg;
	v[0].end = (uintptr_t)rw + 2 * pg;
	v[0].head = 1;
	t.n = 1;
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 0);
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 2 * pg, &t), 1);
	v[1].start = (uintptr_t)rw + 2 * pg;
	v[1].end = (uintptr_t)rw + 3 * pg;
	t.n = 2;
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 1);
	/* The plain read-only mapping is not listed: still not eligible. */
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)ro, (uintptr_t)ro + pg, &t), 0);

	/* Gone: not eligible. */
	ck_assert_int_eq(munmap(rw, 4 * pg), 0);
	t.n = 0;
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_eligible((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 0);
	munmap(ro, 4 * pg);
	munmap(sh, 4 * pg);
}
END_TEST

/* The lock-free read of the cache (a kept send's copy) agrees with the
 * locked one where the cache is current, and knows nothing where it is
 * not: after a mapping change, or for a range the cache never saw. */
START_TEST(test_copyable_racy)
{
	static struct zc_ext_table t;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char path[] = "/tmp/zcshim-vma.XXXXXX";
	int fd = mkstemp(path);
	char *rw, *ro, *sh, *fm, *late;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, (off_t)(4 * pg)), 0);
	ck_assert_int_eq(zc_vma_init(), 0);
	rw = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fm = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert(rw != MAP_FAILED && ro != MAP_FAILED && sh != MAP_FAILED && fm != MAP_FAILED);
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)rw, (uintptr_t)rw + pg), -1);

	/* The locked look-up reads the maps again; then both agree. */
	ck_assert_int_eq(zc_vma_copyable((uintptr_t)rw, (uintptr_t)rw + 4 * pg, &t), 1);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)rw, (uintptr_t)rw + 4 * pg), 1);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)rw + 5, (uintptr_t)rw + 105), 1);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)ro, (uintptr_t)ro + 4 * pg), 1);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)sh, (uintptr_t)sh + pg), 0);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)fm, (uintptr_t)fm + 5), 0);
	ck_assert_int_eq(zc_vma_copyable((uintptr_t)fm, (uintptr_t)fm + 5, &t), 0);
	/* The stack is anonymous memory. This program's code and constants
	 * lie in its own executable, inside the file: loads may read them. */
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)path, (uintptr_t)path + 1), 1);
	{
		uintptr_t code = (uintptr_t)&zc_vma_copyable_racy;
		static const char end[] = "END\r\n";

		ck_assert_int_eq(zc_vma_copyable_racy(code, code + 5), 1);
		ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)end, (uintptr_t)end + 5), 1);
	}
	/* The executable mapped again, past its end: the pages inside the
	 * file may be loaded, the ones past it not (SIGBUS). */
	{
		int ef = open("/proc/self/exe", O_RDONLY);
		struct stat st;
		size_t in, len;
		char *em;

		ck_assert_int_ge(ef, 0);
		ck_assert_int_eq(fstat(ef, &st), 0);
		in = ((size_t)st.st_size + pg - 1) / pg * pg;
		len = in + 2 * pg;
		em = mmap(NULL, len, PROT_READ, MAP_PRIVATE, ef, 0);
		ck_assert(em != MAP_FAILED);
		zc_vma_invalidate();
		ck_assert_int_eq(zc_vma_copyable((uintptr_t)em, (uintptr_t)em + 5, &t), 0);
		ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)em + in, (uintptr_t)em + in + 5), 0);
		munmap(em, len);
		/* Only inside the file: the same mapping, cut at its end. */
		em = mmap(NULL, in, PROT_READ, MAP_PRIVATE, ef, 0);
		ck_assert(em != MAP_FAILED);
		zc_vma_invalidate();
		ck_assert_int_eq(zc_vma_copyable((uintptr_t)em, (uintptr_t)em + in, &t), 1);
		ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)em + in - 5, (uintptr_t)em + in), 1);
		munmap(em, in);
		close(ef);
		zc_vma_invalidate();
	}

	/* A mapping made since: the cache does not know it, and a change
	 * seen (the wrappers call zc_vma_invalidate) makes it unknown. */
	munmap(sh, 4 * pg);
	late = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(late != MAP_FAILED);
	zc_vma_invalidate();
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)rw, (uintptr_t)rw + pg), -1);
	ck_assert_int_eq(zc_vma_copyable((uintptr_t)late, (uintptr_t)late + pg, &t), 1);
	ck_assert_int_eq(zc_vma_copyable_racy((uintptr_t)late, (uintptr_t)late + pg), 1);
	munmap(late, 4 * pg);
	munmap(rw, 4 * pg);
	munmap(ro, 4 * pg);
	munmap(fm, 4 * pg);
	close(fd);
}
END_TEST

/* The file fields: offset and device in hex, inode in decimal. */
START_TEST(test_parse_file)
{
	static const char bin[] = "00400000-00452000 r-xp 0001a000 fd:01 173521      /usr/bin/x";
	static const char big[] = "7f00-7f10 r--p 00000000 103:02 18446744073709551615 /y";
	static const char over[] = "7f00-7f10 r--p 00000000 08:02 18446744073709551616 /y";
	struct zc_vma v;

	ck_assert_int_eq(zc_maps_parse_line(bin, strlen(bin), &v), 0);
	ck_assert_uint_eq(v.offset, 0x1a000);
	ck_assert_uint_eq(v.dev_major, 0xfd);
	ck_assert_uint_eq(v.dev_minor, 1);
	ck_assert_uint_eq(v.inode, 173521);
	ck_assert_int_eq(zc_maps_parse_line(big, strlen(big), &v), 0);
	ck_assert_uint_eq(v.dev_major, 0x103);
	ck_assert(v.inode == UINT64_MAX);
	ck_assert_int_eq(zc_maps_parse_line(over, strlen(over), &v), -1);
}
END_TEST

/* A private mapping of the executable, wholly inside the file (its end
 * rounded up to a page), and nothing else. */
START_TEST(test_exe_inside)
{
	const struct zc_exe_file exe = { 8, 2, 173521, 0x4001 };   /* inside: up to 0x5000 */
	const struct zc_exe_file unknown = { 0, 0, 0, 0x4001 };
	struct zc_vma v = { 0x10000, 0x14000, R, 8, 2, 0x1000, 173521 };

	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 1);
	v.end = 0x15000;   /* one page past the file */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 0);
	v.end = 0x14000;
	v.offset = 0x6000;   /* all past it */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 0);
	v.offset = 0x1000;
	v.flags = R | W;     /* .data: private, still the file's */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 1);
	v.flags = R | S;     /* shared: not what the loader maps; never taken */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 0);
	v.flags = R;
	v.inode = 173522;    /* another file */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 0);
	v.inode = 173521;
	v.dev_minor = 3;     /* the same inode number on another device */
	ck_assert_int_eq(zc_vma_exe_inside(&v, &exe, 0x1000), 0);
	v.dev_minor = 2;
	ck_assert_int_eq(zc_vma_exe_inside(&v, &unknown, 0x1000), 0);
	/* Anonymous memory is not the executable, whatever exe says. */
	v = (struct zc_vma){ 0x10000, 0x11000, R | W | ANON, 0, 0, 0, 0 };
	ck_assert_int_eq(zc_vma_exe_inside(&v, &unknown, 0x1000), 0);
}
END_TEST

/* VmFlags: every two-letter code is a bit, known or not; a code is only
 * a whole word. */
START_TEST(test_vmflags_parse)
{
	static const char line[] = " rd wr mr mw me ac um zz ";
	struct zc_vmflags f, g;

	zc_vmflags_parse(line, sizeof line - 1, &f);
	ck_assert(zc_vmflags_has(&f, "rd"));
	ck_assert(zc_vmflags_has(&f, "um"));
	ck_assert(zc_vmflags_has(&f, "zz"));
	ck_assert(!zc_vmflags_has(&f, "lo"));
	ck_assert(!zc_vmflags_has(&f, "dw"));   /* not "rd wr" read across */
	zc_vmflags_parse("rd wr mr mw me ac um", 20, &g);   /* no spaces around */
	ck_assert(zc_vmflags_has(&g, "rd") && zc_vmflags_has(&g, "um"));
	ck_assert(!zc_vmflags_has(&g, "zz"));
	ck_assert(memcmp(&f, &g, sizeof f) != 0);
	zc_vmflags_parse("rd wrx lo", 9, &g);   /* a three-letter word is none */
	ck_assert(!zc_vmflags_has(&g, "wr") && zc_vmflags_has(&g, "lo"));
}
END_TEST

Suite *vma_suite(void)
{
	Suite *s = suite_create("vma");
	TCase *tc = tcase_create("parse");
	TCase *live = tcase_create("live");

	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_parse_len);
	tcase_add_test(tc, test_parse_file);
	tcase_add_test(tc, test_exe_inside);
	tcase_add_test(tc, test_flags_eligible);
	tcase_add_test(tc, test_vmflags_parse);
	suite_add_tcase(s, tc);

	tcase_add_test(live, test_eligible_live);
	tcase_add_test(live, test_copyable_racy);
	suite_add_tcase(s, live);
	return s;
}
