#!/usr/bin/env bash
# tap_pcap.sh - `stirwire pcap` reading capture files of known content: the fixtures of
# tools/tap/mkcaptures.py (every link type, IPv6 extension headers, IP fragments, TCP
# split / several messages a segment / out of order, retransmitted INVITEs, pcapng, gzip,
# a stale capture time), made from INVITEs signed here with the test STI PKI
# (tools/tap/mkinvites.sh: good ones, one with a tampered signature, one unsigned).
# For every fixture the summary line of --json must be exactly what the generator's
# manifest.json says (calls, retransmissions, results, errors, drop counters, the seen
# counters it is sure of) and so must the exit status (0 without an invalid call, else
# the class most invalid calls fall in). Also: several files at once, standard input,
# --failed-pcap (exactly the failing call's frames), --html (names the failing Call-ID),
# the human table, and a missing or garbage file (exit 2, the file named).
#
# Offline: --certs DIR answers the x5u and CRL URLs from DIR/index ("URL FILE" lines); no
# server runs. When tshark is installed, the fixtures themselves are checked first: the
# INVITEs tshark finds in each (IP reassembly and TCP reassembly included) are the
# manifest's Call-IDs.
#
# Exit 0 all checks pass, 1 any fails, 77 (skip) when python3, openssl or jq is missing.
# KEEP=1 keeps the working directory (fixtures, outputs).
#
# Also stirwired's tap mode with two { pcap = FILE } sources (certificates from a
# prefilled cache directory): its audit verdicts per Call-ID equal stirwire pcap's.
#
# Environment: STIRWIRE, STIRWIRED, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without python3 openssl jq
need_built STIRWIRE
MKCAP="$SRCDIR/tools/tap/mkcaptures.py"
MKINV="$SRCDIR/tools/tap/mkinvites.sh"
make_workdir tap-pcap

X5U=https://cert.example.net/sp-chain.pem
CRL_BASE=https://crl.example.net

# --- the PKI, the INVITEs, the fixtures -----------------------------------------------------
if ! CRL_BASE="$CRL_BASE" "$MKPKI" "$work/pki" >mkpki.out 2>&1; then
    nok "make-test-pki.sh failed: $(tail -3 mkpki.out)"
    finish
fi
mkdir certs
printf '%s %s\n' "$X5U" "$work/pki/sp-chain.pem" "$CRL_BASE/inter.crl" "$work/pki/inter.crl" \
    >certs/index
if STIRWIRE="$STIRWIRE" "$MKINV" inv "$work/pki/sp.key" "$X5U" 4 >mkinv.out 2>&1; then
    ok "mkinvites.sh: $(find inv -type f | wc -l) INVITEs"
else
    nok "mkinvites.sh failed: $(tail -3 mkinv.out)"
    finish
fi
if python3 "$MKCAP" inv caps >mkcap.out 2>&1; then
    ok "mkcaptures.py: $(jq '.fixtures | length' caps/manifest.json) fixtures"
else
    nok "mkcaptures.py failed: $(tail -3 mkcap.out)"
    finish
fi
M=caps/manifest.json
# mf FIXTURE FILTER: a jq filter applied to the fixture's manifest entry.
mf() {
    jq -c --arg f "$1" ".fixtures[\$f] | $2" "$M"
}

# --- the fixtures, seen by tshark -----------------------------------------------------------
# (once per tree: not again in the sanitizer build, where only our code needs checking)
if [ -n "${ASAN_OPTIONS:-}" ]; then
    echo "# sanitizer build: the fixtures were cross-checked with tshark in the plain build"
