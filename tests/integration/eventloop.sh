# See eventloop.c: poll, ppoll, select and epoll (level and edge triggered)
# never report the shim's notifications, and still report a real error.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for how in poll ppoll select epoll epollet; do
	before=$failures
	shim "$ITEST_BIN/eventloop" "$how" || fail "eventloop $how"
	need completions "eventloop $how (notifications were pending)"
	need errors_hidden "eventloop $how (the wait hid the notifications' error condition)"
	[ $failures -eq $before ] && log "ok: $how hides $(num completions) notifications ($(num errors_hidden) error conditions), reports the reset"
done
finish
