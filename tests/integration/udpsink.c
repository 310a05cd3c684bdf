/*
 * udpsink - Description: the completion path on the kernel's true zerocopy
 * path: UDP to a sink that drops every packet at the qdisc, inside a
 * private network namespace (udpsink.sh sets it up). Buffers are reused
 * round robin and written right before each send, so every reuse needs its
 * completion (or a private copy). Nothing may fail; the harness checks the
 * kernel released the calls without copying.
 *
 * usage: udpsink [SENDS [ADDRESS]]
 * With an ADDRESS, the socket is not connected and each datagram goes
 * there with sendto() (port 9).
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUF 16
#define DGRAM 60000

int main(int argc, char **argv)
{
	unsigned sends = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4000;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	char *bufs[NBUF];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		itest_die("socket");
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 2 && inet_pton(AF_INET, argv[2], &to.sin_addr) != 1)
		itest_die("address");
	if (argc <= 2 && connect(fd, (struct sockaddr *)&to, sizeof to))
		itest_die("connect");
	for (int i = 0; i < NBUF; i++)
		bufs[i] = (char *)itest_pages(DGRAM + 8192) + 17 * i;
	for (unsigned n = 0; n < sends; n++) {
		char *b = bufs[n % NBUF];
		ssize_t r;

		memset(b, (int)n, DGRAM);   /* reuse: this buffer was sent NBUF calls ago */
		do
			r = argc > 2 ? sendto(fd, b, DGRAM, 0, (struct sockaddr *)&to, sizeof to)
				     : send(fd, b, DGRAM, 0);
		while (r < 0 && errno == EINTR);
		if (r != DGRAM) {
			fprintf(stderr, "udpsink: send %u returned %zd (%s)\n", n, r,
				r < 0 ? strerror(errno) : "short");
			return ITEST_CORRUPT;
		}
	}
	/* One more round of writes: the last calls' buffers too. */
	for (int i = 0; i < NBUF; i++)
		memset(bufs[i], 0, DGRAM);
	itest_dump_stats();
	return ITEST_OK;
}
