# zcstat --prometheus: Prometheus's text exposition format (0.0.4), for
# node_exporter's textfile collector. A strict parser checks every line:
# HELP and TYPE once per metric, before its samples, samples of a metric
# together, valid metric and label names, escaped label values (a program
# named with a quote and a backslash), unique series, numeric values;
# counters libzcshim_<field>_total, the levels (inflight_bytes...) gauges;
# every field of the X-macro list, with the value --json gives.
. "${ITEST_SRC:?set by make check}/lib.sh" || exit 99
TOOLS=$(cd "$ITEST_BIN/../../tools" && pwd)
D=$(mktemp -d /tmp/zcshim-prom.XXXXXX)
trap 'rm -rf "$D" "$STATS"' EXIT
mkdir "$D/pages"
EXTRA_ENV="ZCSHIM_STATS_DIR=$D/pages"
cp "$ITEST_BIN/livesend" "$D/zc\"q\\x"
shim "$ITEST_BIN/livesend" 5 0 > /dev/null || fail "livesend failed"
shim "$D/zc\"q\\x" 7 0 > /dev/null || fail "livesend (renamed) failed"
"$TOOLS/zcstat" --dir "$D/pages" --ended --prometheus > "$D/prom" || fail "zcstat --prometheus failed"
"$TOOLS/zcstat" --dir "$D/pages" --ended --json > "$D/json" || fail "zcstat --json failed"
wrapped && W=1 || W=0   # under valgrind, comm is valgrind's
python3 - "$D/prom" "$D/json" "$ITEST_SRC/../../include/zcshim.h" "$W" <<'PY' || fail "zcstat --prometheus output is not valid: see above"
import json, re, sys

prom, js, header, wrapped = sys.argv[1:5]
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'"((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
sample_re = re.compile(r'^(%s)\{((?:%s=%s)(?:,%s=%s)*)\} (\S+)$' % (NAME, LABEL, VALUE, LABEL, VALUE))
label_re = re.compile(r'(%s)=%s' % (LABEL, VALUE))
gauges = {"inflight_bytes", "inflight_max_bytes", "idle_ranges", "cost_pair_ns",
          "cost_pair_page_ns", "cost_copy_page_ns", "guard_once_min_pages",
          "guard_uffd", "guard_kernel_faults"}
fields = re.findall(r'^\s*X\((\w+),', open(header).read(), re.M)
errors = []
helped, typed, done, series = {}, {}, set(), set()
current = None
values = {}

def unescape(v):
    return re.sub(r'\\(.)', lambda m: {'n': '\n', '\\': '\\', '"': '"'}[m.group(1)], v)

for no, line in enumerate(open(prom), 1):
    line = line.rstrip('\n')
    def bad(why):
        errors.append("line %d: %s: %r" % (no, why, line))
    if line.startswith('#'):
        m = re.match(r'^# (HELP|TYPE) (%s) (.*)$' % NAME, line)
        if not m:
            bad("a comment that is neither HELP nor TYPE")
            continue
        kind, name, rest = m.groups()
        if name in done:
            bad("HELP/TYPE after the metric's samples")
        table = helped if kind == 'HELP' else typed
        if name in table:
            bad("a second " + kind)
        table[name] = rest
        if kind == 'TYPE' and rest not in ('counter', 'gauge'):
            bad("type " + rest)
        if kind == 'HELP' and re.search(r'\\[^\\n]', rest):
            bad("bad escape in HELP")
        continue
    m = sample_re.match(line)
    if not m:
        bad("not a sample line")
        continue
    name, value = m.group(1), m.group(len(m.groups()))
    labels = dict((k, unescape(v)) for k, v in label_re.findall(m.group(2)))
    if name not in helped or name not in typed:
        bad("sample before its HELP and TYPE")
    if current != name:
        if name in done:
            bad("samples of a metric not together")
        if current:
            done.add(current)
        current = name
    key = (name, tuple(sorted(labels.items())))
    if key in series:
        bad("duplicate series")
    series.add(key)
    if set(labels) != {"pid", "comm"} or not labels["pid"].isdigit():
        bad("labels should be pid and comm")
    try:
        v = float(value)
    except ValueError:
        bad("value is not a number")
        continue
    if v < 0 or v != v:
        bad("negative or NaN")
    field = name[len("libzcshim_"):]
    if typed.get(name) == 'counter':
        if not name.endswith("_total"):
            bad("a counter not named _total")
        field = field[:-len("_total")]
    if (field in gauges) != (typed.get(name) == 'gauge'):
        bad("wrong type for " + field)
    values[(labels["pid"], labels["comm"], field)] = v

procs = [json.loads(l) for l in open(js)]
if len(procs) != 2:
    errors.append("want 2 processes in --json, got %d" % len(procs))
comms = sorted(p["comm"] for p in procs)
if wrapped == "0" and comms != sorted(["livesend", 'zc"q\\x']):
    errors.append("comms %r" % comms)
for p in procs:
    for f in fields:
        got = values.get((str(p["pid"]), p["comm"], f))
        if got is None:
            errors.append("no sample of %s for pid %d (%r)" % (f, p["pid"], p["comm"]))
        elif got != p[f]:
            errors.append("%s of pid %d: %s in prometheus, %s in json" % (f, p["pid"], got, p[f]))
    if p["zc_sends"] <= 0:
        errors.append("pid %d sent nothing with zerocopy" % p["pid"])
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
PY
[ $failures -eq 0 ] && log "ok: --prometheus parses strictly, every field of both processes, values as --json"
finish
