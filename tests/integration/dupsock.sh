# See dupsock.c: dup/dup2 copies share a socket's zerocopy state; a number
# reused behind the shim's back starts afresh, as a socket or as a file.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact guard_faults dupsock
want zc_sends 5 "dupsock: the original, dup and dup2 copies, the new socket, the fourth"
want sockets_zc_on 3 "dupsock: three sockets (copies share one)"
expect_corrupt dupsock
finish
