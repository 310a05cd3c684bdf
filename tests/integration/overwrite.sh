# Overwrite after each of the six send calls (unaligned buffers and iovecs).
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for mode in send sendto sendmsg sendmmsg write writev; do
	expect_intact guard_faults overwrite "$mode"
	expect_corrupt overwrite "$mode"
done
finish
