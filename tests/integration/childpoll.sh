# See childpoll.c: a fork child, a _Fork child and a fork+exec child poll
# (and a fork child waits in epoll on) a socket they inherited while their parent's completions arrive: no
# POLLERR in the child or the parent, and the parent's guard still holds.
# (Not run without the guard: the promise is about what poll reports; the
# bytes in flight are childsend's.)
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for mode in fork _fork exec epoll; do
	expect_intact guard_faults childpoll "$mode"
	case $mode in
	fork|_fork|epoll)
		# What the child read reached the parent: message 0 completed
		# there too, and nothing is left counted in flight.
		need completions_relayed "childpoll $mode"
		want inflight_bytes 0 "childpoll $mode: the parent's calls all completed" ;;
	esac
done
finish
