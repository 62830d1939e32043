#!/usr/bin/env bash
# verify_slow.sh - a slow x5u host stalls only the call that waits for it: while one
# INVITE is parked on a certificate that https_server.py serves after 5 s (/slow/...),
# calls whose certificate is cached keep completing at full rate, and the parked one
# completes when its fetch ends; its retransmissions while parked are not forwarded.
#
#   sipp UAC (127.0.0.2, 50 calls/s for 4 s, x5u cached) -> stirwired (trunk "load",
#       verify/verstat/audit, policy tag) -> sipp UAS (127.0.0.10, echoes the verstat)
#   verify_cases.py slow (127.0.0.3: the INVITE with the slow x5u, the same bytes again
#       1 and 2 s later) -> stirwired (trunk "slow") -> verify_cases.py's sink
#       (127.0.0.11, counts the INVITEs it gets and answers 200)
#
# Checked (as the peers see it): every load call is answered 200 within 1 s with
# TN-Validation-Passed (each call's <recv timeout="1000">; sipp exits 0 and counts as many
# successful calls as it made); the parked call gets its 200 after the fetch (>= 3.5 s),
# TN-Validation-Passed, and the sink saw its INVITE once; the x5u host was asked for the
# slow certificate once.
#
# Exit 0 all checks pass, 1 any fails, 77 (skip) when sipp, python3 or openssl is
# missing. Loopback only. KEEP=1 keeps the directory.
# Environment: STIRWIRED, STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="sipp is in Debian's sip-tester" skip_without sipp python3 openssl
need_built STIRWIRED STIRWIRE
CASES_PY="$SRCDIR/tests/integration/verify_cases.py"
RATE=50
CALLS=200
make_workdir verify-slow

before_finish() {
    if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log 2>/dev/null; then
        nok "sanitizer report in the stirwired log:"
        grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log | head -40
    fi
    if [ "$fail" -ne 0 ] && [ -f stirwired.log ]; then
        echo "# last lines of the stirwired log:"
        tail -8 stirwired.log | sed 's/^/#   /'
    fi
}
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

read -r SW UAS UACP SINK < <(free_ports 4)
if [ -z "${SINK:-}" ]; then
    nok "could not find free ports"
    finish
fi
serve_test_pki --slow-ms 5000
cat >env.json <<EOF
{ "work": "$work", "stirwire": "$STIRWIRE", "pki": "$work/pki", "base": "$base",
  "uas_ip": "127.0.0.10", "uas_port": $UAS, "uac_port": $UACP }
EOF

# Tokens: the load's (x5u cached after the first call) and the parked call's (slow x5u).
sign() {
    "$STIRWIRE" sign --orig 12025550100 --dest 12025550199 --attest A --key pki/sp.key \
        --x5u "$1" >"$2" 2>sign.err || {
        nok "stirwire sign --x5u $1 failed: $(cat sign.err)"
        finish
    }
}
sign "$base/sp-chain.pem" fast.txt
sign "$base/slow/sp-chain.pem" slow.txt
ok "tokens signed: x5u $base/sp-chain.pem (load) and $base/slow/sp-chain.pem (parked, 5 s)"

cat >stirwired.conf <<EOF
# written by tests/integration/verify_slow.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp" ]; } );
workers = 2;
log = { level = "info"; };
verifier = {
    ca_file = "$work/pki/root.pem";
    allow_networks = [ "127.0.0.0/8" ]; allow_any_port = true;
    tls_ca_file = "$work/tls/tls-ca.pem";
    connect_timeout_ms = 2000; timeout_ms = 8000;   # the slow certificate takes 5 s
};
trunks = (
    { name = "load"; match = { source = [ "127.0.0.2/32" ]; };
      next_hop = "sip:127.0.0.10:$UAS"; filters = [ "verify", "verstat", "audit" ];
      verify = { policy = "tag"; }; audit = { output = "$work/audit.jsonl"; }; },
    { name = "slow"; match = { source = [ "127.0.0.3/32" ]; };
      next_hop = "sip:127.0.0.11:$SINK"; filters = [ "verify", "verstat", "audit" ];
      verify = { policy = "tag"; }; audit = { output = "$work/audit.jsonl"; }; }
);
EOF
out="$("$STIRWIRED" -t -c stirwired.conf 2>&1)"
if [ $? -eq 0 ] && [ "$out" = "configuration OK" ]; then
    ok "stirwired -t: configuration OK"
else
    nok "stirwired -t: $out"
    finish
