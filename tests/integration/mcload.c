/*
 * mcload - Description: a memcached text-protocol client that checks every
 * value it reads (mcload.sh runs memcached under the shim).
 *
 * usage: mcload PORT warm KEYS
 *        mcload PORT load KEYS THREADS OPS SECONDS
 * warm: set KEYS keys once (sizes from 1 KiB to 4 MiB), then read each
 * twice. load: THREADS threads, each with its own connection, OPS
 * operations each or SECONDS in all, whichever ends first: about one in
 * twelve a set that overwrites a key other threads are reading, the rest
 * gets of one key or of three at once. Prints "sets N gets N bytes N".
 *
 * A value is written so that any mix-up shows: a 64-byte header naming
 * its key, its version (unique per set) and its length, then bytes drawn
 * from a generator seeded with key and version. A reply is checked whole:
 * the key in its VALUE line is the one asked for, in order, the header
 * names that key and the length, and every byte is the generator's.
 * Exit 0 all intact, 1 a wrong byte or reply, 2 the test could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 64
#define MAXVAL (4u << 20)

static const size_t sizes[] = { 1024, 3000, 20000, 65536 + 17, 100000, 300000, 524288,
				600000, 1048576 + 33, 2000000, 3000000, MAXVAL };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static int port, nkeys;
static unsigned ver_next = 1;
static volatile int bad;
static double deadline;
static unsigned long long tot_sets, tot_gets, tot_bytes;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t size_of(int key)
{
	return sizes[(unsigned)key % NSIZES];
}

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t seed_of(int key, unsigned ver)
{
	return ((uint64_t)(unsigned)key << 32 | ver) * 0x9e3779b97f4a7c15ull | 1;
}

/* The value of key at version ver. */
static void make(char *v, int key, unsigned ver)
{
	size_t len = size_of(key);
	uint64_t s = seed_of(key, ver);

	memset(v, ' ', HDR);
	snprintf(v, HDR, "key=%d ver=%u len=%zu", key, ver, len);
	v[HDR - 1] = '\n';
	for (size_t i = HDR; i < len; i += 8) {
		uint64_t r = next(&s);

		memcpy(v + i, &r, len - i < 8 ? len - i : 8);
	}
}

/* Is v (n bytes) a whole value of key? */
static int check(const char *v, size_t n, int key)
{
	int k = -1;
	unsigned ver = 0;
	size_t len = 0;
	uint64_t s;

	if (n < HDR || sscanf(v, "key=%d ver=%u len=%zu", &k, &ver, &len) != 3 || k != key ||
	    len != n || n != size_of(key)) {
		fprintf(stderr, "mcload: key %d: a value of %zu bytes whose header says \"%.40s\"\n",
			key, n, n >= HDR ? v : "");
		return -1;
	}
	s = seed_of(key, ver);
	for (size_t i = HDR; i < len; i += 8) {
		uint64_t r = next(&s);

		if (memcmp(v + i, &r, len - i < 8 ? len - i : 8)) {
			fprintf(stderr, "mcload: key %d version %u: byte %zu of %zu differs\n", key, ver,
				i, len);
			return -1;
		}
	}
	return 0;
}

struct conn {
	int fd;
	char buf[65536];
	size_t have, at;
};

