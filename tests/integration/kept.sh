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
# A memcached-shaped reply: the header and END copied beside the kept pages.
# (No expect_corrupt here: with the guard off the shim sends the 30-byte
# header and END in place, and fragments that small shrink the narrow
# receiver's window to a crawl. Its body is checked as overwrite's is.)
expect_intact kept_sends,kept_adopted,bounce_bytes kept reply
expect_intact kept_sends,kept_adopted,bounce_bytes kept reply 100
# (Without the guard a remap loses nothing: the kernel keeps the old pages.)
expect_intact kept_sends kept remap
# An unaligned buffer: its edge pages are kept too where they are sent in
# place (edge_sends, userfaultfd); otherwise its whole pages are kept and its
# edges' bytes copied.
if [ "$ITEST_GUARD" = uffd ]; then
	expect_intact kept_sends,kept_adopted,edge_sends kept overwrite 100
else
	expect_intact kept_sends,kept_adopted,bounce_bytes kept overwrite 100
fi
expect_corrupt kept overwrite 100
finish
