# See dupsock.c: dup/dup2 copies share a socket's zerocopy state; a number
# reused behind the shim's back starts afresh.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact dupsock
want zc_sends 4 "dupsock: the original, dup and dup2 copies, and the new socket"
want sockets_zc_on 2 "dupsock: two sockets (copies share one)"
expect_corrupt dupsock
finish
