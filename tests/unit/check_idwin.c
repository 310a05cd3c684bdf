/*
 * check_idwin.c - the window of outstanding zerocopy call ids (idwin.c):
 * wrap-around at 2^32, coalesced, out-of-order and repeated completion
 * ranges, ranges partly retired or beyond the window, completions that
 * arrive before the call took its id, advancing over the released prefix
 * only, and the has_room limit.
 */
#include <stdint.h>

#include "idwin.h"
#include "suites.h"

/* Take n ids, checking they come out in sequence from the current next. */
static void take_n(struct zc_idwin *w, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t want = w->next;

		ck_assert_uint_eq(zc_idwin_take(w), want);
	}
}

START_TEST(test_init)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 77);
	ck_assert_uint_eq(w.base, 77);
	ck_assert_uint_eq(w.next, 77);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 0);
	ck_assert(zc_idwin_has_room(&w));
	ck_assert_uint_eq(zc_idwin_take(&w), 77);
	ck_assert_uint_eq(zc_idwin_take(&w), 78);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 2);
	ck_assert(!zc_idwin_is_done(&w, 77));
	ck_assert(!zc_idwin_is_done(&w, 78));
	/* Before base: retired, so done. */
	ck_assert(zc_idwin_is_done(&w, 76));
}
END_TEST

START_TEST(test_wrap)
{
	struct zc_idwin w;
	uint32_t id;

	zc_idwin_init(&w, 0xFFFFFFF0u);
	take_n(&w, 32);
	ck_assert_uint_eq(w.next, 0x10u);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 32);

	/* A range that crosses the wrap: 0xFFFFFFFE .. 0x3, six ids. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 0xFFFFFFFEu, 0x3u), 6);
	for (id = 0xFFFFFFFEu; id != 0x4u; id++)
		ck_assert_msg(zc_idwin_is_done(&w, id), "id %#x not done", id);
	ck_assert(!zc_idwin_is_done(&w, 0xFFFFFFFDu));
	ck_assert(!zc_idwin_is_done(&w, 0x4u));
	ck_assert(!zc_idwin_is_done(&w, 0xFFFFFFF0u));

	/* Nothing to retire yet: the oldest id is still out. */
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 0xFFFFFFF0u);

	ck_assert_uint_eq(zc_idwin_mark(&w, 0xFFFFFFF0u, 0xFFFFFFFDu), 14);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 0x4u);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 12);
	/* Retired ids on both sides of the wrap read as done. */
	ck_assert(zc_idwin_is_done(&w, 0xFFFFFFF5u));
	ck_assert(zc_idwin_is_done(&w, 0x2u));
	ck_assert(!zc_idwin_is_done(&w, 0x4u));

	/* A range crossing the wrap again, now wholly retired except 4..7. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 0xFFFFFFF8u, 0x7u), 4);
	ck_assert_uint_eq(zc_idwin_mark(&w, 0x8u, 0xFu), 8);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 0x10u);
	ck_assert_uint_eq(w.base, w.next);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 0);
}
END_TEST

START_TEST(test_coalesced)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 100);
	take_n(&w, 10);
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 109), 10);
	for (uint32_t id = 100; id < 110; id++)
		ck_assert(zc_idwin_is_done(&w, id));
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 110);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 0);
}
END_TEST

START_TEST(test_out_of_order)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 100);
	take_n(&w, 10);
	ck_assert_uint_eq(zc_idwin_mark(&w, 105, 107), 3);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 100);
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 101), 2);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 102);
	ck_assert_uint_eq(zc_idwin_mark(&w, 108, 109), 2);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 102);
	ck_assert(!zc_idwin_is_done(&w, 102));
	ck_assert(!zc_idwin_is_done(&w, 104));
	ck_assert(zc_idwin_is_done(&w, 105));
	ck_assert_uint_eq(zc_idwin_mark(&w, 102, 104), 3);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 110);
	ck_assert_uint_eq(w.base, w.next);
}
END_TEST

START_TEST(test_duplicates)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 100);
	take_n(&w, 10);
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 103), 4);
	/* Repeated and overlapping reports count only the new ids. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 101, 102), 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 103), 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 105), 2);
	ck_assert_uint_eq(zc_idwin_mark(&w, 105, 105), 0);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 106);
	/* Once retired, repeats count nothing and leave the window alone. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 100, 105), 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 103, 103), 0);
	ck_assert(!zc_idwin_is_done(&w, 106));
	ck_assert_uint_eq(zc_idwin_mark(&w, 106, 109), 4);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 110);
}
END_TEST

START_TEST(test_partly_retired)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 0);
	take_n(&w, 10);
	ck_assert_uint_eq(zc_idwin_mark(&w, 0, 1), 2);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 2);

	/* [0xFFFFFFF0, 3]: all but 2..3 is retired and must leave no trace. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 0xFFFFFFF0u, 3), 2);
	ck_assert(zc_idwin_is_done(&w, 2));
	ck_assert(zc_idwin_is_done(&w, 3));
	ck_assert(!zc_idwin_is_done(&w, 4));
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 4);

	/* The bitmap is circular: ids 1008..1025 use the bits that retired
	 * ids 0xFFFFFFF0..1 would have set. Bring them into the window. */
	while (w.next != 4 + ZC_IDWIN_BITS - 2)
		zc_idwin_take(&w);
	ck_assert(zc_idwin_has_room(&w));
	for (uint32_t id = 1008; id < 1026; id++)
		ck_assert_msg(!zc_idwin_is_done(&w, id), "id %u done by a retired range", id);
}
END_TEST

