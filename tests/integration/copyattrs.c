/*
 * copyattrs - a buffer whose mapping has an attribute is sent with
 * zerocopy and written (or its socket closed) while in flight; the
 * attribute must still be there afterwards and the peer must get the
 * original bytes.
 *
 * usage: copyattrs ATTR write|close
 *   ATTR: wipeonfork dontfork dontdump hugepage nohugepage mergeable
 *         mlock mlockonfault noreserve name mbind pkey uffd, and two
 *         that a fresh mapping must not gain: plain (none at all) and
 *         futurelock (mapped before mlockall(MCL_FUTURE), so not locked)
 *
 * The guard's private copy (a write past the stall, a close with data in
 * flight) replaces the pages with a fresh mapping: it must carry the
 * mapping's attributes over, or not be made (the write then waits for the
 * completion). Each attribute is checked the way the program would see it:
 * VmFlags in /proc/self/smaps, a fork child reading a WIPEONFORK page
 * (zeros) or a DONTFORK one (not mapped), VmLck in /proc/self/status, the
 * name in /proc/self/maps, get_mempolicy, ProtectionKey.
 *
 * Exit: 0 attribute kept and bytes intact, 1 attribute lost or bytes
 * changed, 2 could not run, 77 the kernel or CPU lacks the attribute.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#define MPOL_BIND_ 2
#define MPOL_F_ADDR_ (1 << 1)

#define LEN (64 * 4096)
#define NAME "zcshim-copyattrs"

static const char *attr;

static void skip(const char *why)
{
	fprintf(stderr, "copyattrs %s: skipped: %s: %s\n", attr, why, strerror(errno));
	exit(ITEST_SKIP);
}

/* The VmFlags codes, name and protection key of every mapping overlapping
 * [p, p + len), joined: codes must be on all of them. */
struct seen {
	int vmas;
	int all_have;          /* every mapping shows the code */
	int all_named;         /* every mapping carries NAME */
	int pkey;              /* last ProtectionKey seen, -1 none */
	char flags[256];       /* the first mapping's VmFlags */
};

static void look(const void *p, size_t len, const char *code, struct seen *s)
{
	uintptr_t a = (uintptr_t)p, b = a + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[240];
	int in = 0;

	memset(s, 0, sizeof *s);
	s->all_have = s->all_named = 1;
	s->pkey = -1;
	if (!f)
		itest_die("/proc/self/smaps");
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo < b && a < hi;
			if (in) {
				s->vmas++;
				if (!strstr(line, "[anon:" NAME "]"))
					s->all_named = 0;
			}
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "ProtectionKey:", 14))
			s->pkey = atoi(line + 14);
		if (!strncmp(line, "VmFlags:", 8)) {
			char want[8];

			if (s->vmas == 1)
				snprintf(s->flags, sizeof s->flags, "%s", line + 8);
			snprintf(want, sizeof want, " %s ", code ? code : "");
			if (code && !strstr(line + 7, want))
				s->all_have = 0;
		}
	}
	fclose(f);
	if (!s->vmas)
		s->all_have = s->all_named = 0;
}

static long vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		itest_die("/proc/self/status");
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmLck:", 6))
			v = atol(line + 6);
	fclose(f);
	return v;
}

static int pkey;

/* Give [buf, buf + LEN) the attribute; returns its VmFlags code (NULL:
 * checked otherwise). */
