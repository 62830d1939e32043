#!/usr/bin/env bash
# verify_sipp.sh - stirwired verifying incoming calls (filters verify, verstat, audit), end
# to end with real peers, and `stirwire check --sip` judging the same requests: one case
# table (tests/integration/verify_cases.py, CASES) drives both, and each case's status,
# Reason cause and verstat must be what the library's outcome table and the trunk's
# policy say (stirwired(8): the verify and verstat filters).
#
#   sipp UAC (carrier side, one source address per trunk) -> stirwired "verifier"
#       trunks reject / tag / pass / strict (reject + "missing", fetch_failure closed,
#       anonymous reject), and chain (calls a signer forwards from 127.0.0.1)
#       -> sipp UAS (PBX side, 127.0.0.10): answers 200 with "X-Verstat: pai=V;from=V",
#          the verstat it found in P-Asserted-Identity and From, which the UAC checks
#          with <ereg check_it="true">; a rejected call's UAC checks the status and
#          "Reason: STIR;cause=NNN" instead. sipp's exit status is the verdict.
#
# Tokens: `stirwire sign` (any iat/orig/dest/x5u, then tampered as a case needs), Go's
# secsipidx -sign-full, stirwired's own sign filter and Kamailio's secsipid module (each
# captured as it forwards an INVITE to a sink, and each also in a live call chained into
# the verifier), a div PASSporT made with openssl. Certificates: the test STI PKI
# (tools/pki/make-test-pki.sh) served by https_server.py, whose CRL distribution point is
# that server, and the SP certificate of a second PKI (another root) under /other/. A second verifying
# stirwired ("crlfile") has the CRL from a file and never fetches one.
#
# Loopback only (127.0.0.0/8); the private-address x5u (10.255.255.1) must be refused
# before any connection, and the tool gets no --allow-private for it.
#
# Exit 0 all checks pass, 1 any fails, 77 (skip) when sipp, python3 or openssl is missing;
# secsipidx or Kamailio missing skips only their cases. KEEP=1 keeps the directory.
# MOCK=1 puts verify_cases.py's stand-in in place of the verifying stirwired (a test of
# this harness alone: the verdicts then come from the table, not from verification).
#
# Environment: STIRWIRED, STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="sipp is in Debian's sip-tester" skip_without sipp python3 openssl
need_built STIRWIRED STIRWIRE
CASES_PY="$SRCDIR/tests/integration/verify_cases.py"
MODDIR=/usr/lib/x86_64-linux-gnu/kamailio/modules
OURS_DIR="$BUILDDIR/src/compat/.libs"
MOCK="${MOCK:-0}"
make_workdir verify

# before_finish (called by finish): sanitizer reports in the daemons' logs fail the test;
# a failed run shows the logs' last lines.
before_finish() {
    local f
    for f in stirwired-*.log kam.log; do
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
# py ARGS...: runs verify_cases.py; its ok/FAIL lines count as checks here.
py() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok   - "*) ok "${line#ok   - }" ;;
        "FAIL - "*) nok "${line#FAIL - }" ;;
        *) echo "$line" ;;
        esac
    done < <(python3 "$CASES_PY" --env "$work/env.json" "$@" 2>&1)
}

read -r SW1 SW2 SIGNSW UAS UACP CAP KAM CLOSED < <(free_ports 8)
if [ -z "${CLOSED:-}" ]; then
    nok "could not find free ports"
    finish
fi

# --- the PKIs and the x5u host --------------------------------------------------------------
# serve_test_pki's first PKI (in $work/tls, for the server's TLS files) is a whole STI PKI
# with a root of its own: its SP certificate, served under /other/, is the "other root"
# case (its CRL distribution point is a dummy, never reached: the chain fails first).
serve_test_pki
mkdir -p "$work/pki/other"
cp "$work/tls/sp.key" "$work/tls/sp-chain.pem" "$work/pki/other/"
ok "test STI PKI served at $base/, an SP certificate of another root at $base/other/"
X5U="$base/sp-chain.pem"

# --- who is there ---------------------------------------------------------------------------
have_secsipidx=false
command -v secsipidx >/dev/null 2>&1 && have_secsipidx=true
have_kam=0
if command -v kamailio >/dev/null 2>&1 && [ -f "$MODDIR/secsipid.so" ] &&
    [ -f "$MODDIR/secsipid_proc.so" ]; then
    have_kam=1