elif command -v tshark >/dev/null 2>&1; then
    for f in $(jq -r '.fixtures | to_entries[] | select(.value.format != "hep-len32")
                      | select(.key != "hep3.pcap") | .key' "$M"); do
        want="$(mf "$f" '.call_ids | sort | join(" ")' | tr -d '"')"
        # one pass: a line per frame (its SIP method and Call-ID, empty when none)
        tshark -2 -o tcp.reassemble_out_of_order:TRUE -r "caps/$f" -T fields \
            -e frame.number -e sip.Method -e sip.Call-ID >tshark.out 2>/dev/null
        got="$(awk -F'\t' '$2 ~ /(^|,)INVITE(,|$)/ { print $3 }' tshark.out |
            tr ',' '\n' | sort -u | tr '\n' ' ')"
        frames="$(wc -l <tshark.out)"
        if [ "${got% }" = "$want" ] && [ "$frames" -eq "$(mf "$f" .frames)" ]; then
            ok "tshark: $f holds $frames frames and the INVITEs $want"
        else
            nok "tshark: $f: $frames frames (want $(mf "$f" .frames)), INVITEs [${got% }], want [$want]"
        fi
    done
else
    echo "# tshark not installed: the fixtures are not cross-checked"
fi

# --- each fixture, alone --------------------------------------------------------------------
PCAP=(pcap --certs "$work/certs" --ca-file "$work/pki/root.pem" --crl "$work/pki/inter.crl"
    --no-progress)
# summary: the summary object of the last run (its last line of stdout).
summary() {
    tail -n 1 out.txt | jq -cS '.summary' 2>/dev/null
}
# check_summary WHAT EXPECTED: the last run's summary and exit status against EXPECTED (a
# manifest fixture entry, or the same shape): calls, retransmissions, every result,
# errors and drop counters (nonzero ones; all others 0), the seen counters it names.
check_summary() {
    local what="$1" exp="$2" want got code
    want="$(jq -cS '{calls, retransmissions, errors, dropped, seen,
        results: ({"valid": 0, "invalid": 0, "unsigned": 0, "no-tn": 0, "unverifiable": 0,
                   "not-verified": 0} + .results)}' <<<"$exp")"
    got="$(summary | jq -cS --argjson m "$exp" '{calls, retransmissions, results,
        errors: (.errors | with_entries(select(.value != 0))),
        dropped: (.dropped | with_entries(select(.value != 0))),
        seen: (.seen as $s | $m.seen | with_entries(.value = $s[.key]))}' 2>/dev/null)"
    code="$(jq '.exit' <<<"$exp")"
    if [ -z "$got" ]; then
        nok "$what: no summary line (exit $rc): ${out:0:300} ${err:0:300}"
    elif [ "$got" != "$want" ]; then
        nok "$what: summary $got, want $want (exit $rc) ${err:0:200}"
    elif { [ "$code" -ge 0 ] && [ "$rc" -ne "$code" ]; } || { [ "$code" -lt 0 ] && [ "$rc" -eq 0 ]; }; then
        nok "$what: exit $rc, want $code: ${err:0:300}"
    else
        ok "$what: $(jq -c '{calls, retransmissions, results}' <<<"$want"), exit $rc"
    fi
}

for f in $(jq -r '.fixtures | to_entries[] | select(.value.cli) | .key' "$M"); do
    run "${PCAP[@]}" --json -q "caps/$f"
    note=""
    [ "$(mf "$f" .libpcap)" = true ] || note=" (interfaces of different link types)"
    check_summary "$f$note" "$(mf "$f" .)"
    # One audit record per call at least, each call's Call-ID among them.
    missing=""
    for cid in $(mf "$f" '.call_ids[]' | tr -d '"'); do
        head -n -1 out.txt | grep -qF -- "$cid" || missing="$missing $cid"
    done
    if [ -n "$missing" ] || [ "$(head -n -1 out.txt | wc -l)" -lt "$(mf "$f" .calls)" ]; then
        nok "$f: audit records lack Call-IDs:${missing:- (too few records)}"
    else
        ok "$f: an audit record for every call"
    fi
done

# The same capture on standard input.
run "${PCAP[@]}" --json -q - <caps/eth.pcap
check_summary "eth.pcap on standard input" "$(mf eth.pcap .)"