static const char *apply(char *buf)
{
	if (!strcmp(attr, "wipeonfork"))
		return madvise(buf, LEN, MADV_WIPEONFORK) ? (skip("MADV_WIPEONFORK"), NULL) : "wf";
	if (!strcmp(attr, "dontfork"))
		return madvise(buf, LEN, MADV_DONTFORK) ? (skip("MADV_DONTFORK"), NULL) : "dc";
	if (!strcmp(attr, "dontdump"))
		return madvise(buf, LEN, MADV_DONTDUMP) ? (skip("MADV_DONTDUMP"), NULL) : "dd";
	if (!strcmp(attr, "hugepage"))
		return madvise(buf, LEN, MADV_HUGEPAGE) ? (skip("MADV_HUGEPAGE (no THP)"), NULL) : "hg";
	if (!strcmp(attr, "nohugepage"))
		return madvise(buf, LEN, MADV_NOHUGEPAGE) ? (skip("MADV_NOHUGEPAGE (no THP)"), NULL) : "nh";
	if (!strcmp(attr, "mergeable"))
		return madvise(buf, LEN, MADV_MERGEABLE) ? (skip("MADV_MERGEABLE (no CONFIG_KSM)"), NULL) : "mg";
	if (!strcmp(attr, "mlock"))
		return mlock(buf, LEN) ? (skip("mlock"), NULL) : "lo";
	if (!strcmp(attr, "mlockonfault"))
		return syscall(SYS_mlock2, buf, LEN, MLOCK_ONFAULT) ? (skip("mlock2(MLOCK_ONFAULT)"), NULL) : "lf";
	if (!strcmp(attr, "noreserve") || !strcmp(attr, "plain"))
		return NULL;   /* mapped so; checked by the absence of "ac" */
	if (!strcmp(attr, "futurelock"))   /* locks what is mapped from now on */
		return mlockall(MCL_FUTURE) ? (skip("mlockall(MCL_FUTURE)"), NULL) : NULL;
	if (!strcmp(attr, "name")) {
		if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, buf, LEN, NAME))
			skip("PR_SET_VMA_ANON_NAME (no CONFIG_ANON_VMA_NAME)");
		return NULL;
	}
	if (!strcmp(attr, "mbind")) {
		unsigned long mask = 1;

		if (syscall(SYS_mbind, buf, LEN, MPOL_BIND_, &mask, 2UL, 0U))
			skip("mbind (no CONFIG_NUMA)");
		return NULL;
	}
	if (!strcmp(attr, "pkey")) {
		pkey = (int)syscall(SYS_pkey_alloc, 0UL, 0UL);
		if (pkey < 0)
			skip("pkey_alloc (no protection keys on this CPU or kernel)");
		if (syscall(SYS_pkey_mprotect, buf, LEN, PROT_READ | PROT_WRITE, pkey))
			itest_die("pkey_mprotect");
		return NULL;
	}
	if (!strcmp(attr, "uffd")) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = {
			.range = { (uintptr_t)buf, LEN }, .mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

		if (u < 0)
			skip("userfaultfd");
		if (ioctl(u, UFFDIO_API, &api) || ioctl(u, UFFDIO_REGISTER, &reg))
			skip("UFFDIO_REGISTER");
		return "um";   /* the descriptor stays open: the registration with it */
	}
	fprintf(stderr, "copyattrs: unknown attribute %s\n", attr);
	exit(ITEST_ERROR);
}

