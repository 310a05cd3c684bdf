# See nonblock.c: partial sends and EAGAIN on a non-blocking socket.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults nonblock
expect_corrupt nonblock
finish
