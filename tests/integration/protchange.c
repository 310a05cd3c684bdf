/*
 * protchange - Description: the shim never gives back access the program
 * took away, through any call: pkey_mprotect, mprotect, mmap(MAP_FIXED),
 * mremap, madvise, nor raw munmap/mmap system calls no wrapper sees.
 *
 * Each case takes a buffer the shim holds read-only, either kept after its
 * release (sent three times to a receiver that reads at once) or still in
 * flight (sent to a receiver that starts late), changes it under the
 * shim, and checks that a read of PROT_NONE memory and a write to
 * PROT_READ memory fault (the program's SIGSEGV handler runs), that
 * /proc/self/maps shows the program's permissions, and that a send from
 * read-write memory mapped anew where such a buffer was is guarded (the
 * receiver gets every byte as sent although the program overwrites it).
 *
 * Exit status: see common.h.
 */
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MSGLEN (64 * 1024)

static int fd1, fd2;              /* prompt receiver, late receiver */
static struct itest_rx *rx1, *rx2;
static size_t got1;
static unsigned ids1[64], n1, ids2[64], n2, next_m;

static sigjmp_buf jb;
static volatile sig_atomic_t faulted;

static void on_segv(int sig)
{
	(void)sig;
	faulted = 1;
	siglongjmp(jb, 1);
}

/* Sent three times, read by the receiver each time: released, and kept
 * read-only by the shim from the second release on. */
static char *kept(void)
{
	char *b = itest_pages(MSGLEN);
	unsigned m = next_m++;

	itest_fill(b, MSGLEN, m);
	for (int k = 0; k < 3; k++) {
		if (itest_send_all(fd1, b, MSGLEN))
			itest_die("send");
		ids1[n1++] = m;
		got1 += MSGLEN;
		itest_wait_received(rx1, got1);
	}
	return b;
}

/* Sent to the late receiver: in flight for a while. */
static char *inflight(void)
{
	char *b = itest_pages(MSGLEN);
	unsigned m = next_m++;

	itest_fill(b, MSGLEN, m);
	if (itest_send_all(fd2, b, MSGLEN))
		itest_die("send");
	ids2[n2++] = m;
	return b;
}

static int perms_of(const void *a, char out[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, out) == 3 &&
		    lo <= (unsigned long)a && (unsigned long)a < hi) {
			fclose(f);
			return 0;
		}
	fclose(f);
	return -1;
}

static int access_faults(volatile char *a, int write)
{
	faulted = 0;
	if (sigsetjmp(jb, 1) == 0) {
		if (write)
			a[100] = 1;
		else
			(void)a[100];
	}
	return faulted;
}

/* Under valgrind (memcheck) each deliberate read of PROT_NONE memory is
 * reported: PROTCHANGE_NO_NONE_READ=1 leaves them out (the permissions are
 * still checked). */
static int no_none_reads(int prot)
{
	const char *v = getenv("PROTCHANGE_NO_NONE_READ");

	return prot == PROT_NONE && v && !strcmp(v, "1");
}

/* prot is what the program set: every 4th page must refuse the access
 * that prot refuses, and the mapping must show prot. */
static int refused(const char *what, char *b, int prot)
{
	const char *want = prot == PROT_NONE ? "---p" : "r--p";
	char perms[5] = "";
	int bad = 0;

	for (size_t off = 0; off < MSGLEN && !no_none_reads(prot); off += 4 * 4096)
		if (!access_faults(b + off, prot != PROT_NONE)) {
			fprintf(stderr, "protchange: %s: a %s at offset %zu went through\n", what,
				prot == PROT_NONE ? "read" : "write", off);
			bad = 1;
			break;
		}
	if (perms_of(b, perms) || strcmp(perms, want)) {
		fprintf(stderr, "protchange: %s: the mapping is %s, the program made it %s\n",
			what, perms, want);
		bad = 1;
	}
	if (bad)
		return 1;
	printf("protchange: ok: %s\n", what);
	return 0;
}

/* Raw system calls: unmapped and mapped again behind every wrapper. */
static char *raw_remap(char *b, int prot)
{
	long r;

	if (syscall(SYS_munmap, b, MSGLEN))
		itest_die("raw munmap");
	r = syscall(SYS_mmap, b, MSGLEN, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r != (long)b)
		itest_die("raw mmap");
	return b;
}

/* Read-write memory mapped anew where the shim had records: sent to the
 * late receiver, then overwritten at once. */
