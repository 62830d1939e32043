#!/usr/bin/env bash
# tap_live.sh - stirwired's tap mode on a live interface: the loopback of a network
# namespace this test makes, where sipp calls go through a signing stirwired while a
# second stirwired, in tap mode on lo (source { interface = "lo"; }, chain verify +
# audit), verifies every INVITE it sees go by and writes one audit record for each.
#
#   sipp UAC 127.0.0.2 -> stirwired (sign) 127.0.0.1 -> sipp UAS 127.0.0.3:$UAS
#   python3 (127.0.0.1) -> 127.0.0.1:5099 (nobody listens): a signed INVITE with its
#       signature altered, and one padded to 3000 bytes sent with lo's MTU at 1280, so
#       that it goes as IP fragments
#   stirwired (tap) on lo: trunk "signed" matches source 127.0.0.1 (the signed leg and
#       the python sends; the caller's unsigned leg from 127.0.0.2 matches no trunk)
#
# Checked: the tap logs that it captures on lo; the audit file has exactly one record per
# INVITE, each "result": "observed", the sipp calls' and the fragmented one's verstat
# TN-Validation-Passed, the altered one's TN-Validation-Failed with error SIGNATURE; the
# INVITE did go as fragments (a capture of them); SIGTERM ends the tap with exit 0 and a
# line with the capture's drop counts.
#
# Exit 0 all pass, 1 any fails, 77 when sipp, openssl, python3, tshark or a capture
# program is missing or no network namespace can be made. KEEP=1 keeps the directory.
#
# Environment: STIRWIRED, STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=tap_lib.sh
. "$(dirname "$0")/tap_lib.sh"

tap_enter_netns "$@"
SKIP_HINT="sipp is in Debian's sip-tester, tshark in tshark" skip_without sipp python3 openssl tshark jq curl
tap_need_capture
need_built STIRWIRED STIRWIRE
make_workdir tap-live
before_finish() { tap_before_finish; }

CALLS=20
SINK=5099
tap_signer

# --- the tap ----------------------------------------------------------------------------------
read -r HTTP < <(free_ports 1)
cat >tap.conf <<EOF
# written by tests/integration/tap_live.sh: stirwired in tap mode on the namespace's lo
log = { level = "info"; };
tap = { sources = ( { interface = "lo"; } ); };
$(tap_verifier_group)
http = { listen = "127.0.0.1:$HTTP"; };
trunks = (
    { name = "signed"; match = { source = [ "127.0.0.1/32" ]; };
      filters = [ "verify", "audit" ];
      audit = { output = "$work/audit.jsonl"; }; }
);
EOF
tap_start_sw tap tap.conf
tap_pid=$sw_last
if grep -i "captur" stirwired-tap.log | grep -qw lo; then
    ok "tap: logs its capture on lo: $(grep -i "captur" stirwired-tap.log | grep -w lo | head -1 | cut -d' ' -f2-)"
else
    nok "tap: no line about capturing on lo in its log: $(grep -iw lo stirwired-tap.log | head -2)"
fi

# --- the traffic ----------------------------------------------------------------------------
# The signed leg is captured too, as the source of the python sends.
tap_capture_start signed.pcap "udp port $UAS"
tap_calls "live" "$CALLS"
tap_capture_stop
tap_stop_sw signer "$signer_pid"
python3 "$TAP_EDIT" calls signed.pcap | sort >calls.txt
if [ "$(wc -l <calls.txt)" -eq "$CALLS" ]; then
    ok "the signed leg: $CALLS INVITEs"
else
    nok "the signed leg: $(wc -l <calls.txt) INVITEs captured, want $CALLS"
fi

tampered="tap-tampered-$$@127.0.0.1"
frag="tap-fragmented-$$@127.0.0.1"
if out="$(python3 "$TAP_EDIT" send signed.pcap 1 --call-id "$tampered" --tamper --to "127.0.0.1:$SINK")"; then
    ok "sent to 127.0.0.1:$SINK: call 1's INVITE, signature altered, as $tampered ($(cut -f2 <<<"$out") bytes)"
else
    nok "python3 could not send the altered INVITE"
fi
if ip link set lo mtu 1280; then
    ok "lo mtu 1280"
else
    nok "ip link set lo mtu 1280 failed"
fi
tap_capture_start frag.pcap "udp port $SINK or (ip[6:2] & 0x1fff != 0)"
if out="$(python3 "$TAP_EDIT" send signed.pcap 2 --call-id "$frag" --size 3000 --to "127.0.0.1:$SINK")"; then
    ok "sent to 127.0.0.1:$SINK: call 2's INVITE padded to $(cut -f2 <<<"$out") bytes, as $frag"
else
    nok "python3 could not send the big INVITE"
fi
tap_capture_stop
ip link set lo mtu 65536
pieces="$(tshark -r frag.pcap 2>/dev/null | wc -l)"
whole="$(tshark -r frag.pcap -Y "sip.Call-ID == \"$frag\"" 2>/dev/null | wc -l)"
if [ "$pieces" -ge 3 ] && [ "$whole" -eq 1 ]; then
    ok "the big INVITE went as $pieces IP fragments (tshark reassembles them into one INVITE)"
