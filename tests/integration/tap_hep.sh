#!/usr/bin/env bash
# tap_hep.sh - stirwired's tap mode fed HEP by a real sender: sngrep (Debian's, built with
# EEP/HEP support) reads a capture of signed calls and sends every SIP message in it as
# HEP over UDP (`sngrep -I FILE -H udp:127.0.0.1:PORT -N -q`); the tap (source { hep =
# "udp:127.0.0.1:PORT"; }, chain verify + audit) must reach the verdicts that
# `stirwire pcap --json` reaches on the same file.
#
#   sipp UAC 127.0.0.2 -> stirwired (sign) 127.0.0.1 -> sipp UAS 127.0.0.3:$UAS
#       the signed leg captured (cap.pcap); call 5's signature altered (hep.pcap)
#   sngrep -I hep.pcap -H udp:127.0.0.1:$HEP3   -> stirwired tap "v3"   (HEPv3)
#   sngrep (eep.send.version 2) -> $HEP2         -> stirwired tap "v2"   (HEPv2)
#   sngrep (eep.send.pass wrong, then s3cret) -> $HEPA -> stirwired tap "auth"
#       (auth_key = "s3cret": the wrong key's packets are dropped, no record)
#
# Checked: per Call-ID, each tap's audit verdict (verstat, error) equals stirwire pcap's,
# one record per INVITE, the altered call TN-Validation-Failed with SIGNATURE and the
# others TN-Validation-Passed; "result": "observed"; the taps exit 0 on SIGTERM.
# sngrep sends HEP over UDP only (-H udp:...), so HEP over TCP is not tested here.
#
# Runs in a network namespace of its own (tap_lib.sh) for the capture. Exit 0 all pass,
# 1 any fails, 77 when sngrep, sipp, openssl, python3, tshark or a capture program is
# missing or no namespace can be made. KEEP=1 keeps the directory.
#
# Environment: STIRWIRED, STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=tap_lib.sh
. "$(dirname "$0")/tap_lib.sh"

tap_enter_netns "$@"
SKIP_HINT="sngrep and tshark are Debian packages of those names, sipp is in sip-tester" \
    skip_without sngrep sipp python3 openssl tshark jq
tap_need_capture
need_built STIRWIRED STIRWIRE
make_workdir tap-hep
before_finish() { tap_before_finish; }

CALLS=20
if ! sngrep -V 2>&1 | grep -q "EEP/HEP support"; then
    echo "SKIP: this sngrep is built without EEP/HEP support ($(sngrep -V 2>&1 | head -1))"
    exit 77
fi

# --- the capture ----------------------------------------------------------------------------
tap_signer
tap_capture_start cap.pcap "udp port $UAS"
tap_calls "capture" "$CALLS"
tap_capture_stop
tap_stop_sw signer "$signer_pid"
if sig_id="$(python3 "$TAP_EDIT" tamper cap.pcap hep.pcap 5)"; then
    ok "hep.pcap: $(python3 "$TAP_EDIT" calls hep.pcap | wc -l) INVITEs, call 5 ($sig_id) with its signature altered"
else
    nok "tap_pcapedit.py tamper failed"
    finish
fi

# --- stirwire pcap on the file: what the taps must agree with --------------------------------
"$STIRWIRE" pcap --json --no-progress "${FETCH[@]}" hep.pcap >pcap.json 2>pcap.err
prc=$?
verdicts pcap.json | cut -f1-3 >pcap.verdicts
if [ $prc -ne 0 ] && [ "$(wc -l <pcap.verdicts)" -eq "$CALLS" ] &&
    grep -qxF "$(printf '%s\tTN-Validation-Failed\tSIGNATURE' "$sig_id")" pcap.verdicts; then
    ok "stirwire pcap --json hep.pcap: $CALLS records, $sig_id SIGNATURE, exit $prc"
else
    nok "stirwire pcap --json hep.pcap: exit $prc, $(wc -l <pcap.verdicts) records: $(head -c 300 pcap.err)"
fi

