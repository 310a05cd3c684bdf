# The stats line: valid JSON, every documented key, the right pid.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
out=$(shim "$ITEST_BIN/statsjson")
rc=$?
[ $rc -eq 0 ] || fail "statsjson exited $rc"
python3 - "$STATS" "$out" <<'PY' || fail "stats lines are not what libzcshim(7) documents"
import json, sys
path, pid = sys.argv[1], int(sys.argv[2])
required = """pid ts version guard guard_kernel_faults zc_sends zc_bytes copy_sends copy_bytes completions
completions_copied guard_faults guard_stall_ns cow_pages enobufs_fallbacks
inflight_bytes inflight_max_bytes sockets_zc_off""".split()
lines = open(path).read().splitlines()
assert len(lines) == 2, f"{len(lines)} lines, want 2 (two signals)"
for line in lines:
    d = json.loads(line)
    missing = [k for k in required if k not in d]
    assert not missing, f"missing keys {missing}"
    assert d["pid"] == pid, f"pid {d['pid']} != {pid}"
    for k, v in d.items():
        if k not in ("version", "guard"):
            assert isinstance(v, (int, float)) and v >= 0, f"{k}={v!r}"
    assert d["zc_sends"] >= 1, "no zerocopy send counted"
    assert d["guard"] in ("mprotect", "uffd"), f"guard={d['guard']!r}"
    assert d["guard_kernel_faults"] in (0, 1), f"guard_kernel_faults={d['guard_kernel_faults']!r}"
    assert (d["guard"] == "uffd") == (d["guard_uffd"] == 1), f"guard={d['guard']!r} guard_uffd={d['guard_uffd']}"
a, b = (json.loads(l) for l in lines)
assert b["ts"] >= a["ts"]
print("statsjson: ok:", len(required), "keys present in both lines")
PY
finish
