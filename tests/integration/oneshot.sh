# See oneshot.c: a one-shot epoll registration used up by the shim's
# notifications is armed again; the program's own event is reported once.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
shim "$ITEST_BIN/oneshot" || fail "oneshot: the program's event was lost or repeated"
need completions "oneshot (notifications arrived)"
need epoll_rearms "oneshot (a one-shot report of the shim's was hidden during the wait)"
[ $failures -eq 0 ] && log "ok: reply reported once after $(num epoll_rearms) re-arms"
finish
