#!/usr/bin/env bash
# tap_capture.sh - `stirwire pcap` on a real capture: sipp calls through a signing
# stirwired (the test STI PKI, its x5u on an HTTPS host on loopback), the signed leg
# (stirwired -> sipp callee) captured with dumpcap or tcpdump, then judged offline.
#
#   sipp UAC 127.0.0.2 -> stirwired (sign) 127.0.0.1 -> sipp UAS 127.0.0.3:$UAS
#                                        \__ captured: udp port $UAS -> cap.pcap
#
# Checked:
#  a. `stirwire pcap --json` (fetch options as `stirwire check` has them): one record per
#     INVITE, every call valid (TN-Validation-Passed, result "observed"), the summary's
#     results.valid equal to the INVITEs tshark finds (distinct Call-IDs, so a
#     retransmission counts once), invalid 0, exit 0; the same with the certificate from
#     --certs DIR (an index file), which then is not fetched from the x5u host.
#  b. a copy with the 10th call's Identity signature altered (same length, the UDP
#     checksum fixed up) and the 20th call's INVITE 2 h later (moved to the end, so the
#     file stays in time order): exactly those two calls are invalid, with the library's
#     error names (SIGNATURE; DATE_STALE under the default --date check, STALE, the iat,
#     with --date ignore), every other call valid, the exit status the class most invalid
#     calls fall in (a tie, so the lower: STALE's 5; SIGNATURE's 7 alone).
#  c. --html on that copy: the report names the altered call and has a summary
#     (tests/integration/html_check.sh renders it in chromium, when that script is
#     there); --failed-pcap writes the two failing INVITEs' frames.
#
# Runs in a network namespace of its own (tap_lib.sh). Exit 0 all pass, 1 any fails, 77
# when sipp, tshark, openssl, python3 or a capture program is missing, or no namespace
# can be made. KEEP=1 keeps the directory.
#
# Environment: STIRWIRED, STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=tap_lib.sh
. "$(dirname "$0")/tap_lib.sh"

tap_enter_netns "$@"
SKIP_HINT="sipp is in Debian's sip-tester, tshark in tshark" skip_without sipp python3 openssl tshark jq
tap_need_capture
need_built STIRWIRED STIRWIRE
make_workdir tap-capture
before_finish() { tap_before_finish; }

CALLS=50
HTML_CHECK="$SRCDIR/tests/integration/html_check.sh"

# --- the capture ----------------------------------------------------------------------------
tap_signer
tap_capture_start cap.pcap "udp port $UAS"
tap_calls "capture" "$CALLS"
tap_capture_stop
tap_stop_sw signer "$signer_pid"

# One tshark pass: each INVITE frame's Call-ID and Identity.
tshark -r cap.pcap -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID -e sip.Identity \
    2>/dev/null >invites.tsv
cut -f1 invites.tsv | sort -u >tshark-calls.txt
n="$(wc -l <tshark-calls.txt)"
python3 "$TAP_EDIT" calls cap.pcap | sort >calls.txt
if [ "$n" -eq "$CALLS" ] && cmp -s tshark-calls.txt calls.txt; then
    ok "cap.pcap: tshark finds $n INVITEs (distinct Call-IDs), $(wc -l <invites.tsv) INVITE frames"
else
    nok "cap.pcap: tshark finds $n distinct INVITEs, want $CALLS (tap_pcapedit.py: $(wc -l <calls.txt))"
    finish
fi
unsigned="$(awk -F'\t' '$2 == ""' invites.tsv | wc -l)"
if [ "$unsigned" -eq 0 ]; then
    ok "cap.pcap: every INVITE carries an Identity"
else
    nok "cap.pcap: $unsigned INVITE frames without an Identity"
fi

if ! "$STIRWIRE" pcap --help >/dev/null 2>&1; then
    nok "stirwire has no pcap command (stirwire pcap --help: $("$STIRWIRE" pcap --help 2>&1 | head -c 200))"
    finish
fi

# pcap_json WHAT FILE OPTION...: stirwire pcap --json; the output in WHAT.json, the exit
# status in prc, the per-call verdicts (tap_lib.sh's verdicts) in WHAT.verdicts.
pcap_json() {
    local what="$1" f="$2"
    shift 2
    "$STIRWIRE" pcap --json --no-progress "$@" "$f" >"$what.json" 2>"$what.err"
    prc=$?
    verdicts "$what.json" >"$what.verdicts"
}
# expect_summary WHAT KEY WANT: the summary of WHAT.json has KEY (.results.valid) = WANT.
expect_summary() {
    local got
    got="$(summary_get "$1.json" "$2")"
    if [ "$got" = "$3" ]; then
        ok "$1: summary $2 = $3"
    else
        nok "$1: summary $2 = '$got', want $3 (stderr: $(head -c 300 "$1.err"))"
    fi
}

