/*
 * zcsend - a UDP sender for measuring the shim: the same program runs
 * plain and under LD_PRELOAD, side by side.
 *
 * usage: zcsend WORKLOAD SIZE COUNT [ADDRESS]
 *   stable  one buffer written once, sent again and again
 *   ring    256 MiB of buffers written once, sent round robin (cold cache)
 *   reuse   one buffer rewritten right before every send
 *   fresh   malloc, fill, send, free for every message
 * Sends COUNT datagrams of SIZE bytes to ADDRESS:9 (default 127.0.0.1,
 * meant for a namespace whose loopback drops at the qdisc) and prints
 * "WORKLOAD SIZE COUNT cpu_seconds GB_per_cpu_second".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	const char *w;
	size_t size, nbuf = 1;
	unsigned long count;
	char **bufs;
	double t0, t;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: zcsend stable|ring|reuse|fresh SIZE COUNT [ADDRESS]\n");
		return 2;
	}
	w = argv[1];
	size = strtoul(argv[2], NULL, 10);
	count = strtoul(argv[3], NULL, 10);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 4 && inet_pton(AF_INET, argv[4], &to.sin_addr) != 1)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to))
		return perror("socket"), 2;
	if (!strcmp(w, "ring"))
		nbuf = (256u << 20) / size + 1;
	bufs = calloc(nbuf, sizeof *bufs);
	for (size_t i = 0; i < nbuf && strcmp(w, "fresh"); i++) {
		bufs[i] = malloc(size);
		memset(bufs[i], (int)i, size);
	}
	t0 = cpu_seconds();
	for (unsigned long n = 0; n < count; n++) {
		char *b;
		ssize_t r;

		if (!strcmp(w, "fresh")) {
			b = malloc(size);
			memset(b, (int)n, size);
		} else {
			b = bufs[n % nbuf];
			if (!strcmp(w, "reuse"))
				memset(b, (int)n, size);
		}
		do
			r = send(fd, b, size, 0);
		while (r < 0 && errno == EINTR);
		if (r != (ssize_t)size)
			return fprintf(stderr, "zcsend: send: %s\n", strerror(errno)), 1;
		if (!strcmp(w, "fresh"))
			free(b);
	}
	t = cpu_seconds() - t0;
	printf("%s %zu %lu %.3f %.2f\n", w, size, count, t, (double)size * count / 1e9 / t);
	return 0;
}
