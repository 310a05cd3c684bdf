/*
 * fuzz_idwin - libFuzzer target for the completion window, against a model.
 *
 * Operations from the input: take an id (a successful call), mark a range
 * [lo, hi] near the window (coalesced, repeated, out of order, wrapping,
 * partly retired, partly in the future), advance. The model is the set of
 * ids the kernel said are released. Properties: an id taken is done exactly
 * when the model says so; base never passes an id that is not released.
 */
#include "idwin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MODEL (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t released[MODEL];   /* by id - first, within MODEL */
	struct zc_idwin w;
	uint32_t first;

	if (size < 4)
		return 0;
	memcpy(&first, data, 4);
	data += 4;
	size -= 4;
	memset(released, 0, sizeof released);
	zc_idwin_init(&w, first);
	while (size >= 3) {
		uint8_t op = data[0];
		uint16_t arg;

		memcpy(&arg, data + 1, 2);
		data += 3;
		size -= 3;
		if (op % 3 == 0) {
			if (zc_idwin_has_room(&w) && w.next - first < MODEL - ZC_IDWIN_BITS)
				zc_idwin_take(&w);
		} else if (op % 3 == 1) {
			/* A range the kernel could send: ids of calls made, plus
			 * at most one early id (a call being recorded). */
			uint32_t made = w.next - first;
			uint32_t lo = made ? arg % (made + 1) : 0;
			uint32_t hi = lo + (uint32_t)(op >> 2) % 16;

			if (hi > made)
				hi = made;   /* id `made` is the early one */
			zc_idwin_mark(&w, first + lo, first + hi);
			for (uint32_t i = lo; i <= hi; i++)
				released[i] = 1;
		} else {
			zc_idwin_advance(&w);
		}
		/* Properties. */
		for (uint32_t i = 0; i < w.next - first; i++)
			if (zc_idwin_is_done(&w, first + i) != released[i])
				abort();
		for (uint32_t i = 0; i < w.base - first; i++)
			if (!released[i])
				abort();
	}
	return 0;
}
