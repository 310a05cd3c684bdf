/*
 * smallwrites - N writes of 512 bytes to a connected UDP socket, for
 * counting what the shim adds to a call below the threshold. The peer is a
 * socket of this program that never reads (its queue fills and the kernel
 * drops the rest silently).
 * usage: smallwrites N [writev|sendmsg]
 * With writev or sendmsg, the 512 bytes go out as two iovecs of 256 through
 * that call (whose iovec array, unlike write()'s buffer, the shim reads).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	long n = argc > 1 ? atol(argv[1]) : 100000;
	const char *how = argc > 2 ? argv[2] : "write";
	char buf[512];
	struct iovec v[2] = { { buf, 256 }, { buf + 256, 256 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	ssize_t r = 0;
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);

	memset(buf, 1, sizeof buf);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(rx, (struct sockaddr *)&a, &alen) ||
	    connect(tx, (struct sockaddr *)&a, sizeof a))
		return 2;
	for (long i = 0; i < n; i++) {
		if (!strcmp(how, "writev"))
			r = writev(tx, v, 2);
		else if (!strcmp(how, "sendmsg"))
			r = sendmsg(tx, &m, 0);
		else
			r = write(tx, buf, sizeof buf);
		if (r != (ssize_t)sizeof buf)
			return 1;
	}
	return 0;
}