START_TEST(test_beyond_window)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 100);
	take_n(&w, 10);
	/* Far beyond: ignored. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 100 + 5000, 100 + 5010), 0);
	ck_assert(!zc_idwin_is_done(&w, 100 + 5000));
	/* Exactly one bitmap length on: the bits alias ids 105..106. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 100 + ZC_IDWIN_BITS + 5, 100 + ZC_IDWIN_BITS + 6), 0);
	ck_assert(!zc_idwin_is_done(&w, 105));
	ck_assert(!zc_idwin_is_done(&w, 106));
	ck_assert(!zc_idwin_is_done(&w, 100 + ZC_IDWIN_BITS + 5));
	/* hi before lo: not a range the kernel sends. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 109, 100), 0);
	/* Nor half the circle or more, even when hi is in the window. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 100 + 0x80000000u, 105), 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 106 + 0x7FFFFFFFu, 105), 0);
	for (uint32_t id = 100; id < 110; id++)
		ck_assert(!zc_idwin_is_done(&w, id));
	/* A range that starts inside and runs far out counts what is out. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 108, 100 + 100000), 2);
	ck_assert(zc_idwin_is_done(&w, 108));
	ck_assert(zc_idwin_is_done(&w, 109));
	ck_assert(!zc_idwin_is_done(&w, 107));
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 100);
}
END_TEST

START_TEST(test_early_completion)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 500);
	take_n(&w, 3);
	/* Another thread reaped the completion of the call that is about to
	 * record its id: not outstanding yet, so not counted, but kept. */
	ck_assert_uint_eq(zc_idwin_mark(&w, 503, 503), 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 500, 502), 3);
	zc_idwin_advance(&w);
	/* Advance never passes next, even over a kept early bit. */
	ck_assert_uint_eq(w.base, 503);
	ck_assert_uint_eq(w.next, 503);
	ck_assert_uint_eq(zc_idwin_take(&w), 503);
	ck_assert(zc_idwin_is_done(&w, 503));
	ck_assert(!zc_idwin_is_done(&w, 504));
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 504);
	/* The retired early bit does not leak into the id that reuses it. */
	take_n(&w, 10);
	ck_assert_uint_eq(zc_idwin_mark(&w, 504, 513), 10);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 514);
	while (w.next != 503 + ZC_IDWIN_BITS + 1)
		zc_idwin_take(&w);
	ck_assert(zc_idwin_has_room(&w));
	ck_assert(!zc_idwin_is_done(&w, 503 + ZC_IDWIN_BITS));
}
END_TEST

