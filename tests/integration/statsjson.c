/*
 * statsjson - Description: send a little, then ask for the stats line
 * twice; the harness checks both lines are JSON with every documented key
 * and this program's pid. Prints its pid on standard output.
 */
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MSGLEN (64 * 1024 + 100)

int main(void)
{
	char *buf = (char *)itest_pages(MSGLEN + 8192) + 1;
	struct itest_rx *rx;
	unsigned char *got;
	size_t len;
	int s, r;

	printf("%d\n", (int)getpid());
	fflush(stdout);
	itest_tcp_pair(&s, &r);
	rx = itest_receiver_start(r, 50);
	itest_fill(buf, MSGLEN, 0);
	if (itest_send_all(s, buf, MSGLEN))
		itest_die("send");
	memset(buf, 0xEE, MSGLEN);
	raise(SIGUSR1);
	raise(SIGUSR1);
	close(s);
	got = itest_receiver_join(rx, &len);
	return itest_verify(got, len, 1, MSGLEN) ? ITEST_CORRUPT : ITEST_OK;
}