fi
"$STIRWIRED" -f -c stirwired.conf 2>stirwired.log &
sw_pid=$!
bg_pids+=("$sw_pid")
if waitfor 5 grep -q "started" stirwired.log; then
    ok "stirwired started"
else
    nok "stirwired did not start: $(tail -3 stirwired.log)"
    finish
fi

py uas-scenario uas.xml
sipp -sf uas.xml -i 127.0.0.10 -p "$UAS" -m 100000 -nostdin >uas.out 2>&1 &
bg_pids+=("$!")
py load-scenario load.xml --identity-file fast.txt

# uac N RATE OUT: N calls of load.xml at RATE calls/s; exit status of sipp.
uac() {
    timeout 40 sipp -sf load.xml -i 127.0.0.2 -p "$UACP" "127.0.0.1:$SW" -m "$1" -r "$2" \
        -nostdin -timeout 30s -timeout_error -trace_err -error_file "$3.err" >"$3.out" 2>&1
}
successful() { awk -F'|' '/Successful call/ { gsub(/ /, "", $3); print $3 }' "$1.out" | tail -1; }

# Warm-up: the first call fetches sp-chain.pem (and its CRL) into the cache.
sleep 0.3
if uac 1 1 warm; then
    ok "warm-up call: 200, TN-Validation-Passed (certificate now cached)"
else
    nok "warm-up call failed: $(head -c 400 warm.err 2>/dev/null)"
    finish
fi

# The parked call, in the background; then the load while it waits.
python3 "$CASES_PY" --env env.json slow --identity-file slow.txt --proxy "127.0.0.1:$SW" \
    --src 127.0.0.3 --sink "127.0.0.11:$SINK" --resend 1.0,2 --wait 12 >slow.out 2>&1 &
slow_pid=$!
bg_pids+=("$slow_pid")
sleep 0.3
start=$(date +%s%N)
uac "$CALLS" "$RATE" load
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
n="$(successful load)"
if [ $rc -eq 0 ] && [ "${n:-0}" -eq "$CALLS" ]; then
    ok "while a call was parked: $CALLS calls at $RATE/s all answered 200 within 1 s with TN-Validation-Passed (in $took ms)"
else
    nok "while a call was parked: sipp exit $rc, $n of $CALLS successful: $(grep -v '^sipp:' load.err 2>/dev/null | head -c 500)"
fi

wait "$slow_pid"
while IFS= read -r line; do
    case "$line" in
    "ok   - "*) ok "${line#ok   - }" ;;
    "FAIL - "*) nok "${line#FAIL - }" ;;
    *) echo "$line" ;;
    esac
done <slow.out

n_slow="$(python3 -c '
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
d = json.load(urllib.request.urlopen(sys.argv[2] + "/count", context=ctx, timeout=5))
print(d.get("/slow/sp-chain.pem", 0))' "$work/tls/tls-ca.pem" "$base" 2>/dev/null)"
if [ "$n_slow" = 1 ]; then
    ok "the slow certificate was fetched once, for the INVITE and its retransmissions"
else
    nok "the slow certificate was fetched ${n_slow:-?} times, want 1"
fi
# A reload (SIGHUP) re-reads the verifier group and the trust anchors but keeps the
# certificate cache: a call after it is verified without fetching sp-chain.pem again.
fetched() {
    python3 -c '
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
d = json.load(urllib.request.urlopen(sys.argv[2] + "/count", context=ctx, timeout=5))
print(d.get(sys.argv[3], 0))' "$work/tls/tls-ca.pem" "$base" "$1" 2>/dev/null
}
before="$(fetched /sp-chain.pem)"
kill -HUP "$sw_pid"
if waitfor 5 grep -q "reloaded .*configuration #2" stirwired.log && uac 1 1 after-reload; then
    after="$(fetched /sp-chain.pem)"
    if [ -n "$before" ] && [ "$before" = "$after" ]; then
        ok "after SIGHUP: a call verified TN-Validation-Passed from the kept cache ($after fetch(es) of sp-chain.pem in all)"
    else
        nok "after SIGHUP: sp-chain.pem fetched ${before:-?} times before, ${after:-?} after: the cache was lost"
    fi
else
    nok "after SIGHUP: no reload, or the call failed: $(grep -E 'reload' stirwired.log | tail -2) $(head -c 300 after-reload.err 2>/dev/null)"
fi
if kill -0 "$sw_pid" 2>/dev/null; then
    ok "stirwired is still running"
else
    nok "stirwired died"
fi
finish
