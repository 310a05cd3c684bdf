# A buffer sent again unchanged goes by its socket's ring (kept_sends), then
# is changed right after a send while a ring call is out (kept_adopted):
# overwritten, by two threads at once, or its memory unmapped and mapped
# again.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
expect_intact kept_sends,kept_adopted,guard_faults kept overwrite
expect_corrupt kept overwrite
expect_intact kept_sends,kept_adopted,guard_faults kept threads
expect_corrupt kept threads
expect_intact kept_sends,kept_adopted kept close
expect_corrupt kept close
# (Without the guard a remap loses nothing: the kernel keeps the old pages.)
expect_intact kept_sends kept remap
# An unaligned buffer: its edge pages are kept too where they are sent in
# place (edge_sends).
if [ "$ITEST_GUARD" = uffd ]; then
	expect_intact kept_sends,kept_adopted,edge_sends kept overwrite 100
	expect_corrupt kept overwrite 100
else
	log "SKIP: kept overwrite 100: the $ITEST_GUARD guard copies a buffer's unaligned edges, so its pages are never all kept"
fi
finish
