# tap_lib.sh - what tap_capture.sh, tap_live.sh and tap_hep.sh share: their own network
# namespace, a signing stirwired with the test STI PKI behind an HTTPS x5u host, sipp calls
# through it, a capture of the signed leg (dumpcap, else tcpdump), the TAP's configuration
# and reading its audit records. A script sources lib.sh, then this file, and calls
# tap_enter_netns "$@" before anything else. Sourcing only defines functions.
#
# Addresses (all inside the namespace): the signer listens on 127.0.0.1, the sipp caller
# is 127.0.0.2 (the signer's trunk "pbx" matches it), the sipp callee 127.0.0.3; so the
# signed leg is 127.0.0.1 -> 127.0.0.3:$UAS, the only traffic on that port.
# shellcheck shell=bash
# lib.sh defines work, port, fail; the scripts use what this file sets (TAP_EDIT, FETCH...).
# shellcheck disable=SC2034,SC2154

# Sorting and comparing lists of Call-IDs byte by byte, whatever the locale.
export LC_ALL=C

TAP_EDIT="$SRCDIR/tests/integration/tap_pcapedit.py"
TAP_SIPP="$SRCDIR/tools/sipp"

# tap_enter_netns ARGS...: runs the script again, with ARGS, in a network namespace of its
# own (unshare -n as root, else unshare -rn in a user namespace) and brings its lo up, so
# that the captures see only this test's traffic and nothing leaves the namespace. Skips
# (77) when no namespace can be made here (not root and user namespaces are off).
tap_enter_netns() {
    local how
    if [ "${SW_TAP_NETNS:-}" = 1 ]; then
        if ! ip link set lo up; then
            echo "FAIL - ip link set lo up in the new network namespace"
            exit 1
        fi
        return 0
    fi
    skip_without unshare ip
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        how="unshare -n"
    elif unshare -rn true 2>/dev/null; then
        how="unshare -rn"
    else
        echo "SKIP: cannot make a network namespace (not root, and unshare -rn fails:" \
            "unprivileged user namespaces are off)"
        exit 77
    fi
    echo "# in a network namespace of its own ($how)"
    SW_TAP_NETNS=1 exec $how bash "$0" "$@"
}

# tap_need_capture: a capture program: dumpcap (works in a user namespace too), else
# tcpdump (as root). Sets TAP_CAPTURE. Skips (77) without either.
tap_need_capture() {
    if command -v dumpcap >/dev/null 2>&1; then
        TAP_CAPTURE=dumpcap
    elif command -v tcpdump >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        TAP_CAPTURE=tcpdump
    else
        echo "SKIP: neither dumpcap (Debian's wireshark-common) nor tcpdump (as root) is there"
        exit 77
    fi
}

# tap_before_finish: sanitizer reports in the daemons' logs fail the test; a failed run
# shows the logs' last lines. (A script's before_finish calls it.)
tap_before_finish() {
    local f
    for f in stirwired-*.log; do
        [ -f "$f" ] || continue
        if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$f"; then
            nok "sanitizer report in $f:"
            grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$f" | head -40
        fi
        if [ "$fail" -ne 0 ]; then
            echo "# last lines of $f:"
            tail -8 "$f" | sed 's/^/#   /'
        fi
    done
}

# tap_start_sw NAME CONF: stirwired -t must say "configuration OK", then it runs in the
# foreground, logging to stirwired-NAME.log, until its "started" line (else the test ends).
# Sets sw_last to its pid (also in bg_pids).
tap_start_sw() {
    local out
    if out="$("$STIRWIRED" -t -c "$2" 2>&1)" && [ "$out" = "configuration OK" ]; then
        ok "stirwired -t ($1): configuration OK"
    else
        nok "stirwired -t ($1): $out"
        finish
    fi
    "$STIRWIRED" -f -c "$2" 2>"stirwired-$1.log" &
    sw_last=$!
    bg_pids+=("$sw_last")
    if waitfor 10 grep -q "started" "stirwired-$1.log"; then
        ok "stirwired ($1) started"
    else
        nok "stirwired ($1) did not start: $(tail -3 "stirwired-$1.log")"
        finish
    fi
}