static void die(const char *what)
{
	fprintf(stderr, "mcload: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void conn_open(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;

	c->have = c->at = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a))
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void put(struct conn *c, const void *p, size_t n)
{
	while (n) {
		ssize_t r = write(c->fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write");
		p = (const char *)p + r;
		n -= (size_t)r;
	}
}

static int fill(struct conn *c)
{
	ssize_t r;

	if (c->at == c->have)
		c->at = c->have = 0;
	do
		r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		die("read (memcached gone?)");
	c->have += (size_t)r;
	return 0;
}

/* One line without its \r\n into line. */
static void get_line(struct conn *c, char *line, size_t cap)
{
	size_t n = 0;

	for (;;) {
		while (c->at < c->have) {
			char ch = c->buf[c->at++];

			if (ch == '\n') {
				if (n && line[n - 1] == '\r')
					n--;
				line[n] = '\0';
				return;
			}
			if (n + 1 < cap)
				line[n++] = ch;
		}
		if (c->at == c->have)
			c->at = c->have = 0;
		fill(c);
	}
}

static void get_bytes(struct conn *c, char *out, size_t n)
{
	while (n) {
		size_t k;

		if (c->at == c->have)
			fill(c);
		k = c->have - c->at < n ? c->have - c->at : n;
		memcpy(out, c->buf + c->at, k);
		c->at += k;
		out += k;
		n -= k;
	}
}

static void set(struct conn *c, char *v, int key)
{
	char cmd[128], line[256];
	unsigned ver = __atomic_fetch_add(&ver_next, 1, __ATOMIC_RELAXED);
	size_t len = size_of(key);

	make(v, key, ver);
	snprintf(cmd, sizeof cmd, "set k%d 0 0 %zu\r\n", key, len);
	put(c, cmd, strlen(cmd));
	put(c, v, len);
	put(c, "\r\n", 2);
	get_line(c, line, sizeof line);
	if (strcmp(line, "STORED")) {
		fprintf(stderr, "mcload: set k%d (%zu bytes): \"%s\"\n", key, len, line);
		bad = 1;
	}
}

/* get of n keys at once; every value checked. Returns the bytes read. */
static size_t get(struct conn *c, char *v, const int *keys, int n)
{
	char cmd[256] = "get", line[256];
	size_t got = 0;
	int i = 0;

	for (int j = 0; j < n; j++)
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " k%d", keys[j]);
	strcat(cmd, "\r\n");
	put(c, cmd, strlen(cmd));
	for (;;) {
		char name[64];
		unsigned flags;
		size_t len;
		int k;

		get_line(c, line, sizeof line);
		if (!strcmp(line, "END"))
			break;
		if (sscanf(line, "VALUE %63s %u %zu", name, &flags, &len) != 3 || len > MAXVAL ||
		    sscanf(name, "k%d", &k) != 1) {
			fprintf(stderr, "mcload: \"%s\": \"%s\"\n", cmd, line);
			bad = 1;
			return got;
		}
		/* In order of the request; a key may be missing (evicted). */
		while (i < n && keys[i] != k)
			i++;
		if (i == n) {
			fprintf(stderr, "mcload: \"%.60s\": a value for k%d, not asked for here\n", cmd, k);
			bad = 1;
		}
		i++;
		get_bytes(c, v, len);
		get_line(c, line, sizeof line);
		if (line[0] || check(v, len, k))
			bad = 1;
		got += len;
	}
	return got;
}

struct worker {
	pthread_t t;
	unsigned id, ops;
	unsigned long long sets, gets, bytes;
};

static void *work(void *a)
{
	struct worker *w = a;
	struct conn *c = malloc(sizeof *c);
	char *v = malloc(MAXVAL);
	uint64_t s = 0x1234567ull + w->id * 7919u;

	if (!c || !v)
		die("malloc");
	conn_open(c);
	for (unsigned op = 0; op < w->ops && !bad && now() < deadline; op++) {
		unsigned r = (unsigned)(next(&s) % 24);
		int keys[3];

		keys[0] = (int)(next(&s) % (unsigned)nkeys);
		if (r < 2) {
			set(c, v, keys[0]);
			w->sets++;
		} else if (r < 8) {
			keys[1] = (keys[0] + 1 + (int)(next(&s) % 5)) % nkeys;
			keys[2] = (keys[1] + 1 + (int)(next(&s) % 5)) % nkeys;
			w->bytes += get(c, v, keys, 3);
			w->gets++;
		} else {
			w->bytes += get(c, v, keys, 1);
			w->gets++;
		}
	}
	close(c->fd);
	free(c);
	free(v);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: mcload PORT warm KEYS | mcload PORT load KEYS THREADS OPS SECONDS\n");
		return 2;
	}
	port = atoi(argv[1]);
	nkeys = atoi(argv[3]);
	if (!strcmp(argv[2], "warm")) {
		struct conn *c = malloc(sizeof *c);
		char *v = malloc(MAXVAL);

		if (!c || !v)
			die("malloc");
		conn_open(c);
		for (int k = 0; k < nkeys; k++)
			set(c, v, k);
		for (int round = 0; round < 2; round++)
			for (int k = 0; k < nkeys; k++)
				tot_bytes += get(c, v, &k, 1);
		printf("warm keys %d bytes %llu\n", nkeys, tot_bytes);
		return bad;
	}
	if (!strcmp(argv[2], "load") && argc == 7) {
		unsigned nt = (unsigned)atoi(argv[4]);
		struct worker *w = calloc(nt, sizeof *w);

		deadline = now() + atof(argv[6]);
		ver_next = 1000000;   /* above every version warm set */
		for (unsigned i = 0; i < nt; i++) {
			w[i].id = i;
			w[i].ops = (unsigned)atoi(argv[5]);
			if (pthread_create(&w[i].t, NULL, work, &w[i]))
				die("pthread_create");
		}
		for (unsigned i = 0; i < nt; i++) {
			pthread_join(w[i].t, NULL);
			tot_sets += w[i].sets;
			tot_gets += w[i].gets;
			tot_bytes += w[i].bytes;
		}
		printf("sets %llu gets %llu bytes %llu\n", tot_sets, tot_gets, tot_bytes);
		return bad;
	}
	fprintf(stderr, "mcload: unknown mode %s\n", argv[2]);
	return 2;
}
