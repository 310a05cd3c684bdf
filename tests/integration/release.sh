# The release library has no test knob: ZCSHIM_TEST_* (src/platform/testhooks.h)
# exist only in the test build the other integration tests preload. The
# release library holds none of their names, a program run with
# ZCSHIM_TEST_NO_GUARD=1 keeps its guard, and `make install` installs the
# release library alone, with no file that names a test knob. The test
# build does have the knobs (else this test would prove nothing).
ITEST_RELEASE=1
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
command -v strings >/dev/null || skip "needs strings (binutils)"

# knobs LIB: how many strings of LIB name a ZCSHIM_TEST_ setting.
knobs() { strings -a "$1" | grep -c ZCSHIM_TEST_; }

n=$(knobs "$ZCSHIM_RELEASE_LIB")
[ "$n" -eq 0 ] || fail "the release library $ZCSHIM_RELEASE_LIB names a test knob: $(strings -a "$ZCSHIM_RELEASE_LIB" | grep ZCSHIM_TEST_ | head -3 | tr '\n' ' ')"
for k in ZCSHIM_TEST_NO_GUARD ZCSHIM_TEST_NO_ALTSTACK ZCSHIM_TEST_HOLD_US ZCSHIM_TEST_COPY_SIGNAL \
	 ZCSHIM_TEST_READER_DELAY_US; do
	strings -a "$ZCSHIM_TEST_LIB" | grep -qx "$k" ||
		fail "the test build $ZCSHIM_TEST_LIB does not have $k"
done
[ $failures -eq 0 ] && log "ok: no test knob in the release library, all five in the test build"

# The knob does nothing in the release library: the guard stays on (and
# the same run on the test build shows the knob really turns it off).
if ! wrapped; then   # expect_corrupt is left out under valgrind (lib.sh)
	EXTRA_ENV=ZCSHIM_TEST_NO_GUARD=1 expect_intact guard_faults overwrite send
	ZCSHIM_LIB=$ZCSHIM_TEST_LIB
	expect_corrupt overwrite send
	ZCSHIM_LIB=$ZCSHIM_RELEASE_LIB
fi

# make install: the release library and no test build; no installed file
# names a test knob (the library, zcstat, the launcher, the man pages).
TOP_BUILD=$(cd "$ITEST_BIN/../.." && pwd)
DEST=$(mktemp -d /tmp/zcshim-release.XXXXXX)
trap 'rm -rf "$DEST" "$STATS"' EXIT
if [ -f "$TOP_BUILD/Makefile" ]; then
	if make -s -C "$TOP_BUILD" install DESTDIR="$DEST" > "$DEST.log" 2>&1; then
		libs=$(cd "$DEST" && find . -name '*.so*' | sort)
		case "$libs" in
		*/libzcshim.so) [ "$(echo "$libs" | wc -l)" -eq 1 ] || fail "make install installs more than the release library: $libs" ;;
		*) fail "make install: the libraries installed are '$libs', want one libzcshim.so" ;;
		esac
		named=$(grep -rla ZCSHIM_TEST_ "$DEST")
		[ -z "$named" ] || fail "installed files name a test knob: $named"
		[ $failures -eq 0 ] && log "ok: make install: only ${libs#./}, no installed file names a test knob"
	else
		fail "make install DESTDIR=$DEST failed: $(tail -n 5 "$DEST.log")"
	fi
	rm -f "$DEST.log"
else
	fail "no Makefile in $TOP_BUILD: cannot check make install"
fi
finish
