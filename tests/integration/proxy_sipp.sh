#!/usr/bin/env bash
# proxy_sipp.sh - stirwired end to end on loopback, with real peers: sipp as the PBX-side
# caller (tools/sipp/uac.xml, uac_cancel.xml) and the carrier-side callee (uas.xml),
# secsipidx and "stirwire check" as the terminating verifiers, tests/integration/
# https_server.py as the x5u host of a test STI PKI (tools/pki/make-test-pki.sh), and
# tests/integration/sipdiff.py for what sipp cannot do byte-exactly (transparency diff,
# Max-Forwards 0, loops, TCP framing, malformed floods).
#
# Checked: INVITE/180/200/ACK/BYE and CANCEL/487/ACK complete over UDP and TCP; the INVITE
# as it arrives carries an Identity that secsipidx and stirwire accept, with attestation A
# for the trunk's own numbers and B for others; CANCEL and ACK take their INVITE's branch;
# Max-Forwards 0 -> 483; a loop -> 482; the forwarded bytes are the sent bytes plus only
# our edits; a signed INVITE over 1300 bytes goes over TCP to a next hop that takes TCP;
# several INVITEs in one TCP segment and one over several; a few hundred malformed
# messages leave the daemon serving; SIGHUP with a broken file keeps the old
# configuration, with a good one applies it, and reloads during calls lose no call;
# SIGTERM exits 0 and removes the pid file.
#
# Addresses: stirwired listens on 127.0.0.1; each peer has its own loopback address so the
# trunks can tell them apart (127.0.0.2/.3 UDP caller/callee, .4/.5 TCP caller/callee, .6
# and .8 raw senders, .7 the raw next hop, .12 a sender whose trunk's next hop takes TCP,
# .10 a trunk that loops back into stirwired).
#
# Every check prints one line; exit 0 when all pass, 1 when any fails, 77 (automake's
# "skip") when sipp, python3 or openssl is missing (secsipidx missing skips its checks
# only). Everything started is stopped and the temporary directory removed on exit
# (KEEP=1 keeps the directory, for a look at the logs).
#
# Environment: STIRWIRED and STIRWIRE are the built daemon and tool, SRCDIR the source
# tree (make check sets them; BUILDDIR is accepted and not needed).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="sipp is in Debian's sip-tester" skip_without sipp python3 openssl
have_secsipidx=1
command -v secsipidx >/dev/null 2>&1 || have_secsipidx=0

SIPDIFF="$SRCDIR/tests/integration/sipdiff.py"
SIPP="$SRCDIR/tools/sipp"
need_built STIRWIRED STIRWIRE
make_workdir proxy
sw_pid=

# before_finish (called by finish): a sanitizer report in the daemon's log is a failed
# check, and a failed run shows the log's last lines.
before_finish() {
    if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log 2>/dev/null; then
        nok "sanitizer report in the stirwired log:"
        grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log | head -40
    fi
    if [ "$fail" -ne 0 ] && [ -f stirwired.log ]; then
        echo "# last lines of the stirwired log:"
        tail -15 stirwired.log | sed 's/^/#   /'
    fi
}
# py ARGS...: runs sipdiff.py; its "ok"/"FAIL" lines count as checks here.
py() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok   - "*) ok "${line#ok   - }" ;;
        "FAIL - "*) nok "${line#FAIL - }" ;;
        *) echo "$line" ;;
        esac
    done < <(python3 "$SIPDIFF" "$@" 2>&1)
}
log_count() { grep -c -- "$1" stirwired.log 2>/dev/null; }

# Ports free for both UDP and TCP on every address, all different.
read -r SW UAC_U UAS_U UAC_T UAS_T SINK < <(free_ports 6)
if [ -z "${SINK:-}" ]; then
    nok "could not find free ports"
    finish
fi