# --- a. every call valid --------------------------------------------------------------------
pcap_json all cap.pcap "${FETCH[@]}"
if [ "$prc" -eq 0 ]; then
    ok "stirwire pcap --json cap.pcap: exit 0"
else
    nok "stirwire pcap --json cap.pcap: exit $prc: $(head -c 400 all.err)"
fi
expect_summary all .results.valid "$n"
expect_summary all .results.invalid 0
expect_summary all .calls "$n"
expect_summary all .attest.A "$n"
expect_summary all .inputs '["cap.pcap"]'
# one record per INVITE, each TN-Validation-Passed and observed, for exactly tshark's calls
cut -f1 all.verdicts >all.ids
good="$(awk -F'\t' '$2 == "TN-Validation-Passed" && $3 == "-" && $4 == "observed"' all.verdicts | wc -l)"
if cmp -s all.ids tshark-calls.txt && [ "$good" -eq "$n" ]; then
    ok "stirwire pcap --json: one record per INVITE ($n), each TN-Validation-Passed, no error, observed"
else
    nok "stirwire pcap --json: $(wc -l <all.ids) records ($good passed and observed) for $n INVITEs: $(grep -v 'TN-Validation-Passed' all.verdicts | head -3 | tr '\t\n' ' ')"
fi

# The certificate from --certs (an index line "URL FILE"): the x5u host is not asked for it.
mkdir -p certs
cp pki/sp-chain.pem certs/sp-chain.pem
echo "$X5U sp-chain.pem" >certs/index
x5u_requests() {
    python3 -c '
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
d = json.loads(urllib.request.urlopen(sys.argv[2] + "/count", context=ctx, timeout=5).read())
print(d.get("/sp-chain.pem", 0))' "$work/tls/tls-ca.pem" "$base" 2>/dev/null
}
before="$(x5u_requests)"
pcap_json certs cap.pcap "${FETCH[@]}" --certs "$work/certs"
after="$(x5u_requests)"
if [ "$prc" -eq 0 ] && [ "$(summary_get certs.json .results.valid)" = "$n" ] &&
    [ -n "$before" ] && [ "$before" = "$after" ]; then
    ok "stirwire pcap --certs DIR: $n valid, exit 0, the x5u host not asked ($before requests before and after)"
else
    nok "stirwire pcap --certs DIR: exit $prc, valid $(summary_get certs.json .results.valid) of $n, x5u requests $before -> $after: $(head -c 300 certs.err)"
fi

# --- b. one signature altered, one call 2 h late ------------------------------------------
sig_id="$(python3 "$TAP_EDIT" tamper cap.pcap sig.pcap 10)" || {
    nok "tap_pcapedit.py tamper failed"
    finish
}
old_id="$(python3 "$TAP_EDIT" shift sig.pcap bad.pcap 20 7200)" || {
    nok "tap_pcapedit.py shift failed"
    finish
}
# the copies are still captures tshark reads whole, in time order
tshark -r bad.pcap -T fields -e frame.time_epoch -e sip.Method -e sip.Call-ID 2>/dev/null >bad.tsv
order="$(awk -F'\t' 'NR > 1 && $1 < prev { bad++ } { prev = $1 } END { print NR, bad + 0 }' bad.tsv)"
bad_n="$(awk -F'\t' '$2 == "INVITE" { print $3 }' bad.tsv | sort -u | wc -l)"
if [ "$bad_n" -eq "$n" ] && [ "${order#* }" = 0 ]; then
    ok "bad.pcap: call 10 ($sig_id) signature altered, call 20 ($old_id) 2 h later and last; $n INVITEs, ${order% *} frames in time order"
else
    nok "bad.pcap: tshark finds $bad_n INVITEs, frames/out of order: $order"
fi

