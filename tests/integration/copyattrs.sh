# See copyattrs.c: a private copy of in-flight pages keeps the mapping's
# attributes (or is not made: the write waits for the completion).
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
# Attributes a fresh mapping can be given: the copy carries them over.
# plain: none (the copy needs nothing); futurelock: mapped before
# mlockall(MCL_FUTURE), so its copy, mapped after, must be unlocked again.
carried="wipeonfork dontfork dontdump hugepage nohugepage mergeable mlock mlockonfault noreserve name mbind pkey futurelock"
for attr in plain $carried uffd; do
	for how in write close; do
		# A userfaultfd registration cannot be carried: no copy is made,
		# and after close() nothing could ever release the pages for a
		# write, so only the write is tried.
		[ $attr = uffd ] && [ $how = close ] && continue
		before=$failures
		shim "$ITEST_BIN/copyattrs" $attr $how 2>"$STATS.err"
		rc=$?
		if [ $rc = 77 ]; then
			log "SKIP: $attr $how: $(cat "$STATS.err")"
			continue
		fi
		[ $rc = 0 ] || fail "copyattrs $attr $how exited $rc: $(cat "$STATS.err")"
		if [ "$ITEST_GUARD" != mprotect ]; then
			# The userfaultfd guard never replaces a mapping, so
			# every attribute stays (copyattrs checks them). It
			# copies in place only with kernel-fault rights and
			# where pages can be discarded (not locked): elsewhere
			# the write waits. Memory the program registered with a
			# userfaultfd of its own is not guarded: the send is copied.
			case $attr in
			uffd) need guard_uffd_busy "copyattrs uffd (the program's own userfaultfd: copied)"
			      want zc_sends 0 "copyattrs uffd (nothing sent from the program's userfaultfd memory)" ;;
			mlock|mlockonfault)
			      need zc_sends "copyattrs $attr $how"
			      want cow_pages 0 "copyattrs $attr $how (locked pages: the write waits)" ;;
			*)    need zc_sends "copyattrs $attr $how"
			      if [ "$ITEST_GUARD" = uffd ]; then
				      [ $how = write ] && need guard_uffd_copies "copyattrs $attr $how (copied in place)"
			      else
				      want cow_pages 0 "copyattrs $attr $how (no kernel-fault rights: the write waits)"
			      fi ;;
			esac
			[ $failures -eq $before ] && log "ok: $attr $how ($ITEST_GUARD: $(num guard_uffd_copies) in place, $(num cow_attr_waits) waits)"
			continue
		fi
		need zc_sends "copyattrs $attr $how"
		if ! wrapped; then
			if [ $attr = uffd ]; then
				need cow_attr_waits "copyattrs uffd write (no copy: the write waited)"
				want cow_pages 0 "copyattrs uffd write (a copy would drop the registration)"
			else
				need cow_pages "copyattrs $attr $how (a private copy was made)"
			[ $attr = plain ] && want cow_attr_pages 0 "copyattrs plain $how (nothing to give the copy)"
			fi
		fi
		[ $failures -eq $before ] && log "ok: $attr $how ($(num cow_pages) pages copied, $(num cow_attr_pages) with attributes, $(num cow_attr_waits) waits)"
	done
done
rm -f "$STATS.err"
# Without the guard the same program sees its write on the wire.
expect_corrupt copyattrs dontdump write
finish
