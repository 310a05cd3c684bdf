/*
 * readonly - Description: the shim never makes writable what was not
 * writable: memory unmapped and mapped again read-only at the same
 * address, memory the program itself made read-only, and a read-only file
 * mapping sent directly.
 *
 * Each buffer is sent, changed under the guard's feet, and then the
 * completions are reaped (the receiver has read everything and one more
 * send runs the reaper). The permissions in /proc/self/maps must be the
 * program's.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MSGLEN (96 * 1024)
#define NMSG 6

/* The permission string of the mapping holding a ("r--p"...). */
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

static int expect_readonly(const char *what, const void *a)
{
	char p[5] = "";

	if (perms_of(a, p) || p[1] != '-') {
		fprintf(stderr, "readonly: %s: mapping is \"%s\", the program made it read-only\n",
			what, p);
		return 1;
	}
	return 0;
}

int main(void)
{
	char path[] = "/tmp/zcshim-readonly.XXXXXX";
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 40;
	struct itest_rx *rx;
	unsigned char *got;
	char *a, *b, *c, *f;
	size_t len;
	int s, r, fd, bad = 0;
	unsigned m = 0;

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);

	/* 1. Unmapped, then mapped again read-only at the same address. */
	a = itest_pages(MSGLEN);
	itest_fill(a, MSGLEN, m++);
	if (itest_send_all(s, a, MSGLEN))
		itest_die("send");
	munmap(a, MSGLEN);
	b = mmap(a, MSGLEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (b != a)
		itest_die("mmap at the same address");

	/* 2. Made read-only by the program while in flight. */
	c = itest_pages(MSGLEN);
	itest_fill(c, MSGLEN, m++);
	if (itest_send_all(s, c, MSGLEN))
		itest_die("send");
	if (mprotect(c, MSGLEN, PROT_READ))
		itest_die("mprotect");

	/* 3. A read-only file mapping, sent as it is. */
	fd = mkstemp(path);
	if (fd < 0)
		itest_die("mkstemp");
	unlink(path);
	itest_fill(buf, MSGLEN, m);
	if (write(fd, buf, MSGLEN) != MSGLEN)
		itest_die("write");
	f = mmap(NULL, MSGLEN, PROT_READ, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		itest_die("mmap file");
	m++;
	if (itest_send_all(s, f, MSGLEN))
		itest_die("send");

	/* 4. The usual overwrite, so that a shim without its guard fails. */
	for (; m < NMSG - 1; m++) {
		itest_fill(buf, MSGLEN, m);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		memset(buf, 0xEE, MSGLEN);
	}

	/* Everything arrives; one more send reads the completions. */
	itest_wait_received(rx, (size_t)(NMSG - 1) * MSGLEN);
	itest_fill(buf, MSGLEN, m++);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	itest_wait_received(rx, (size_t)NMSG * MSGLEN);
	itest_fill(buf, MSGLEN, 99);   /* and once more, to reap the last */
	if (itest_send_all(s, buf, 4096 * 2))
		itest_die("send");

	bad |= expect_readonly("unmapped and mapped again read-only", b);
	bad |= expect_readonly("mprotect(PROT_READ) while in flight", c);
	bad |= expect_readonly("read-only file mapping", f);
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &len);
	if (len == (size_t)NMSG * MSGLEN + 8192)
		len -= 8192;   /* the last small send carries message 99 */
	if (itest_verify(got, len, NMSG, MSGLEN))
		bad = 1;
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
