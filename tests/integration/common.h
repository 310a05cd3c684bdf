/*
 * common.h - helpers for the integration test programs.
 *
 * The programs are ordinary programs, not linked against the shim; the
 * harness (lib.sh) runs them under LD_PRELOAD. Each one sends a known
 * byte stream over TCP loopback to a receiver that starts reading late
 * (so the data sits in the sender's queue, still in the program's pages),
 * abuses its buffers right after each send, and checks every byte the
 * receiver got.
 *
 * Exit status: 0 every byte intact, 1 corruption or a wrong result seen by
 * the program, 2 the test could not run, 77 skipped.
 */
#ifndef ITEST_COMMON_H
#define ITEST_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ITEST_OK 0
#define ITEST_CORRUPT 1
#define ITEST_ERROR 2
#define ITEST_SKIP 77

/* Byte j of message m of the stream. */
static inline unsigned char itest_pat(unsigned m, size_t j)
{
	return (unsigned char)(m * 131u + j * 7u + (j >> 9) + 1u);
}

void itest_fill(void *buf, size_t len, unsigned m);

/* A connected TCP pair over 127.0.0.1. The receiver gets a small receive
 * buffer so most of what is sent waits in the sender's queue. */
int itest_tcp_pair(int *snd, int *rcv);

/* The two halves of it: a listener on 127.0.0.1 (its address in *a), and a
 * connected sender with a large send buffer (-1 on failure). */
struct sockaddr_in;
int itest_listen(struct sockaddr_in *a);
int itest_connect(const struct sockaddr_in *a);

/* Read everything from fd in a thread that first sleeps delay_ms; the
 * bytes land in a buffer itest_receiver_join returns (with its length). */
struct itest_rx;
struct itest_rx *itest_receiver_start(int fd, unsigned delay_ms);
/* Bytes received so far; wait (20 s at most) until n have arrived. */
size_t itest_receiver_count(struct itest_rx *rx);
void itest_wait_received(struct itest_rx *rx, size_t n);
unsigned char *itest_receiver_join(struct itest_rx *rx, size_t *len);

/* Compare what arrived with nmsg messages of msglen bytes each. Prints the
 * first difference. Returns the number of wrong or missing bytes. */
size_t itest_verify(const unsigned char *got, size_t gotlen, unsigned nmsg, size_t msglen);

/* Send all of buf (looping over partial sends) with send(). */
int itest_send_all(int fd, const void *buf, size_t len);

/* Ask the shim for its stats line (only when it is loaded). */
void itest_dump_stats(void);

/* Memory no allocator touches: n bytes at a page boundary plus off. */
void *itest_pages(size_t n);

void itest_die(const char *what) __attribute__((noreturn));

#endif