# --- several files at once: merged in time order, counts add up -----------------------------
set -- vlan.pcap frag4.pcap tcp_split.pcap retrans.pcap stale.pcap
sum="$(jq -c '[.fixtures[$ARGS.positional[]]] as $fx | {
    calls: ([$fx[].calls] | add), retransmissions: ([$fx[].retransmissions] | add),
    results: (reduce ($fx[].results | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
    errors: (reduce ($fx[].errors | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
    dropped: (reduce ($fx[].dropped | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
    seen: {frames: ([$fx[].frames] | add)}, exit: -1}' --args "$@" <"$M")"
run "${PCAP[@]}" --json -q "${@/#/caps/}"
check_summary "5 files at once ($*)" "$sum"
# SIGNATURE (class 7) and STALE (class 5) one each: the lower class wins the tie.
expect "5 files at once: exit 5 (one STALE, one SIGNATURE: the lower class)" 5
if [ "$(summary | jq '.inputs | length')" = 5 ] &&
    [ "$(summary | jq '.first <= .last and .span_s >= 7000')" = true ]; then
    ok "5 files at once: 5 inputs, first <= last, the span reaches the stale INVITE"
else
    nok "5 files at once: inputs/first/last/span_s: $(summary | jq -c '{inputs, first, last, span_s}')"
fi

# --- --failed-pcap: exactly the failing call's frames ---------------------------------------
# pcap_frames FILE: the number of records in a classic pcap file (either byte order).
pcap_frames() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = d[:4]
e = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
     b"\xa1\xb2\x3c\x4d": ">"}[magic]
i, n = 24, 0
while i + 16 <= len(d):
    i += 16 + struct.unpack(e + "I", d[i + 8:i + 12])[0]
    n += 1
print(n if i == len(d) else -1)
PY
}
for f in frag4.pcap eth.pcap stale.pcap; do
    rm -f failed.pcap
    run "${PCAP[@]}" --json -q --failed-pcap failed.pcap "caps/$f"
    want="$(mf "$f" .failed_frames)"
    got="$(pcap_frames failed.pcap 2>/dev/null)"
    if [ "$got" = "$want" ]; then
        ok "--failed-pcap ($f): $got frames, the failing call's"
    else
        nok "--failed-pcap ($f): ${got:-no file} frames, want $want (exit $rc) ${err:0:200}"
    fi
    if command -v tshark >/dev/null 2>&1 && [ -f failed.pcap ]; then
        want="$(mf "$f" '[.failed[].call_id] | sort | join(" ")' | tr -d '"')"
        got="$(tshark -r failed.pcap -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID \
            2>/dev/null | sort -u | tr '\n' ' ')"
        if [ "${got% }" = "$want" ]; then
            ok "--failed-pcap ($f): tshark reads it, the INVITE $want"
        else
            nok "--failed-pcap ($f): tshark finds [${got% }], want [$want]"
        fi
    fi
done

# --- --html and the human table -------------------------------------------------------------
cid="$(mf eth.pcap '.failed[0].call_id' | tr -d '"')"
rm -f report.html
run "${PCAP[@]}" -q --html report.html caps/eth.pcap
# the report writes every character that could start markup or a URL as an entity
if [ -s report.html ] &&
    python3 -c 'import html, sys; sys.exit(sys.argv[1] not in html.unescape(open(sys.argv[2]).read()))' \
        "$cid" report.html; then
    ok "--html: report.html names the failing call $cid"
else
    nok "--html: report.html missing or without $cid (exit $rc) ${err:0:200}"
fi
run "${PCAP[@]}" caps/eth.pcap
expect "the human table (no -q) has a Calls section" "$(mf eth.pcap .exit)" 'Calls'

# --- stirwired's tap mode on the same files: { pcap = ... } sources ---------------------------
# The daemon has no --certs: its verifier answers from its cache directory, filled here as
# the verifier itself writes it ("stirwire-cache 1 EXPIRES URL", then the PEM, named by the
# URL's SHA-256); CRL distribution points are not fetched (crl_fetch false, the CRL file
# counts). Its verdicts, per Call-ID, must be those of stirwire pcap on the same files.
if [ -x "${STIRWIRED:-}" ]; then
    mkdir -p cache
    python3 - "$X5U" "$work/pki/sp-chain.pem" cache <<'PY'
import hashlib, sys, time
url, pem, d = sys.argv[1:4]
with open(f"{d}/{hashlib.sha256(url.encode()).hexdigest()}.pem", "w") as f:
    f.write(f"stirwire-cache 1 {int(time.time()) + 86400} {url}\n" + open(pem).read())
PY
    cat >tapd.conf <<CONF
# written by tests/integration/tap_pcap.sh: stirwired reading two capture files
tap = { sources = ( { pcap = "$work/caps/eth.pcap"; }, { pcap = "$work/caps/frag4.pcap"; } ); };
verifier = { ca_file = "$work/pki/root.pem"; crl_files = [ "$work/pki/inter.crl" ];
             crl_fetch = false; cache_dir = "$work/cache"; };
trunks = ( { name = "capture"; match = { source = [ "0.0.0.0/0", "::/0" ]; };
             filters = [ "verify", "audit" ]; verify = { policy = "pass"; };
             audit = { output = "$work/tapd.jsonl"; }; } );
CONF
    if out="$("$STIRWIRED" -t -c tapd.conf 2>&1)" && [ "$out" = "configuration OK" ]; then
        ok "stirwired -t: a tap group of pcap files, no listen, no next_hop: configuration OK"
    else
        nok "stirwired -t tapd.conf: $out"
    fi
    "$STIRWIRED" -f -c tapd.conf 2>tapd.log &
    tapd=$!
    bg_pids+=("$tapd")
    wantn=$(($(mf eth.pcap .calls) + $(mf frag4.pcap .calls)))
    # shellcheck disable=SC2317  # called by waitfor
    tapd_done() { [ -f tapd.jsonl ] && [ "$(wc -l <tapd.jsonl)" -ge "$wantn" ]; }
    waitfor 20 tapd_done || true
    kill -TERM "$tapd" 2>/dev/null
    wait "$tapd"
    trc=$?
    run "${PCAP[@]}" --json -q caps/eth.pcap caps/frag4.pcap
    printf '%s\n' "$out" | jq -r 'select(.call_id) | [.call_id, .verstat, (.error // "-")] | @tsv' |
        sort >cli.tsv
    jq -r 'select(.call_id) | [.call_id, .verstat, (.error // "-"), .result] | @tsv' tapd.jsonl |
        sort >tapd.tsv
    if [ "$trc" -eq 0 ] && [ "$(wc -l <tapd.tsv)" -eq "$wantn" ] &&
        [ "$(cut -f4 tapd.tsv | sort -u)" = observed ] &&
        diff <(cut -f1-3 tapd.tsv) cli.tsv >/dev/null && grep -q 'capture files* read' tapd.log; then
        ok "stirwired { pcap = ... } x2: $wantn calls observed, verdicts equal stirwire pcap's, exit 0"
    else
        nok "stirwired { pcap }: exit $trc, $(wc -l <tapd.tsv) records (want $wantn): $(diff <(cut -f1-3 tapd.tsv) cli.tsv | head -4 | tr '\n' ' ') $(tail -2 tapd.log | tr '\n' ' ')"
    fi
fi

# --- bad input: exit 2, the file named ------------------------------------------------------
run "${PCAP[@]}" -q "$work/no-such.pcap"
expect "a missing file: exit 2, named" 2 'no-such\.pcap' stderr
printf 'this is not a capture file, only some text\n%.0s' 1 2 3 4 >garbage.pcap
run "${PCAP[@]}" -q garbage.pcap
expect "a garbage file: exit 2, named" 2 'garbage\.pcap' stderr

finish
