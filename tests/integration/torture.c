/*
 * torture - Description: one sender that overwrites, reads into, frees and
 * unmaps its buffers right after each send, over TCP loopback to a slow
 * receiver, then checks every byte. scripts/demo runs it under the shim.
 *
 * usage: torture [MESSAGES [BYTES]]   (default 64 messages of 300001 bytes)
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned nmsg = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 64;
	size_t len = argc > 2 ? strtoul(argv[2], NULL, 10) : 300001;
	char *ring = (char *)itest_pages(len + 8192) + 123;
	char *junk = malloc(len);
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen, bad;
	int s, r, zero = open("/dev/zero", O_RDONLY);
	const char *what[4] = { "overwritten", "read into", "freed and reused", "unmapped" };
	unsigned count[4] = { 0 }, errno_changed = 0;

	if (!nmsg || len < 4096 || zero < 0 || !junk)
		itest_die("usage: torture [MESSAGES [BYTES>=4096]]");
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	memset(junk, 0x5A, len);
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 100);
	for (unsigned m = 0; m < nmsg; m++) {
		char *p;

		/* Calls that succeed leave errno as the program set it. */
		errno = EDOM;
		switch (m % 4) {
		case 0:   /* overwrite */
			itest_fill(ring, len, m);
			if (itest_send_all(s, ring, len))
				itest_die("send");
			memcpy(ring, junk, len);
			break;
		case 1:   /* read() into it */
			itest_fill(ring, len, m);
			if (itest_send_all(s, ring, len))
				itest_die("send");
			if (read(zero, ring, len) != (ssize_t)len)
				itest_die("read into a buffer in flight");
			break;
		case 2:   /* free, and the allocator hands it out again */
			p = malloc(len);
			if (!p)
				itest_die("malloc");
			itest_fill(p, len, m);
			if (itest_send_all(s, p, len))
				itest_die("send");
			free(p);
			p = malloc(len);
			if (!p)
				itest_die("malloc");
			memcpy(p, junk, len);
			free(p);
			break;
		default: { /* munmap, and a new mapping written at the same place */
			char *a = itest_pages(len), *b;

			itest_fill(a, len, m);
			if (itest_send_all(s, a, len))
				itest_die("send");
			munmap(a, len);
			b = mmap(a, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (b != MAP_FAILED) {
				memcpy(b, junk, len);
				munmap(b, len);
			}
			break;
		}
		}
		count[m % 4]++;
		errno_changed += errno != EDOM;
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	bad = itest_verify(got, gotlen, nmsg, len);
	printf("torture: %u messages of %zu bytes sent, each then", nmsg, len);
	for (int i = 0; i < 4; i++)
		printf("%s %s (%u)", i ? "," : "", what[i], count[i]);
	printf("\ntorture: receiver got %zu bytes, %zu wrong: %s\n", gotlen, bad,
	       bad ? "CORRUPTED" : "every byte intact");
	if (errno_changed)
		printf("torture: errno changed by %u successful rounds of calls\n", errno_changed);
	return bad || errno_changed ? ITEST_CORRUPT : ITEST_OK;
}
