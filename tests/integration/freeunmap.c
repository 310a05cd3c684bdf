/*
 * freeunmap - Description: free(), realloc() and munmap() of buffers still
 * in flight, and the memory handed out again right away.
 *
 * The heap chunk freed after a send is what the next malloc returns: the
 * program fills it with new bytes at once. Without the guard those bytes
 * replace data still waiting in the sender's queue.
 */
#include "common.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NMSG 12
#define MSGLEN (160 * 1024 + 5)

int main(void)
{
	struct itest_rx *rx;
	unsigned char *got;
	size_t gotlen;
	int s, r;
	char *keep = NULL;

	/* Large chunks from the heap, where free() makes them reusable at
	 * once (instead of glibc's own mmap per chunk). */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);

	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	for (unsigned m = 0; m < NMSG; m++) {
		char *p, *q;

		switch (m % 3) {
		case 0:   /* free, then the same chunk comes back */
			p = malloc(MSGLEN);
			if (!p)
				itest_die("malloc");
			itest_fill(p, MSGLEN, m);
			if (itest_send_all(s, p, MSGLEN))
				itest_die("send");
			free(p);
			free(keep);
			q = malloc(MSGLEN);
			if (!q)
				itest_die("malloc");
			memset(q, 0xEE, MSGLEN);
			keep = q;
			break;
		case 1:   /* realloc (moves or grows), then written all over */
			p = malloc(MSGLEN);
			if (!p)
				itest_die("malloc");
			itest_fill(p, MSGLEN, m);
			if (itest_send_all(s, p, MSGLEN))
				itest_die("send");
			q = realloc(p, 2 * MSGLEN);
			if (!q)
				itest_die("realloc");
			if (memcmp(q, (char[]){ (char)itest_pat(m, 0) }, 1))
				return ITEST_CORRUPT;   /* realloc must keep the content */
			memset(q, 0x77, 2 * MSGLEN);
			free(q);
			break;
		default: { /* munmap, then a new mapping at the same place */
			char *a = itest_pages(MSGLEN + 4096), *b;

			itest_fill(a, MSGLEN, m);
			if (itest_send_all(s, a, MSGLEN))
				itest_die("send");
			munmap(a, MSGLEN + 4096);
			b = mmap(a, MSGLEN + 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (b != MAP_FAILED) {
				memset(b, 0xCC, MSGLEN + 4096);
				munmap(b, MSGLEN + 4096);
			}
			break;
		}
		}
	}
	free(keep);
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	return itest_verify(got, gotlen, NMSG, MSGLEN) ? ITEST_CORRUPT : ITEST_OK;
}
