# A signal landing while the shim copies a send's unaligned ends into its
# bounce memory: the program's handler runs once the copy is done, never
# inside it (where it could unmap what is being copied, send and so open a
# copy of its own, or see its SIGSEGV taken for a bad pointer of the copy).
# See copywindow.c. With both ways of holding signals back (ZCSHIM_SIGNALS).
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
for signals in defer block; do
	for mode in unmap nested segv; do
		sig=12; [ $mode = segv ] && sig=11
		before=$failures
		EXTRA_ENV="ZCSHIM_TEST_COPY_SIGNAL=$sig ZCSHIM_SIGNALS=$signals" shim "$ITEST_BIN/copywindow" $mode
		rc=$?
		[ $rc -eq 0 ] || fail "copywindow $mode (ZCSHIM_SIGNALS=$signals) exited $rc (1: a wrong result, 139: killed by SIGSEGV)"
		need zc_sends "copywindow $mode (ZCSHIM_SIGNALS=$signals): the send under test went out with zerocopy"
		[ $failures -eq $before ] &&
			log "ok: $mode, ZCSHIM_SIGNALS=$signals: the whole send went out, the handler ran once, every datagram intact"
	done
done
finish