fi
# `stirwire check --sip` and, where the tool has it, --allow-network (so that 127.0.0.0/8
# is allowed without allowing every private address).
cli_sip=false
"$STIRWIRE" check --help 2>&1 | grep -q -- '--sip' && cli_sip=true
cli_allow_network=false
"$STIRWIRE" check --help 2>&1 | grep -q -- '--allow-network' && cli_allow_network=true
if [ "$cli_sip" = true ]; then
    ok "stirwire check has --sip"
else
    nok "stirwire check has no --sip option: the tool's half of every case is not checked"
fi

# env.json: what verify_cases.py needs. The signers' entries are filled in below.
write_env() {
    cat >env.json <<EOF
{
  "work": "$work", "stirwire": "$STIRWIRE", "pki": "$work/pki",
  "tls_ca": "$work/tls/tls-ca.pem", "base": "$base", "closed_port": $CLOSED,
  "uas_ip": "127.0.0.10", "uas_port": $UAS, "uac_port": $UACP,
  "have_secsipidx": $have_secsipidx, "cli_sip": $cli_sip,
  "cli_allow_network": $cli_allow_network,
  "instances": {
    "main": { "port": $SW1, "cli": [] },
    "crlfile": { "port": $SW2, "cli": [ "--crl", "$work/pki/inter.crl", "--no-crl-fetch" ] }
  },
  "signers": { "sign-filter": ${SIGNER_SW:-null}, "kamailio": ${SIGNER_KAM:-null} }
}
EOF
}
write_env

# --- the PBX side: the verstat-echo UAS -----------------------------------------------------
py uas-scenario uas.xml
sipp -sf uas.xml -i 127.0.0.10 -p "$UAS" -m 100000 -nostdin -trace_msg -message_file uas.msg \
    >uas.out 2>&1 &
uas_pid=$!
bg_pids+=("$uas_pid")

# --- the verifying stirwired, twice ---------------------------------------------------------
# start_sw NAME CONF: stirwired -t, then in the foreground (log in stirwired-NAME.log).
start_sw() {
    local out pid
    out="$("$STIRWIRED" -t -c "$2" 2>&1)"
    if [ $? -eq 0 ] && [ "$out" = "configuration OK" ]; then
        ok "stirwired -t ($1): configuration OK"
    else
        nok "stirwired -t ($1): $out"
        finish
    fi
    "$STIRWIRED" -f -c "$2" 2>"stirwired-$1.log" &
    pid=$!
    bg_pids+=("$pid")
    if waitfor 5 grep -q "started" "stirwired-$1.log"; then
        ok "stirwired ($1) started"
    else
        nok "stirwired ($1) did not start: $(tail -3 "stirwired-$1.log")"
        finish
    fi
    sw_last=$pid
}
if [ "$MOCK" = 1 ]; then
    echo "# MOCK=1: verify_cases.py mock stands in for the verifying stirwired"
    for p in "$SW1" "$SW2"; do
        python3 "$CASES_PY" --env env.json mock --port "$p" >"mock-$p.log" 2>&1 &
        bg_pids+=("$!")
    done
    sleep 0.3
else
    py conf verifier-main.conf --instance main
    py conf verifier-crlfile.conf --instance crlfile
    start_sw main verifier-main.conf
    sw_main=$sw_last
    start_sw crlfile verifier-crlfile.conf
    sw_crl=$sw_last
fi

# --- signer 1: a second stirwired, its sign filter --------------------------------------------
sign_group="sign = { key = \"$work/pki/sp.key\"; x5u = \"$X5U\"; attest = ( { level = \"A\"; } ); };"
cat >signer.conf <<EOF
# written by tests/integration/verify_sipp.sh: the signing side
listen = ( { address = "127.0.0.1"; port = $SIGNSW; transport = [ "udp" ]; } );
workers = 1;
trunks = (
    { name = "capture"; match = { source = [ "127.0.0.8/32" ]; };
      next_hop = "sip:127.0.0.9:$CAP"; filters = [ "sign" ]; $sign_group },
    { name = "chain"; match = { source = [ "127.0.0.6/32" ]; };
      next_hop = "sip:127.0.0.1:$SW1"; filters = [ "sign" ]; $sign_group }
);
EOF
start_sw signer signer.conf
SIGNER_SW="{ \"send_to\": [\"127.0.0.1\", $SIGNSW], \"src\": \"127.0.0.8\",
    \"sink\": [\"127.0.0.9\", $CAP], \"chain_src\": \"127.0.0.6\" }"

