/*
 * decimal.h - an unsigned number's decimal digits, with no library call:
 * the stats dump (signal context), the live page's messages and the
 * settings' path templates share it. Pure logic.
 */
#ifndef ZC_DECIMAL_H
#define ZC_DECIMAL_H

#include <stdint.h>

/* The decimal digits of v, written backwards so that they end just before
 * end; returns where they start (at most 20 bytes). */
static inline char *zc_dec_before(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

#endif