# --- three taps, one per way of sending -------------------------------------------------------
read -r HEP3 HEP2 HEPA < <(free_ports 3)
# tap_conf NAME PORT [AUTH]: a tap on HEP udp:127.0.0.1:PORT writing audit-NAME.jsonl.
tap_conf() {
    cat >"tap-$1.conf" <<EOF
# written by tests/integration/tap_hep.sh: stirwired in tap mode, fed HEP by sngrep
log = { level = "info"; };
tap = { sources = ( { hep = "udp:127.0.0.1:$2";${3:+ auth_key = \"$3\";} } ); };
$(tap_verifier_group)
trunks = (
    { name = "hep"; match = { source = [ "0.0.0.0/0" ]; };
      filters = [ "verify", "audit" ];
      audit = { output = "$work/audit-$1.jsonl"; }; }
);
EOF
}
tap_conf v3 "$HEP3"
tap_conf v2 "$HEP2"
tap_conf auth "$HEPA" s3cret
declare -A tap_pids
for t in v3 v2 auth; do
    tap_start_sw "$t" "tap-$t.conf"
    tap_pids[$t]=$sw_last
done

# send NAME PORT [SETTING...]: sngrep sends hep.pcap to PORT as HEP; SETTINGs ("eep.send.
# version 2") go into its configuration file.
send() {
    local name="$1" port="$2" s
    shift 2
    : >"sngrep-$name.conf"
    for s in "$@"; do
        echo "set $s" >>"sngrep-$name.conf"
    done
    if timeout 20 sngrep -F -f "sngrep-$name.conf" -N -q -I hep.pcap -H "udp:127.0.0.1:$port" \
        >"sngrep-$name.out" 2>&1; then
        ok "sngrep -I hep.pcap -H udp:127.0.0.1:$port ($name${*:+: $*}): exit 0"
    else
        nok "sngrep ($name) failed: $(head -c 300 "sngrep-$name.out")"
    fi
}
# records NAME: audit-NAME.jsonl has $CALLS lines
# shellcheck disable=SC2317  # called by waitfor
records() { [ -f "audit-$1.jsonl" ] && [ "$(wc -l <"audit-$1.jsonl")" -ge "$CALLS" ]; }
# compare NAME: the tap's verdicts equal stirwire pcap's.
compare() {
    local name="$1" d
    if waitfor 15 records "$name"; then
        sleep 0.3
    else
        nok "$name: audit-$name.jsonl has $(wc -l <"audit-$name.jsonl" 2>/dev/null || echo 0) records after 15 s, want $CALLS"
    fi
    verdicts "audit-$name.jsonl" >"audit-$name.verdicts"
    cut -f1-3 "audit-$name.verdicts" >"tap-$name.verdicts"
    if [ "$(awk -F'\t' '$4 != "observed"' "audit-$name.verdicts" | wc -l)" -eq 0 ] &&
        [ -s "audit-$name.verdicts" ]; then
        ok "$name: every audit record's result is \"observed\""
    else
        nok "$name: records not \"observed\": $(awk -F'\t' '$4 != "observed"' "audit-$name.verdicts" | head -2 | tr '\t\n' ' ')"
    fi
    if d="$(diff pcap.verdicts "tap-$name.verdicts")" && [ -s pcap.verdicts ]; then
        ok "$name: per Call-ID the tap's verstat and error equal stirwire pcap's ($(wc -l <"tap-$name.verdicts") calls, $(grep -c TN-Validation-Passed "tap-$name.verdicts") passed)"
    else
        nok "$name: the tap's verdicts differ from stirwire pcap's (< pcap, > tap): $(printf '%s' "$d" | head -6 | tr '\t\n' ' ')"
    fi
    if grep -qxF "$(printf '%s\tTN-Validation-Failed\tSIGNATURE' "$sig_id")" "tap-$name.verdicts"; then
        ok "$name: the altered call $sig_id is TN-Validation-Failed, SIGNATURE"
    else
        nok "$name: the altered call: $(grep -F "$sig_id" "tap-$name.verdicts" | tr '\t' ' ')"
    fi
}

send v3 "$HEP3"
compare v3
send v2 "$HEP2" "eep.send.version 2"
compare v2
# the wrong key first: dropped, so nothing is recorded (and the right key's copies that
# follow are not taken for retransmissions of anything)
send auth-wrong "$HEPA" "eep.send.pass wrong"
sleep 1
if [ ! -s audit-auth.jsonl ]; then
    ok "auth: HEP with the wrong auth_key gives no record"
else
    nok "auth: HEP with the wrong auth_key gave $(wc -l <audit-auth.jsonl) records"
fi
send auth "$HEPA" "eep.send.pass s3cret"
compare auth

for t in v3 v2 auth; do
    tap_stop_sw "$t" "${tap_pids[$t]}"
done
finish