else
    nok "the big INVITE: $pieces frames, $whole INVITE(s) reassembled, want >= 3 fragments and 1"
fi

# --- what the tap wrote -------------------------------------------------------------------
want=$((CALLS + 2))
# shellcheck disable=SC2317  # called by waitfor
records() { [ -f audit.jsonl ] && [ "$(wc -l <audit.jsonl)" -ge "$want" ]; }
if waitfor 15 records; then
    ok "audit.jsonl: $want records came"
else
    nok "audit.jsonl: $(wc -l <audit.jsonl 2>/dev/null || echo 0) records after 15 s, want $want"
fi
sleep 0.5
# GET /metrics: the TAP's own families beside the verify filter's verdicts
if curl -fsS "http://127.0.0.1:$HTTP/metrics" >metrics.txt 2>metrics.err; then
    inv="$(awk '$1 == "stirwire_tap_invites_total" { print $2 }' metrics.txt)"
    passed="$(awk '$1 == "stirwire_verify_total{outcome=\"passed\"}" { print $2 }' metrics.txt)"
    if [ "$inv" = "$want" ] && [ "$passed" = "$((want - 1))" ] &&
        grep -q '^stirwire_tap_dropped_total{reason="kernel"} ' metrics.txt; then
        ok "GET /metrics: stirwire_tap_invites_total $inv, verify passed $passed, drops by reason"
    else
        nok "GET /metrics: tap_invites $inv (want $want), verify passed $passed (want $((want - 1))): $(grep -c tap_ metrics.txt) tap lines"
    fi
    if command -v promtool >/dev/null 2>&1; then
        if promtool check metrics <metrics.txt >promtool.out 2>&1; then
            ok "promtool check metrics: the exposition with the TAP's families is valid"
        else
            nok "promtool check metrics: $(head -c 300 promtool.out)"
        fi
    fi
else
    nok "GET /metrics failed: $(head -c 200 metrics.err)"
fi
tap_stop_sw tap "$tap_pid"
if awk '/SIGTERM/ { s = 1 } s' stirwired-tap.log | grep -Eqi 'drop[^0-9]{0,40}[0-9]|[0-9]+ (packets? )?dropped'; then
    ok "tap: at exit it logs the capture's drop counts: $(awk '/SIGTERM/ { s = 1 } s' stirwired-tap.log | grep -Ei 'drop' | head -1 | cut -d' ' -f2- | cut -c1-200)"
else
    nok "tap: no drop counts in its log after SIGTERM: $(awk '/SIGTERM/ { s = 1 } s' stirwired-tap.log | tail -3 | tr '\n' ' ')"
fi

verdicts audit.jsonl >audit.verdicts
bad_json="$(python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    try:
        json.loads(l)
    except ValueError:
        n += 1
print(n)' audit.jsonl 2>/dev/null || echo "?")"
if [ "$bad_json" = 0 ] && [ "$(wc -l <audit.verdicts)" -eq "$want" ] &&
    [ "$(cut -f1 audit.verdicts | sort -u | wc -l)" -eq "$want" ]; then
    ok "audit.jsonl: $want JSON records, one per INVITE (distinct Call-IDs)"
else
    nok "audit.jsonl: $(wc -l <audit.jsonl) lines ($bad_json not JSON), $(wc -l <audit.verdicts) records, $(cut -f1 audit.verdicts | sort -u | wc -l) Call-IDs, want $want"
fi
passed="$(awk -F'\t' 'NR == FNR { c[$1] = 1; next }
    ($1 in c) && $2 == "TN-Validation-Passed" && $3 == "-" && $4 == "observed"' \
    calls.txt audit.verdicts | wc -l)"
if [ "$passed" -eq "$CALLS" ]; then
    ok "audit: each of the $CALLS sipp calls TN-Validation-Passed, observed"
else
    nok "audit: $passed of the $CALLS sipp calls TN-Validation-Passed and observed: $(grep -v TN-Validation-Passed audit.verdicts | head -3 | tr '\t\n' ' ')"
fi
row="$(awk -F'\t' -v c="$tampered" '$1 == c' audit.verdicts)"
if [ "$row" = "$(printf '%s\tTN-Validation-Failed\tSIGNATURE\tobserved' "$tampered")" ]; then
    ok "audit: the altered INVITE is TN-Validation-Failed, error SIGNATURE"
else
    nok "audit: the altered INVITE: '$(tr '\t' ' ' <<<"$row")', want TN-Validation-Failed SIGNATURE observed"
fi
row="$(awk -F'\t' -v c="$frag" '$1 == c' audit.verdicts)"
if [ "$row" = "$(printf '%s\tTN-Validation-Passed\t-\tobserved' "$frag")" ]; then
    ok "audit: the fragmented INVITE is reassembled and TN-Validation-Passed"
else
    nok "audit: the fragmented INVITE: '$(tr '\t' ' ' <<<"$row")', want TN-Validation-Passed observed"
fi
finish