/* Is the attribute still there? Prints what is wrong. */
static int check(char *buf, const char *code)
{
	struct seen s;
	int ok = 1;

	look(buf, LEN, code, &s);
	if (code && !s.all_have) {
		fprintf(stderr, "copyattrs %s: VmFlags lost \"%s\" (%d mapping(s), first:%s)", attr,
			code, s.vmas, s.flags);
		ok = 0;
	}
	if (!strcmp(attr, "noreserve") && strstr(s.flags, " ac ")) {
		fprintf(stderr, "copyattrs noreserve: the mapping is accounted now (VmFlags:%s)", s.flags);
		ok = 0;
	}
	if (!strcmp(attr, "futurelock") && strstr(s.flags, " lo ")) {
		fprintf(stderr, "copyattrs futurelock: mapped before mlockall(MCL_FUTURE), locked now (VmFlags:%s)", s.flags);
		ok = 0;
	}
	if (!strcmp(attr, "name") && !s.all_named) {
		fprintf(stderr, "copyattrs name: [anon:" NAME "] gone from /proc/self/maps\n");
		ok = 0;
	}
	if (!strcmp(attr, "pkey") && s.pkey != pkey) {
		fprintf(stderr, "copyattrs pkey: ProtectionKey %d, want %d\n", s.pkey, pkey);
		ok = 0;
	}
	if (!strcmp(attr, "mbind")) {
		int mode = -1;
		unsigned long mask = 0;

		if (syscall(SYS_get_mempolicy, &mode, &mask, 64UL, buf, (unsigned long)MPOL_F_ADDR_))
			itest_die("get_mempolicy");
		if (mode != MPOL_BIND_ || mask != 1) {
			fprintf(stderr, "copyattrs mbind: policy %d mask %#lx, want MPOL_BIND 0x1\n",
				mode, mask);
			ok = 0;
		}
	}
	if (!strcmp(attr, "mlock") || !strcmp(attr, "mlockonfault")) {
		long kb = vmlck_kb();

		if (kb < LEN / 1024) {
			fprintf(stderr, "copyattrs %s: VmLck %ld kB, want at least %d\n", attr, kb,
				LEN / 1024);
			ok = 0;
		}
	}
	if (!strcmp(attr, "wipeonfork") || !strcmp(attr, "dontfork")) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			itest_die("fork");
		if (pid == 0) {
			unsigned char vec[LEN / 4096];

			if (!strcmp(attr, "dontfork"))   /* not mapped in the child */
				_exit(mincore(buf, LEN, vec) == -1 && errno == ENOMEM ? 0 : 1);
			for (size_t i = 0; i < LEN; i++)
				if (buf[i])
					_exit(1);   /* the child read the parent's bytes */
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "copyattrs %s: a fork child %s\n", attr,
				!strcmp(attr, "dontfork") ? "has the page mapped" :
							    "reads the parent's bytes");
			ok = 0;
		}
	}
	return ok;
}

int main(int argc, char **argv)
{
	int snd, rcv, ok, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	const char *code;
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	char *buf;

	if (argc != 3 || (strcmp(argv[2], "write") && strcmp(argv[2], "close"))) {
		fprintf(stderr, "usage: copyattrs ATTR write|close\n");
		return ITEST_ERROR;
	}
	attr = argv[1];
	if (!strcmp(attr, "noreserve"))
		flags |= MAP_NORESERVE;
	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (buf == MAP_FAILED)
		itest_die("mmap");
	/* Filled first: a userfaultfd registration (MISSING) must find every
	 * page present, or the fill would wait for a handler there is not. */
	itest_fill(buf, LEN, 0);
	code = apply(buf);
	if (!check(buf, code)) {
		fprintf(stderr, "copyattrs %s: the attribute is not visible even before the send\n",
			attr);
		return ITEST_ERROR;
	}
	itest_tcp_pair(&snd, &rcv);
	/* The peer reads late: the bytes stay in flight in buf's pages. */
	rx = itest_receiver_start(rcv, 300);
	if (itest_send_all(snd, buf, LEN))
		itest_die("send");
	if (!strcmp(argv[2], "write"))
		memset(buf, 0xee, LEN);   /* past the stall: a private copy, or a wait */
	else
		close(snd);               /* the guard lets go: a private copy */
	ok = check(buf, code);
	if (!strcmp(argv[2], "write")) {
		for (size_t i = 0; i < LEN; i++)
			if ((unsigned char)buf[i] != 0xee) {
				fprintf(stderr, "copyattrs %s: the program's write is lost at %zu\n", attr, i);
				ok = 0;
				break;
			}
		shutdown(snd, SHUT_WR);
	}
	got = itest_receiver_join(rx, &gotlen);
	if (itest_verify(got, gotlen, 1, LEN))
		ok = 0;
	if (!strcmp(argv[2], "write"))
		close(snd);
	itest_dump_stats();
	return ok ? ITEST_OK : ITEST_CORRUPT;
}
