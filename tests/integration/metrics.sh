#!/usr/bin/env bash
# metrics.sh - the /metrics text as Prometheus reads it, and the Grafana dashboard over it.
#
# tests/integration/metrics_dump prints sw_metrics_text() of made-up counters (every
# counter a different value) and of a fresh verifier; "metrics_dump serve" the same
# without the counters, as "stirwire serve" serves it. Checks:
#  - promtool check metrics (Debian's prometheus package) accepts both, lint included;
#  - the dashboard etc/grafana/stirwire-dashboard.json is valid JSON (python -m json.tool),
#    every metric name in its PromQL expressions is a family in the dump, every label it
#    groups or filters by is a label of that family, and promtool parses every expression
#    (as a recording rule, with the Grafana variables replaced).
# Skips (77) without python3; the promtool checks skip alone when promtool is absent
# (make check on a machine without Prometheus still checks the dashboard).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUMP="${METRICS_DUMP:-$BUILDDIR/tests/integration/metrics_dump}"
DASH="$SRCDIR/etc/grafana/stirwire-dashboard.json"

skip_without python3
need_built DUMP
make_workdir metrics

if "$DUMP" >dump.txt && "$DUMP" serve >serve.txt; then
    ok "metrics_dump wrote $(grep -c '^# TYPE' dump.txt) families, $(grep -vc '^#' dump.txt) samples"
else
    nok "metrics_dump failed"
    finish
fi

# --- the exposition itself ------------------------------------------------------------------
if command -v promtool >/dev/null 2>&1; then
    for f in dump.txt serve.txt; do
        if promtool check metrics <"$f" >"$f.promtool" 2>&1 && [ ! -s "$f.promtool" ]; then
            ok "promtool check metrics: $f accepted, no lint finding"
        else
            nok "promtool check metrics on $f: $(head -5 "$f.promtool")"
        fi
    done
else
    echo "# promtool not installed (Debian: apt-get install prometheus): its checks skipped"
fi
dups="$(grep '^# TYPE' dump.txt | awk '{print $3}' | sort | uniq -d)"
if [ -z "$dups" ]; then ok "no family declared twice"; else nok "families declared twice: $dups"; fi
if grep -q '^stirwire_received_total ' serve.txt; then
    nok "serve: the proxy's counters are there without a proxy"
elif grep -q '^stirwire_verifier_cache_hits_total ' serve.txt &&
    grep -q '^stirwire_build_info{' serve.txt; then
    ok "serve: the verifier and build info only"
else
    nok "serve: verifier or build info missing: $(head -3 serve.txt)"
fi

# --- the dashboard ----------------------------------------------------------------------------
if python3 -m json.tool "$DASH" >/dev/null 2>json.err; then
    ok "dashboard is valid JSON"
else
    nok "dashboard is not valid JSON: $(cat json.err)"
    finish
fi
# Every expression (panel targets and the variables' queries), one a line, and what they
# name: metric names, and for each the labels it is grouped or filtered by.
python3 - "$DASH" dump.txt >dash.check 2>&1 <<'PY'
import json, re, sys

dash = json.load(open(sys.argv[1]))
exprs = []
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("expr", "definition") and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(dash)
# the dump: family -> its labels (and the labels Prometheus adds at scrape time)
fams = {}
for line in open(sys.argv[2]):
    if line.startswith("# TYPE "):
        fams[line.split()[2]] = set()
    elif not line.startswith("#"):
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
        fams.setdefault(m.group(1), set()).update(re.findall(r'([a-zA-Z_]\w*)="', m.group(3) or ""))
scrape = {"instance", "job"}
bad = 0
print("EXPRS %d" % len(exprs))
with open("exprs.txt", "w") as out:
    for e in exprs:
        if not e.startswith("label_values("):
            out.write(e + "\n")
        names = set(re.findall(r"\bstirwire_[a-zA-Z0-9_]+", e))
        if not names:
            print("NONAME %s" % e); bad += 1
        for n in sorted(names):
            if n not in fams:
                print("UNKNOWN %s in %s" % (n, e)); bad += 1
        # labels in selectors {l="v"} / {l!="v"} and in by (...) / without (...)
        labels = set(re.findall(r'[{,]\s*([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)', e))
        for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
            labels.update(l.strip() for l in grp.split(",") if l.strip())
        have = set().union(*(fams.get(n, set()) for n in names)) | scrape
        for l in sorted(labels - have):
            print("LABEL %s not on %s in %s" % (l, ",".join(sorted(names)), e)); bad += 1
        print("NAMES %s" % " ".join(sorted(names)))
sys.exit(1 if bad else 0)
PY
rc=$?
n="$(sed -n 's/^EXPRS //p' dash.check)"
if [ "$rc" -eq 0 ] && [ "${n:-0}" -ge 6 ]; then
    ok "dashboard: $n expressions name only metrics and labels the dump has ($(grep '^NAMES' dash.check | tr ' ' '\n' | grep -c stirwire_ | tr -d ' ') names)"
else
    nok "dashboard expressions ($n): $(grep -v '^NAMES\|^EXPRS' dash.check | head -10)"
fi
# the panels this test's brief asks for are there, by the metric each needs
for m in stirwire_verify_total stirwire_verifier_fetches_total stirwire_parked_total \
    stirwire_sign_signed_total stirwire_forwarded_requests_total \
    stirwire_verifier_cache_hits_total; do
    if grep -q "$m" exprs.txt; then ok "dashboard has a panel on $m"; else nok "no panel on $m"; fi
done
if command -v promtool >/dev/null 2>&1; then
    # Grafana's variables replaced by what it would put there; one recording rule each
    {
        echo "groups:"
        echo "  - name: dashboard"
        echo "    rules:"
        i=0
        while IFS= read -r e; do
            i=$((i + 1))
            e="${e//\$__rate_interval/5m}"
            e="${e//\$instance/.*}"
            printf '      - record: dashboard:expr%d\n        expr: %s\n' "$i" \
                "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$e")"
        done <exprs.txt
    } >rules.yml
    if promtool check rules rules.yml >rules.out 2>&1; then
        ok "promtool parses every dashboard expression ($(grep -c 'record:' rules.yml) rules)"
    else
        nok "promtool check rules: $(head -8 rules.out)"
    fi
fi
finish