# --- the PKI and the x5u host ----------------------------------------------------------------
serve_test_pki
X5U="$base/sp-chain.pem"
openssl x509 -pubkey -noout -in pki/sp.pem >pub.pem
ok "test STI PKI made; $X5U served by https_server.py"
LAB=(--ca-file "$work/pki/root.pem" --tls-ca "$work/tls/tls-ca.pem" --allow-private
    --allow-any-port)

# --- the configuration -------------------------------------------------------------------
# write_config FILE LEVEL: the test configuration; LEVEL is the attestation of the PBX's
# own numbers (1202555...); other numbers get B.
write_config() {
    local sign="sign = { key = \"$work/pki/sp.key\"; x5u = \"$X5U\"; cert = \"$work/pki/sp-chain.pem\";
            attest = ( { numbers = [ \"1202555\" ]; level = \"$2\"; }, { level = \"B\"; } ); };"
    cat >"$1" <<EOF
# written by tests/integration/proxy_sipp.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp", "tcp" ]; } );
workers = 2;
log = { level = "debug"; };
trunks = (
    { name = "pbx"; match = { source = [ "127.0.0.2/32" ]; };
      next_hop = "sip:127.0.0.3:$UAS_U"; record_route = true; filters = [ "sign" ];
      $sign },
    { name = "carrier"; match = { source = "127.0.0.3"; };
      next_hop = "sip:127.0.0.2:$UAC_U"; filters = [ "strip" ]; },
    { name = "pbx-tcp"; match = { source = [ "127.0.0.4/32" ]; };
      next_hop = "sip:127.0.0.5:$UAS_T;transport=tcp"; record_route = true;
      filters = [ "sign" ];
      $sign },
    { name = "carrier-tcp"; match = { source = [ "127.0.0.5/32" ]; };
      next_hop = "sip:127.0.0.4:$UAC_T;transport=tcp"; filters = [ "strip" ]; },
    { name = "raw"; match = { source = [ "127.0.0.6/32", "127.0.0.8/32" ]; };
      next_hop = "sip:127.0.0.7:$SINK"; record_route = true; filters = [ "sign" ];
      $sign },
    { name = "big"; match = { source = [ "127.0.0.12/32" ]; };
      next_hop = "sip:127.0.0.7:$SINK"; next_hop_tcp = true; filters = [ "sign" ];
      $sign },
    { name = "loop"; match = { source = [ "127.0.0.10/32", "127.0.0.1/32" ]; };
      next_hop = "sip:127.0.0.1:$SW"; allow_self_loop = true; }
);
EOF
}
CONF="$work/stirwired.conf"
write_config "$CONF" A
out="$("$STIRWIRED" -t -c "$CONF" 2>&1)"
if [ $? -eq 0 ] && [ "$out" = "configuration OK" ]; then
    ok "stirwired -t: configuration OK"
else
    nok "stirwired -t: $out"
    finish
fi

# sign.cert at -t: the key must be the certificate's, and the certificate not expired
# (each an error at the cert line); the good pair passed just above.
cert_conf() { # cert_conf FILE KEY CERT
    cat >"$1" <<EOF
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp" ]; } );
trunks = ( { name = "pbx"; match = { source = "127.0.0.2"; }; next_hop = "sip:127.0.0.3:$UAS_U";
    filters = [ "sign" ];
    sign = { key = "$2"; x5u = "$X5U"; attest = ( { level = "A"; } );
        cert = "$3"; }; } );
EOF
}
cert_conf bad-key.conf "$work/pki/expired.key" "$work/pki/sp-chain.pem"
out="$("$STIRWIRED" -t -c bad-key.conf 2>&1)"
rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "bad-key.conf:5: .*sign.cert: $work/pki/sp-chain.pem does not hold the public key of sign.key" &&
    ! printf '%s' "$out" | grep -q "configuration OK"; then
    ok "stirwired -t: sign.cert of another key is an error at its line"
else
    nok "stirwired -t with sign.cert of another key: exit $rc: $out"
fi
cert_conf expired.conf "$work/pki/expired.key" "$work/pki/expired.pem"
out="$("$STIRWIRED" -t -c expired.conf 2>&1)"
rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "expired.conf:5: .*sign.cert: $work/pki/expired.pem expired on .* 2021" &&
    ! printf '%s' "$out" | grep -q "does not hold"; then
    ok "stirwired -t: an expired sign.cert is an error at its line"
else
    nok "stirwired -t with an expired sign.cert: exit $rc: $out"
fi

"$STIRWIRED" -f -c "$CONF" -p "$work/stirwired.pid" 2>stirwired.log &
sw_pid=$!
bg_pids+=("$sw_pid")
if waitfor 5 grep -q "started" stirwired.log; then
    ok "stirwired started (pid $sw_pid, listening on 127.0.0.1:$SW udp+tcp)"
else
    nok "stirwired did not start"
    finish
fi
# The start-time look at the x5u (its own thread, after the workers run): the library's
# default policy, what every verifier applies, refuses this loopback x5u on a test port,
# and the daemon says so without waiting for it.
if waitfor 5 grep -q "trunk \"pbx\": cannot fetch x5u $X5U" stirwired.log; then
    ok "start: the x5u is checked against sign.cert in the background ($(grep -o "cannot fetch x5u [^(]*" stirwired.log | head -1))"
else
    nok "start: no x5u check in the log: $(grep -i x5u stirwired.log | head -3)"
fi
if [ "$(cat stirwired.pid 2>/dev/null)" = "$sw_pid" ]; then
    ok "pid file holds $sw_pid"
else
    nok "pid file holds '$(cat stirwired.pid 2>/dev/null)', want $sw_pid"
fi

# --- sipp helpers ------------------------------------------------------------------------
# start_uas NAME T IP PORT CALLS: a sipp UAS in the background that quits after CALLS calls;
# its messages go to NAME.msg.
start_uas() {
    rm -f "$1.msg"
    sipp -sf "$SIPP/uas.xml" -t "$2" -i "$3" -p "$4" -m "$5" -nostdin -timeout 30s -timeout_error \
        -trace_msg -message_file "$1.msg" -trace_err -error_file "$1.err" >"$1.out" 2>&1 &
    uas_pid=$!
    bg_pids+=("$uas_pid")
    sleep 0.3
}
# wait_uas WHAT: waits for the UAS to quit and checks its exit status.
wait_uas() {
    local rc
    if ! waitfor 10 eval '! kill -0 $uas_pid 2>/dev/null'; then
        nok "$1: the UAS did not finish its calls: $(grep -E 'Successful|Failed' "$uas_name.out" | tail -2 | tr -s ' ' | tr '\n' ' ')"
        kill -TERM "$uas_pid" 2>/dev/null
        wait "$uas_pid" 2>/dev/null
        return
    fi
    wait "$uas_pid" 2>/dev/null
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$1: the UAS completed its calls (sipp exit 0)"
    else
        nok "$1: the UAS exited $rc: $(head -c 600 "$uas_name.err" 2>/dev/null)"
    fi
}
# uac WHAT SCENARIO T IP PORT CALLER CALLS: runs a sipp UAC through stirwired and checks it.
uac() {
    local rc
    timeout 40 sipp -sf "$SIPP/$2" -t "$3" -i "$4" -p "$5" -key caller "$6" -s 12025550199 \
        "127.0.0.1:$SW" -m "$7" -r 20 -nostdin -timeout 30s -timeout_error \
        -trace_err -error_file "uac.err" >uac.out 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$1: $7 call(s) from $6 completed (sipp exit 0)"
    else
        nok "$1: sipp UAC exit $rc: $(grep -E 'Successful call|Failed call' uac.out | tail -2 | tr -s ' ' | tr '\n' ' ') $(head -c 600 uac.err 2>/dev/null)"
    fi
}
# call WHAT T UACIP UACPORT UASIP UASPORT CALLER CALLS [SCENARIO]: UAS + UAC; the UAS's
# trace lines (sipdiff.py trace) end up in NAME.trace, NAME = WHAT's first word.
call() {
    uas_name="uas-$(echo "$1" | tr -c 'A-Za-z0-9\n' '_')"
    start_uas "$uas_name" "$2" "$5" "$6" "$8"
    uac "$1" "${9:-uac.xml}" "$2" "$3" "$4" "$7" "$8"
    wait_uas "$1"
    python3 "$SIPDIFF" trace "$uas_name.msg" >"$uas_name.trace" 2>&1
    trace="$uas_name.trace"
}
# check_identity WHAT FILE ORIG ATTEST: the Identity value in FILE must satisfy secsipidx
# and stirwire check (certificate fetched from x5u, chained to the test root), with ORIG
# as the calling number and ATTEST as the attestation.
check_identity() {
    local what="$1" f="$2" orig="$3" want="$4" out rc verdict
    if [ "$have_secsipidx" = 1 ]; then
        out="$(secsipidx -check -fidentity "$f" -fpubkey pub.pem -expire 60 2>&1)"
        rc=$?
        if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qx ok; then
            ok "$what: secsipidx -check accepts the Identity"
        else
            nok "$what: secsipidx -check exit $rc: $out"
        fi
    else
        echo "skip - $what: secsipidx is not installed"
    fi
    out="$("$STIRWIRE" check --json "${LAB[@]}" --orig "$orig" --dest 12025550199 -i "$f" \
        2>&1)"
    rc=$?
    verdict="$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d.get("claims") or {}
print(d.get("valid"), c.get("attest"), c.get("orig"), d.get("x5u"))' 2>/dev/null)"
    if [ $rc -eq 0 ] && [ "$verdict" = "True $want $orig $X5U" ]; then
        ok "$what: stirwire check (x5u fetched): valid, attest $want, orig $orig"
    else
        nok "$what: stirwire check exit $rc, want valid with attest $want orig $orig: ${out:0:500}"
    fi
}
# invite_identity WHAT N FILE: the Identity of the Nth INVITE in $trace into FILE.
invite_identity() {
    awk -F'\t' -v n="$2" '$1 == "INVITE" && ++i == n { print $4 }' "$trace" >"$3"
    if [ -s "$3" ] && [ "$(cat "$3")" != "-" ]; then
        return 0
    fi
    nok "$1: INVITE #$2 arrived without an Identity (trace: $(head -c 300 "$trace"))"
    return 1
}
# signed_invites WHAT N: the UAS saw N INVITEs, each with an Identity.
signed_invites() {
    local n signed
    n="$(awk -F'\t' '$1 == "INVITE"' "$trace" | wc -l)"
    signed="$(awk -F'\t' '$1 == "INVITE" && $4 ~ /;info=</' "$trace" | wc -l)"
    if [ "$n" -eq "$2" ] && [ "$signed" -eq "$2" ]; then
        ok "$1: the UAS received $n INVITEs, all with an Identity"
    else
        nok "$1: the UAS received $n INVITEs, $signed with an Identity, want $2 and $2"
    fi
}

# --- 1. UDP calls ------------------------------------------------------------------------
call "UDP calls" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" 12025550100 5
signed_invites "UDP calls" 5
if invite_identity "UDP calls" 1 id-udp-a.txt; then
    check_identity "UDP, caller 12025550100 (own number)" id-udp-a.txt 12025550100 A
fi
call "UDP call B" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" 13035550100 1
if invite_identity "UDP call B" 1 id-udp-b.txt; then
    check_identity "UDP, caller 13035550100 (other number)" id-udp-b.txt 13035550100 B
fi

# --- 2. TCP calls ------------------------------------------------------------------------
call "TCP calls" t1 127.0.0.4 "$UAC_T" 127.0.0.5 "$UAS_T" 12025550100 3
signed_invites "TCP calls" 3
if grep -q "^TCP message received" "$uas_name.msg"; then
    ok "TCP calls: the UAS received them over TCP"
else
    nok "TCP calls: the UAS trace shows no TCP message"
fi
if invite_identity "TCP calls" 1 id-tcp-a.txt; then
    check_identity "TCP, caller 12025550100" id-tcp-a.txt 12025550100 A
fi
call "TCP call B" t1 127.0.0.4 "$UAC_T" 127.0.0.5 "$UAS_T" 13035550101 1
if invite_identity "TCP call B" 1 id-tcp-b.txt; then
    check_identity "TCP, caller 13035550101" id-tcp-b.txt 13035550101 B
fi

# --- 3. CANCEL ---------------------------------------------------------------------------
# branches_follow WHAT: per call, the CANCEL and the ACK arrived with the INVITE's branch.
branches_follow() {
    local bad
    bad="$(awk -F'\t' '
        $1 == "INVITE" { inv[$2] = $3 }
        $1 == "CANCEL" || $1 == "ACK" { n++; if (!($2 in inv) || inv[$2] != $3) bad++ }
        END { if (n == 0) print "no CANCEL or ACK"; else if (bad) print bad " of " n " differ" }
    ' "$trace")"
    if [ -z "$bad" ]; then
        ok "$1: CANCEL and ACK for the 487 arrived on the INVITE's branch"
    else
        nok "$1: CANCEL/ACK branches: $bad ($(cut -f1-3 "$trace" | head -6 | tr '\n' ' '))"
    fi
}
call "UDP CANCEL" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" 12025550100 3 uac_cancel.xml
branches_follow "UDP CANCEL"
call "TCP CANCEL" t1 127.0.0.4 "$UAC_T" 127.0.0.5 "$UAS_T" 12025550100 2 uac_cancel.xml
branches_follow "TCP CANCEL"

# --- 4. Max-Forwards 0, loops ----------------------------------------------------------------
py maxfwd --proxy "127.0.0.1:$SW" --src 127.0.0.6 --sink "127.0.0.7:$SINK"
py reply --proxy "127.0.0.1:$SW" --src 127.0.0.10 --status 482 \
    --what "loop (a trunk whose next hop is stirwired itself)"

# --- 5. transparency -------------------------------------------------------------------------
py diff --proxy "127.0.0.1:$SW" --src 127.0.0.6 --sink "127.0.0.7:$SINK" --save diff-fwd.txt
if [ -s diff-fwd.txt ]; then
    # orig comes from P-Asserted-Identity (+1-303-555-0100), not From (+12025550100)
    tr -d '\r' <diff-fwd.txt | sed -n 's/^Identity: //p' >id-diff.txt
    check_identity "diff INVITE, PAI 13035550100 over From 12025550100" id-diff.txt \
        13035550100 B
fi

# --- 6. TCP framing --------------------------------------------------------------------------
py tcpframe --proxy "127.0.0.1:$SW" --src 127.0.0.8 --sink "127.0.0.7:$SINK"

# --- 7. over 1300 bytes -------------------------------------------------------------------
py bigtcp --proxy "127.0.0.1:$SW" --src 127.0.0.12 --sink "127.0.0.7:$SINK"

# --- 8. malformed input ----------------------------------------------------------------------
before="$(log_count "dropped: malformed")"
py flood --proxy "127.0.0.1:$SW" --src 127.0.0.6 --count 300 --tcp 20
sleep 0.5
if kill -0 "$sw_pid" 2>/dev/null; then
    ok "after the flood stirwired is still running"
else
    nok "after the flood stirwired is gone"
    finish
fi
after="$(log_count "dropped: malformed")"
if [ "$after" -gt "$before" ]; then
    ok "after the flood: $((after - before)) malformed messages logged as dropped"
else
    nok "after the flood: no malformed message logged as dropped"
fi
before="$(log_count "counters:")"
kill -USR1 "$sw_pid"
if waitfor 3 eval 'test "$(log_count "counters:")" -gt "$before"'; then
    ok "SIGUSR1: $(grep "counters:" stirwired.log | tail -1 | grep -Eo 'dropped [0-9]+ malformed')"
else
    nok "SIGUSR1 logged no counters"
fi
call "UDP call after the flood" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" 12025550100 1
signed_invites "UDP call after the flood" 1
call "TCP call after the flood" t1 127.0.0.4 "$UAC_T" 127.0.0.5 "$UAS_T" 12025550100 1

# --- 9. SIGHUP ---------------------------------------------------------------------------
# Under traffic: reloads while calls go through lose none of them.
uas_name=uas-hup-traffic
start_uas "$uas_name" u1 127.0.0.3 "$UAS_U" 40
timeout 40 sipp -sf "$SIPP/uac.xml" -t u1 -i 127.0.0.2 -p "$UAC_U" -key caller 12025550100 \
    -s 12025550199 "127.0.0.1:$SW" -m 40 -r 40 -nostdin -timeout 30s -timeout_error \
    >uac-hup.out 2>&1 &
hup_uac=$!
bg_pids+=("$hup_uac")
before="$(log_count "reloaded")"
for _ in 1 2 3 4 5; do
    sleep 0.2
    kill -HUP "$sw_pid"
done
wait "$hup_uac"
rc=$?
if [ $rc -eq 0 ]; then
    ok "5 reloads during 40 calls: every call completed (sipp exit 0)"
else
    nok "5 reloads during 40 calls: sipp UAC exit $rc: $(grep -E 'Successful call|Failed call' uac-hup.out | tail -2 | tr -s ' ' | tr '\n' ' ')"
fi
wait_uas "reloads during calls"
if waitfor 5 eval 'test "$(log_count "reloaded")" -ge $((before + 5))'; then
    ok "5 reloads during calls: 5 \"reloaded\" lines logged"
else
    nok "reloads during calls: $(($(log_count "reloaded") - before)) \"reloaded\" lines, want 5"
fi
printf 'listen = ( { address = "127.0.0.1"; port = %s; } );\ntrunks = ( { name = "x"; ' \
    "$SW" >"$CONF"
before="$(log_count "reload failed")"
kill -HUP "$sw_pid"
if waitfor 5 eval 'test "$(log_count "reload failed")" -gt "$before"'; then
    ok "SIGHUP with a broken file: logged \"$(grep "reload:" stirwired.log | tail -1 | cut -c1-140 | sed 's/^[^ ]* //')\""
else
    nok "SIGHUP with a broken file: no \"reload failed\" in the log"
fi
call "UDP call after the failed reload" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" \
    12025550100 1
if invite_identity "failed reload" 1 id-hup-bad.txt; then
    check_identity "after the failed reload (old rules: A)" id-hup-bad.txt 12025550100 A
fi
write_config "$CONF" C
before="$(log_count "reloaded")"
kill -HUP "$sw_pid"
if waitfor 5 eval 'test "$(log_count "reloaded")" -gt "$before"'; then
    ok "SIGHUP with a good file: reloaded"
else
    nok "SIGHUP with a good file: no \"reloaded\" in the log"
fi
call "UDP call after the reload" u1 127.0.0.2 "$UAC_U" 127.0.0.3 "$UAS_U" 12025550100 1
if invite_identity "reload" 1 id-hup-good.txt; then
    check_identity "after the reload (new rules: C)" id-hup-good.txt 12025550100 C
fi

# --- 10. SIGTERM --------------------------------------------------------------------------
kill -TERM "$sw_pid"
if waitfor 5 eval '! kill -0 $sw_pid 2>/dev/null'; then
    wait "$sw_pid"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "SIGTERM: stirwired exited 0"
    else
        nok "SIGTERM: stirwired exited $rc"
    fi
else
    nok "SIGTERM: stirwired still running after 5 s"
fi
if [ -e stirwired.pid ]; then
    nok "SIGTERM: the pid file is still there"
else
    ok "SIGTERM: the pid file is removed"
fi
finish