START_TEST(test_advance_prefix)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 0);
	take_n(&w, 8);
	ck_assert_uint_eq(zc_idwin_mark(&w, 1, 3), 3);
	ck_assert_uint_eq(zc_idwin_mark(&w, 5, 5), 1);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 0);
	ck_assert_uint_eq(zc_idwin_mark(&w, 0, 0), 1);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 4);
	ck_assert(!zc_idwin_is_done(&w, 4));
	ck_assert(zc_idwin_is_done(&w, 5));
	ck_assert_uint_eq(zc_idwin_mark(&w, 4, 4), 1);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 6);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), 2);
	/* Advancing again with nothing new changes nothing. */
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 6);
}
END_TEST

START_TEST(test_has_room)
{
	struct zc_idwin w;
	uint32_t taken = 0;
	const uint32_t first = 0xFFFFFF00u;

	zc_idwin_init(&w, first);
	while (zc_idwin_has_room(&w)) {
		zc_idwin_take(&w);
		taken++;
		ck_assert_uint_le(taken, ZC_IDWIN_BITS);
	}
	ck_assert_uint_eq(taken, ZC_IDWIN_BITS - 1);
	ck_assert_uint_eq(zc_idwin_outstanding(&w), ZC_IDWIN_BITS - 1);

	/* The slot kept free holds an early completion of the next call. */
	ck_assert_uint_eq(zc_idwin_mark(&w, w.next, w.next), 0);
	/* One more id than the bitmap holds is ignored. */
	ck_assert_uint_eq(zc_idwin_mark(&w, w.next + 1, w.next + 1), 0);
	ck_assert(!zc_idwin_is_done(&w, first));

	/* The whole window at once, crossing the wrap. */
	ck_assert_uint_eq(zc_idwin_mark(&w, first, w.next - 1), ZC_IDWIN_BITS - 1);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, w.next);
	ck_assert(zc_idwin_has_room(&w));
	ck_assert_uint_eq(zc_idwin_take(&w), first + ZC_IDWIN_BITS - 1);
	ck_assert(zc_idwin_is_done(&w, first + ZC_IDWIN_BITS - 1));
	ck_assert(!zc_idwin_is_done(&w, first + ZC_IDWIN_BITS));
}
END_TEST

START_TEST(test_has_room_after_release)
{
	struct zc_idwin w;

	zc_idwin_init(&w, 7);
	take_n(&w, ZC_IDWIN_BITS - 1);
	ck_assert(!zc_idwin_has_room(&w));
	ck_assert_uint_eq(zc_idwin_mark(&w, 8, 8), 1);
	zc_idwin_advance(&w);
	ck_assert(!zc_idwin_has_room(&w));   /* 7 still holds the window */
	ck_assert_uint_eq(zc_idwin_mark(&w, 7, 7), 1);
	zc_idwin_advance(&w);
	ck_assert_uint_eq(w.base, 9);
	ck_assert(zc_idwin_has_room(&w));
	ck_assert_uint_eq(zc_idwin_outstanding(&w), ZC_IDWIN_BITS - 3);
}
END_TEST

Suite *idwin_suite(void)
{
	Suite *s = suite_create("idwin");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_wrap);
	tcase_add_test(tc, test_coalesced);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_partly_retired);
	tcase_add_test(tc, test_beyond_window);
	tcase_add_test(tc, test_early_completion);
	tcase_add_test(tc, test_advance_prefix);
	tcase_add_test(tc, test_has_room);
	tcase_add_test(tc, test_has_room_after_release);
	suite_add_tcase(s, tc);
	return s;
}