# expect_bad WHAT WANT_EXIT OLD_ERROR: WHAT.json has exactly $sig_id (SIGNATURE) and
# $old_id (OLD_ERROR) invalid, TN-Validation-Failed, everything else valid.
expect_bad() {
    local what="$1" want="$2" old_err="$3" rows others
    if [ "$prc" -eq "$want" ]; then
        ok "$what: exit $prc (the class most invalid calls fall in)"
    else
        nok "$what: exit $prc, want $want: $(head -c 300 "$what.err")"
    fi
    rows="$(awk -F'\t' -v a="$sig_id" -v b="$old_id" '$1 == a || $1 == b' "$what.verdicts")"
    if [ "$(printf '%s\n' "$rows" | grep -cxF "$(printf '%s\tTN-Validation-Failed\tSIGNATURE\tobserved' "$sig_id")")" = 1 ]; then
        ok "$what: call $sig_id is TN-Validation-Failed, error SIGNATURE"
    else
        nok "$what: call $sig_id: $(printf '%s' "$rows" | grep -F "$sig_id" | tr '\t\n' ' '), want TN-Validation-Failed SIGNATURE"
    fi
    if [ -n "$old_err" ]; then
        if [ "$(printf '%s\n' "$rows" | grep -cxF "$(printf '%s\tTN-Validation-Failed\t%s\tobserved' "$old_id" "$old_err")")" = 1 ]; then
            ok "$what: call $old_id (2 h late) is TN-Validation-Failed, error $old_err"
        else
            nok "$what: call $old_id: $(printf '%s' "$rows" | grep -F "$old_id" | tr '\t\n' ' '), want TN-Validation-Failed $old_err"
        fi
    fi
    others="$(awk -F'\t' -v a="$sig_id" -v b="$old_id" -v o="$old_err" \
        '$1 != a && !(o != "" && $1 == b) && !($2 == "TN-Validation-Passed" && $3 == "-")' \
        "$what.verdicts")"
    if [ -z "$others" ] && [ "$(wc -l <"$what.verdicts")" -eq "$n" ]; then
        ok "$what: every other call valid ($(wc -l <"$what.verdicts") records)"
    else
        nok "$what: $(wc -l <"$what.verdicts") records; not valid besides: $(printf '%s' "$others" | head -3 | tr '\t\n' ' ')"
    fi
}
pcap_json sig sig.pcap "${FETCH[@]}"
expect_bad sig 7 ""
expect_summary sig .results.invalid 1
expect_summary sig .errors '{"SIGNATURE":1}'

pcap_json bad bad.pcap "${FETCH[@]}"
expect_bad bad 5 DATE_STALE
expect_summary bad .results.valid $((n - 2))
expect_summary bad .results.invalid 2
expect_summary bad .errors '{"DATE_STALE":1,"SIGNATURE":1}'
# the iat's own freshness, without the Date header's
pcap_json bad-nodate bad.pcap "${FETCH[@]}" --date ignore
expect_bad bad-nodate 5 STALE
expect_summary bad-nodate .errors '{"SIGNATURE":1,"STALE":1}'

# --- c. the HTML report and the failed calls' frames --------------------------------------
"$STIRWIRE" pcap -q --no-progress "${FETCH[@]}" --html report.html --failed-pcap failed.pcap \
    bad.pcap >report.out 2>report.err
prc=$?
if [ "$prc" -eq 5 ] && [ -s report.html ] && grep -qF "$sig_id" report.html &&
    grep -qF "$old_id" report.html; then
    ok "--html report.html: written ($(wc -c <report.html) bytes), names both failing calls, exit $prc"
else
    nok "--html report.html: exit $prc, $(wc -c <report.html 2>/dev/null || echo no) bytes: $(head -c 300 report.err)"
fi
if [ -f "$HTML_CHECK" ]; then
    out="$(bash "$HTML_CHECK" report.html shot.png "$sig_id" "Summary" 2>&1)"
    hrc=$?
    if [ $hrc -eq 0 ]; then
        ok "html_check.sh report.html: renders, shows \"$sig_id\" and \"Summary\""
    elif [ $hrc -eq 77 ]; then
        echo "skip - html_check.sh skipped: $(printf '%s' "$out" | tail -1)"
    else
        nok "html_check.sh report.html: exit $hrc: $(printf '%s' "$out" | tail -5 | tr '\n' ' ')"
    fi
else
    echo "skip - $HTML_CHECK is not there (yet): the report is not rendered"
fi
tshark -r failed.pcap -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID 2>/dev/null >failed.tsv
frames="$(wc -l <failed.tsv)"
sort -u failed.tsv >failed.ids
printf '%s\n' "$sig_id" "$old_id" | sort >want.ids
if [ "$frames" -eq 2 ] && cmp -s failed.ids want.ids; then
    ok "--failed-pcap failed.pcap: the 2 failing INVITEs' frames ($sig_id, $old_id)"
else
    nok "--failed-pcap failed.pcap: $frames INVITE frames, Call-IDs $(tr '\n' ' ' <failed.ids), want $sig_id $old_id"
fi
finish