# tap_stop_sw NAME PID: SIGTERM; it must exit 0 within 5 s.
tap_stop_sw() {
    local rc
    if ! kill -0 "$2" 2>/dev/null; then
        nok "stirwired ($1) died during the test"
        return 1
    fi
    kill -TERM "$2"
    if waitfor 5 eval "! kill -0 $2 2>/dev/null"; then
        wait "$2"
        rc=$?
        if [ $rc -eq 0 ]; then
            ok "stirwired ($1): SIGTERM, exit 0"
        else
            nok "stirwired ($1): SIGTERM, exit $rc"
        fi
    else
        nok "stirwired ($1): still running 5 s after SIGTERM"
        return 1
    fi
}

# tap_serve_pki: lib.sh's serve_test_pki made faster (the PKI script is the slow part):
# inside the namespace every port is free, so the server's port is chosen first and one
# PKI (tools/pki/make-test-pki.sh, CRL_BASE that server) gives both the STI certificates
# and the server's TLS files; $work/tls is a link to $work/pki. Sets port and base.
tap_serve_pki() {
    local p
    read -r p < <(free_ports 1)
    if ! CRL_BASE="https://127.0.0.1:$p" "$MKPKI" "$work/pki" >"$work/mkpki.out" 2>&1; then
        nok "make-test-pki.sh with CRL_BASE=https://127.0.0.1:$p failed: $(tail -3 "$work/mkpki.out")"
        finish
    fi
    ln -s pki "$work/tls"
    if ! start_https_server "$work/pki" "$work/pki" --port "$p"; then
        nok "https_server.py did not print PORT: $(cat "$work/server.err")"
        finish
    fi
    if [ "$port" != "$p" ]; then
        nok "https_server.py listens on $port, not on $p"
        finish
    fi
}

# tap_signer: the test STI PKI served over HTTPS (tap_serve_pki: $base, $work/pki,
# $work/tls) and a signing stirwired on 127.0.0.1:$SIGN_SW: INVITEs from 127.0.0.2 are
# signed (attestation A, x5u $X5U) and sent to 127.0.0.3:$UAS; the callee's requests go
# back to 127.0.0.2:$UAC. Sets SIGN_SW UAS UAC X5U, FETCH (stirwire's fetch options for
# this x5u host) and signer_pid.
tap_signer() {
    read -r SIGN_SW UAS UAC < <(free_ports 3)
    if [ -z "${UAC:-}" ]; then
        nok "could not find free ports"
        finish
    fi
    tap_serve_pki
    X5U="$base/sp-chain.pem"
    FETCH=(--ca-file "$work/pki/root.pem" --tls-ca "$work/tls/tls-ca.pem" --allow-private
        --allow-any-port)
    cat >signer.conf <<EOF
# written by tests/integration/tap_lib.sh: the signing side
listen = ( { address = "127.0.0.1"; port = $SIGN_SW; transport = [ "udp" ]; } );
workers = 1;
trunks = (
    { name = "pbx"; match = { source = [ "127.0.0.2/32" ]; };
      next_hop = "sip:127.0.0.3:$UAS"; record_route = true; filters = [ "sign" ];
      sign = { key = "$work/pki/sp.key"; x5u = "$X5U"; attest = ( { level = "A"; } ); }; },
    { name = "carrier"; match = { source = [ "127.0.0.3/32" ]; };
      next_hop = "sip:127.0.0.2:$UAC"; }
);
EOF
    tap_start_sw signer signer.conf
    signer_pid=$sw_last
}

# tap_verifier_group: the verifier group a verifying (TAP) stirwired needs for this x5u
# host: the test root, the test TLS CA, loopback and any port allowed.
tap_verifier_group() {
    cat <<EOF
verifier = {
    ca_file = "$work/pki/root.pem";
    tls_ca_file = "$work/tls/tls-ca.pem";
    allow_networks = [ "127.0.0.0/8" ]; allow_any_port = true;
    crl_fetch = true;
};
EOF
}

