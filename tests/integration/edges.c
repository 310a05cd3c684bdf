/*
 * edges - Description: a buffer sent again and again unchanged from an
 * unaligned address has its first and last pages sent in place (guarded)
 * instead of copied; the program then writes into those pages.
 *
 * usage: edges overwrite|neighbour
 *   overwrite  after the buffer went out with its edges in place, the
 *              program rewrites the payload's first or last bytes right
 *              after each send: the receiver must see each message as it
 *              was when sent (without the guard it sees the new bytes);
 *   neighbour  the program writes memory next to the payload, in the
 *              payload's first page (an allocator's header, another
 *              object) after each send: nothing the receiver sees may
 *              change, and the shim stops sending that page in place
 *              (tests/integration/edges.sh counts the faults).
 * Every message's bytes are recorded before its send and compared with
 * what the receiver got.
 */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NMSG 24
#define STABLE 8                      /* sends before the program writes */
#define HEAD 100                      /* the payload's offset in its page */
#define MSGLEN (64 * 1024 + 123)      /* ends inside a page too */

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "overwrite";
	int neighbour = !strcmp(mode, "neighbour");
	char *region = itest_pages(MSGLEN + 2 * 4096 + HEAD);
	char *buf = region + HEAD;
	unsigned char *want = malloc((size_t)NMSG * MSGLEN), *got;
	struct itest_rx *rx;
	size_t gotlen, bad = 0;
	int s, r;

	if (!want || (strcmp(mode, "overwrite") && !neighbour))
		return ITEST_ERROR;
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 150);
	itest_fill(buf, MSGLEN, 0);
	memset(region, 0x5A, HEAD);
	for (unsigned m = 0; m < NMSG; m++) {
		memcpy(want + (size_t)m * MSGLEN, buf, MSGLEN);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		if (m < STABLE)
			continue;
		if (neighbour)
			memset(region, (int)m, HEAD);            /* outside the payload */
		else if (m % 2)
			memset(buf + MSGLEN - 64, (int)m, 64);   /* the payload's last page */
		else
			memset(buf, (int)m, 64);                 /* the payload's first page */
	}
	itest_dump_stats();
	close(s);
	got = itest_receiver_join(rx, &gotlen);
	if (gotlen != (size_t)NMSG * MSGLEN) {
		fprintf(stderr, "edges: got %zu bytes, want %zu\n", gotlen, (size_t)NMSG * MSGLEN);
		return ITEST_CORRUPT;
	}
	for (size_t i = 0; i < gotlen; i++)
		if (got[i] != want[i] && !bad++)
			fprintf(stderr, "edges: message %zu byte %zu: got %u, sent %u\n", i / MSGLEN,
				i % MSGLEN, got[i], want[i]);
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