static void send_overwrite(char *b)
{
	unsigned m = next_m++;

	if (b == MAP_FAILED)
		itest_die("mmap where a buffer was");
	itest_fill(b, MSGLEN, m);
	if (itest_send_all(fd2, b, MSGLEN))
		itest_die("send");
	ids2[n2++] = m;
	memset(b, 0xEE, MSGLEN);
}

static int check(const char *what, struct itest_rx *rx, const unsigned *ids, unsigned n)
{
	size_t len, bad = 0;
	unsigned char *got = itest_receiver_join(rx, &len);

	if (len != (size_t)n * MSGLEN) {
		fprintf(stderr, "protchange: %s: %zu bytes arrived, want %zu\n", what, len,
			(size_t)n * MSGLEN);
		return 1;
	}
	for (unsigned k = 0; k < n; k++)
		for (size_t i = 0; i < MSGLEN; i++)
			if (got[(size_t)k * MSGLEN + i] != itest_pat(ids[k], i) && !bad++)
				fprintf(stderr, "protchange: %s: message %u byte %zu changed in flight\n",
					what, k, i);
	free(got);
	return bad != 0;
}

int main(void)
{
	struct sigaction sa;
	char *b, *c;
	int bad = 0, a1, a2;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	itest_tcp_pair(&fd1, &a1);
	itest_tcp_pair(&fd2, &a2);
	rx1 = itest_receiver_start(a1, 0);
	rx2 = itest_receiver_start(a2, 2000);

	b = kept();
	if (pkey_mprotect(b, MSGLEN, PROT_NONE, -1))
		itest_die("pkey_mprotect");
	bad |= refused("pkey_mprotect(PROT_NONE) of a kept buffer", b, PROT_NONE);

	b = inflight();
	if (pkey_mprotect(b, MSGLEN, PROT_READ, -1))
		itest_die("pkey_mprotect");
	bad |= refused("pkey_mprotect(PROT_READ) of a buffer in flight", b, PROT_READ);

	b = kept();
	if (mprotect(b, MSGLEN, PROT_READ))
		itest_die("mprotect");
	bad |= refused("mprotect(PROT_READ) of a kept buffer", b, PROT_READ);

	b = inflight();
	if (mmap(b, MSGLEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != b)
		itest_die("mmap");
	bad |= refused("mmap(MAP_FIXED, PROT_NONE) over a buffer in flight", b, PROT_NONE);

	/* Moved away while in flight; PROT_READ where it was. */
	b = inflight();
	c = mremap(b, MSGLEN, 2 * MSGLEN, MREMAP_MAYMOVE);
	if (c == MAP_FAILED)
		itest_die("mremap");
	if (c != b) {
		if (mmap(b, MSGLEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0) != b)
			itest_die("mmap where the buffer was");
		bad |= refused("PROT_READ where mremap moved a buffer in flight from", b, PROT_READ);
	}
	memset(c, 0x11, 2 * MSGLEN);   /* the moved copy is the program's, writable */

	/* MADV_DONTNEED drops the content for the program, as without the
	 * shim; the buffer stays the program's read-write memory. */
	b = kept();
	if (madvise(b, MSGLEN, MADV_DONTNEED))
		itest_die("madvise");
	if (b[5000] != 0) {
		fprintf(stderr, "protchange: MADV_DONTNEED of a kept buffer: it still reads %#x\n",
			(unsigned char)b[5000]);
		bad = 1;
	}
	b[5000] = 7;
	if (b[5000] != 7)
		bad = 1;

	/* Behind every wrapper: raw munmap and mmap. */
	b = raw_remap(kept(), PROT_NONE);
	bad |= refused("raw mmap(PROT_NONE) where a kept buffer was", b, PROT_NONE);
	b = raw_remap(inflight(), PROT_NONE);
	bad |= refused("raw mmap(PROT_NONE) where a buffer in flight was", b, PROT_NONE);
	/* (A read-write or read-only mapping put there by a raw mmap is the
	 * documented limit: README, "Limits".) Read-write memory mapped anew
	 * through the C library where a buffer was kept or in flight: the
	 * send from it is guarded. */
	b = kept();
	munmap(b, MSGLEN);
	send_overwrite(mmap(b, MSGLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			    MAP_FIXED_NOREPLACE, -1, 0));
	b = inflight();
	send_overwrite(mmap(b, MSGLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			    MAP_FIXED, -1, 0));

	itest_dump_stats();
	close(fd1);
	close(fd2);
	bad |= check("prompt receiver", rx1, ids1, n1);
	bad |= check("late receiver", rx2, ids2, n2);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
