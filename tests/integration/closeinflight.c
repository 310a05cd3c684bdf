/*
 * closeinflight - Description: close() the socket right after sending,
 * then overwrite the buffer.
 *
 * After close() the kernel still sends what is queued, from the program's
 * pages, but no completion can be read any more: the shim waits a bounded
 * time, then gives the program private copies. The peer must get every
 * byte, then end-of-file.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCONN 4
#define MSGLEN (300 * 1024 + 17)

int main(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 200;
	int bad = 0;

	for (unsigned c = 0; c < NCONN; c++) {
		struct itest_rx *rx;
		unsigned char *got;
		size_t len;
		int s, r;

		itest_tcp_pair(&s, &r);
		rx = itest_receiver_start(r, 150);
		itest_fill(buf, MSGLEN, c);
		if (itest_send_all(s, buf, MSGLEN))
			itest_die("send");
		if (close(s))
			itest_die("close");
		memset(buf, 0xEE, MSGLEN);
		got = itest_receiver_join(rx, &len);
		close(r);
		for (size_t p = 0; p < len; p++)
			if (got[p] != itest_pat(c, p)) {
				fprintf(stderr, "closeinflight: connection %u byte %zu changed\n", c, p);
				bad = 1;
				break;
			}
		if (len != MSGLEN) {
			fprintf(stderr, "closeinflight: connection %u got %zu of %d bytes\n", c, len,
				MSGLEN);
			bad = 1;
		}
		free(got);
	}
	itest_dump_stats();
	return bad ? ITEST_CORRUPT : ITEST_OK;
}