# tap_calls WHAT N: N calls (uac.xml/uas.xml, caller 12025550100) from the sipp caller on
# 127.0.0.2 through the signer to the sipp callee on 127.0.0.3; both must exit 0.
tap_calls() {
    local what="$1" n="$2" uas_pid rc
    sipp -sf "$TAP_SIPP/uas.xml" -i 127.0.0.3 -p "$UAS" -m "$n" -nostdin -timeout 30s \
        -timeout_error -trace_err -error_file uas.err >uas.out 2>&1 &
    uas_pid=$!
    bg_pids+=("$uas_pid")
    sleep 0.3
    timeout 40 sipp -sf "$TAP_SIPP/uac.xml" -i 127.0.0.2 -p "$UAC" -key caller 12025550100 \
        -s 12025550199 "127.0.0.1:$SIGN_SW" -m "$n" -r 50 -l 50 -nostdin -timeout 30s \
        -timeout_error -trace_err -error_file uac.err >uac.out 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$what: $n sipp calls through the signer completed (sipp exit 0)"
    else
        nok "$what: sipp UAC exit $rc: $(grep -E 'Successful call|Failed call' uac.out | tail -2 | tr -s ' ' | tr '\n' ' ') $(head -c 400 uac.err 2>/dev/null)"
    fi
    if waitfor 10 eval "! kill -0 $uas_pid 2>/dev/null"; then
        wait "$uas_pid"
        rc=$?
        [ $rc -eq 0 ] || nok "$what: sipp UAS exit $rc: $(head -c 400 uas.err 2>/dev/null)"
    else
        nok "$what: the sipp UAS did not finish its $n calls"
    fi
}

# tap_capture_start FILE FILTER: captures on lo into FILE (classic pcap) what matches the
# BPF FILTER, in the background, until tap_capture_stop. Waits until it captures.
cap_pid=
tap_capture_start() {
    local f="$1" filter="$2"
    rm -f "$f" capture.err
    if [ "$TAP_CAPTURE" = dumpcap ]; then
        dumpcap -q -P -i lo -w "$f" -f "$filter" 2>capture.err &
    else
        tcpdump -Z root --immediate-mode -U -i lo -w "$f" "$filter" 2>capture.err &
    fi
    cap_pid=$!
    bg_pids+=("$cap_pid")
    if waitfor 10 grep -Eq "Capturing on|listening on" capture.err; then
        sleep 0.2
        ok "$TAP_CAPTURE captures on lo: $filter"
    else
        nok "$TAP_CAPTURE did not start: $(head -c 300 capture.err)"
        finish
    fi
}
# tap_capture_stop: SIGINT, waits for the file to be written.
tap_capture_stop() {
    sleep 0.3
    kill -INT "$cap_pid" 2>/dev/null
    if ! waitfor 5 eval "! kill -0 $cap_pid 2>/dev/null"; then
        kill -KILL "$cap_pid" 2>/dev/null
    fi
    wait "$cap_pid" 2>/dev/null
    echo "# $TAP_CAPTURE: $(grep -Ei 'captured|dropped' capture.err | tr '\n' ' ')"
}

# tshark_invites FILE: the distinct Call-IDs of the INVITEs tshark finds in FILE, one a
# line (a retransmission of an INVITE has its Call-ID: counted once).
tshark_invites() {
    tshark -r "$1" -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID 2>/dev/null | sort -u
}
# tshark_invite_frames FILE: how many frames of FILE carry an INVITE.
tshark_invite_frames() {
    tshark -r "$1" -Y 'sip.Method == "INVITE"' 2>/dev/null | wc -l
}

# verdicts FILE: per-call JSON lines (audit records, or stirwire pcap --json output) as
# "CALL-ID<TAB>VERSTAT<TAB>ERROR<TAB>RESULT" lines sorted by Call-ID ("-" for null).
# Lines that are not JSON objects with a call_id (the summary) are left out.
verdicts() {
    jq -rR 'fromjson? | select(type == "object" and has("call_id"))
        | [.call_id, (.verstat // "-"), (.error // "-"), (.result // "-")] | @tsv' "$1" |
        LC_ALL=C sort
}

# summary_get FILE PATH: the value at PATH (jq syntax below .summary, e.g. .results.valid)
# of the summary line of stirwire pcap --json output in FILE, objects and lists compact
# with sorted keys ({"DATE_STALE":1,"SIGNATURE":1}); "" when there is none.
summary_get() {
    jq -rRcS "fromjson? | select(type == \"object\" and has(\"summary\")) | .summary$2 // empty" \
        "$1" 2>/dev/null | tail -1
}