# --- signer 2: Kamailio's secsipid module -------------------------------------------------------
# On our libsecsipid when it was built (as kamailio_secsipid.sh runs it), else on the
# system's. INVITEs from 127.0.0.8 go to the capture sink, all else into the verifier.
if [ "$have_kam" = 1 ]; then
    kam_env=(env)
    if [ -f "$OURS_DIR/libsecsipid.so.1" ]; then
        kam_env+=("LD_LIBRARY_PATH=$OURS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
        asan_rt="$(ldd "$OURS_DIR/libsecsipid.so.1" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3 }')"
        if [ -n "$asan_rt" ]; then
            kam_env+=("LD_PRELOAD=$asan_rt" "ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-}")
        fi
    fi
    cat >kam.cfg <<EOF
#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:$KAM
mpath="$MODDIR/"
loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "secsipid.so"
request_route {
    if (method=="INVITE") {
        if (!secsipid_add_identity("\$fU", "\$rU", "A", "", "$X5U", "$work/pki/sp.key")) {
            sl_send_reply("500", "Signing failed");
            exit;
        }
    }
    if (\$si == "127.0.0.8") { \$du = "sip:127.0.0.9:$CAP"; } else { \$du = "sip:127.0.0.1:$SW1"; }
    forward();
    exit;
}
EOF
    if ! "${kam_env[@]}" kamailio -c -f kam.cfg >kam.check 2>&1; then
        nok "kamailio -c rejects kam.cfg: $(tail -5 kam.check)"
    else
        "${kam_env[@]}" kamailio -f kam.cfg -DD -E -n 1 >kam.log 2>&1 &
        bg_pids+=("$!")
        if waitfor 10 eval "ss -lun | grep -q '127.0.0.1:$KAM '"; then
            ok "Kamailio (secsipid_add_identity) listens on 127.0.0.1:$KAM"
            SIGNER_KAM="{ \"send_to\": [\"127.0.0.1\", $KAM], \"src\": \"127.0.0.8\",
                \"sink\": [\"127.0.0.9\", $CAP], \"chain_src\": \"127.0.0.6\" }"
            # secsipid_proc.so loads in the child's init; give it a moment.
            sleep 1
        else
            nok "Kamailio did not start: $(tail -5 kam.log)"
        fi
    fi
else
    echo "skip - Kamailio or kamailio-secsipid-modules is not installed: its cases are skipped"
fi
write_env

# server_counts: the x5u host's request counts (its /count, JSON).
server_counts() {
    python3 -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
print(urllib.request.urlopen(sys.argv[2] + "/count", context=ctx, timeout=5).read().decode())
' "$work/tls/tls-ca.pem" "$base" 2>/dev/null
}

# --- the cases ----------------------------------------------------------------------------------
py run
count="$(server_counts)"
echo "# x5u host requests: $count"

# --- what the x5u host and the audit files saw ---------------------------------------------------
if [ "$MOCK" != 1 ]; then
    # The CRL distribution point (https://127.0.0.1:PORT/inter.crl) was fetched by the main
    # verifier: the revoked-by-crl-dp case depended on it.
    n_crl="$(printf '%s' "$count" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("/inter.crl", 0))' 2>/dev/null)"
    if [ "${n_crl:-0}" -ge 1 ]; then
        ok "the CRL distribution point $base/inter.crl was fetched ($n_crl request(s))"
    else
        nok "the CRL distribution point $base/inter.crl was never fetched (requests: $count)"
    fi
    # audit: one JSON record per INVITE (DESIGN.md); at least as many lines as calls went
    # through each instance, every line JSON.
    for inst in main crlfile; do
        calls="$(find runs -name "$inst-*.xml" | wc -l)"
        [ "$inst" = main ] && calls=$((calls + $(find runs -name 'chain-*.xml' | wc -l)))
        f="audit-$inst.jsonl"
        lines=0
        [ -f "$f" ] && lines="$(wc -l <"$f")"
        bad="$(python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    try:
        json.loads(l)
    except ValueError:
        n += 1
print(n)' "$f" 2>/dev/null || echo "?")"
        if [ "$lines" -ge "$calls" ] && [ "$bad" = 0 ]; then
            ok "audit ($inst): $lines JSON records for $calls calls"
        else
            nok "audit ($inst): $lines lines ($bad not JSON) in $f for $calls calls"
        fi
    done
    for name in main crlfile; do
        [ "$name" = main ] && pid=$sw_main || pid=$sw_crl
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            if waitfor 5 eval "! kill -0 $pid 2>/dev/null"; then
                wait "$pid"
                rc=$?
                if [ $rc -eq 0 ]; then
                    ok "stirwired ($name): SIGTERM, exit 0"
                else
                    nok "stirwired ($name): SIGTERM, exit $rc"
                fi
            else
                nok "stirwired ($name): still running 5 s after SIGTERM"
            fi
        else
            nok "stirwired ($name) died during the test"
        fi
    done
fi
finish
