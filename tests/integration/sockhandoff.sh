# See sockhandoff.c: a socket the shim has sent zerocopy on keeps its
# notifications away from the program (no POLLERR, no MSG_ERRQUEUE entry)
# until all its calls complete, whatever the program does with its fds:
# dup (before or after the first send) and close the original, a failed dup2/dup3, connect again (EISCONN),
# IP_RECVERR set by the program, a UDP socket connected elsewhere.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99

for c in dupclose fdclose dupearly dup2fail eisconn recverr; do
	f0=$failures
	shim "$ITEST_BIN/sockhandoff" $c
	rc=$?
	[ $rc -eq 0 ] || fail "$c: exited $rc (want 0: no notification seen, every byte intact)"
	need zc_sends "$c: the first message went out with zerocopy"
	[ $failures -eq $f0 ] && log "ok: $c ($(num zc_sends) zerocopy sends, $(num completions) completions)"
done

# UDP over loopback: completions come at once, but the socket's state must
# follow connect() and IP_RECVERR, and the program's own ICMP error must
# reach it through the error queue the shim has used.
for c in recverrudp reconnudp; do
	f0=$failures
	shim "$ITEST_BIN/sockhandoff" $c
	rc=$?
	[ $rc -eq 0 ] || fail "$c: exited $rc (want 0)"
	need zc_sends "$c: the first datagram went out with zerocopy"
	[ $c = reconnudp ] && want zc_sends 3 "reconnudp: a socket connected elsewhere, then disconnected, still sends zerocopy"
	[ $failures -eq $f0 ] && log "ok: $c ($(num zc_sends) zerocopy sends, $(num completions) completions)"
done
finish
