#!/usr/bin/env bash
# metrics_live.sh - GET /metrics of a running stirwired moves with the calls through it.
#
# One stirwired with an http group (listen on 127.0.0.1, an ops token) and a trunk whose
# chain signs (attest A for the PBX's numbers). A python3 PBX on 127.0.0.2 sends N
# INVITEs over UDP; a python3 sink on 127.0.0.3 (the next hop) counts those that arrive
# with an Identity. curl reads /metrics before and after. Checked: 401 without the token;
# 200 with it and Content-Type text/plain; version=0.0.4; both texts pass promtool check
# metrics (when installed); stirwire_forwarded_requests_total, stirwire_requests_total and
# stirwire_sign_signed_total{attest="A"} grew by exactly N, the number the sink saw; the
# verifier and build_info families are there.
#
# Needs the HTTP server in stirwired (src/http/server.c and the daemon's http group):
# until it is there, stirwired -t rejects the http group and this test skips (77) saying
# so. Skips without python3 or curl.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=20
TOKEN=m3trics

skip_without python3 curl
need_built STIRWIRE STIRWIRED
make_workdir metrics-live
# shellcheck disable=SC2317  # called by finish
before_finish() {
    if [ "$fail" -gt 0 ]; then
        echo "# end of stirwired.log:"
        tail -15 stirwired.log 2>/dev/null | sed 's/^/#   /'
    fi
}

read -r SW SINK HTTP < <(free_ports 3)
"$STIRWIRE" keygen --out sp.key --pub sp.pub >/dev/null 2>&1 || { nok "stirwire keygen"; finish; }
cat >stirwired.conf <<CONF
# written by tests/integration/metrics_live.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp" ]; } );
workers = 2;
log = { level = "info"; };
http = {
    listen = "127.0.0.1:$HTTP";
    tokens = { ops = "$TOKEN"; };
};
trunks = (
    { name = "pbx"; match = { source = "127.0.0.2"; };
      next_hop = "sip:127.0.0.3:$SINK"; filters = [ "sign" ];
      sign = { key = "$work/sp.key"; x5u = "https://certs.example.net/sp.pem";
               attest = ( { numbers = [ "1202555" ]; level = "A"; } ); }; }
);
CONF
out="$("$STIRWIRED" -t -c stirwired.conf 2>&1)"
if [ "$out" != "configuration OK" ]; then
    if printf '%s' "$out" | grep -q '\bhttp\b'; then
        echo "SKIP: this stirwired has no HTTP server yet (-t: $out)"
        exit 77
    fi
    nok "stirwired -t: $out"
    finish
fi
ok "stirwired -t: configuration OK (with an http group)"

# the next hop: counts INVITEs, and those with an Identity; a line after each
python3 - "$SINK" >sink.out 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.3", int(sys.argv[1])))
inv = ident = 0
while True:
    d, _ = s.recvfrom(65535)
    if d.startswith(b"INVITE "):
        inv += 1
        ident += b"\r\nIdentity:" in d
        print("COUNT %d %d" % (inv, ident), flush=True)
PY
sink_pid=$!
bg_pids+=("$sink_pid")

"$STIRWIRED" -f -c stirwired.conf 2>stirwired.log &
bg_pids+=("$!")
waitfor 5 grep -q "started" stirwired.log || { nok "stirwired did not start"; finish; }
URL="http://127.0.0.1:$HTTP/metrics"
waitfor 5 curl -s -o /dev/null "$URL" || { nok "no HTTP listener on 127.0.0.1:$HTTP"; finish; }
ok "stirwired started, HTTP on 127.0.0.1:$HTTP"

code="$(curl -s -o /dev/null -w '%{http_code}' "$URL")"
if [ "$code" = 401 ]; then ok "/metrics without the ops token: 401"; else nok "without token: $code"; fi

# scrape FILE: /metrics with the token into FILE; the headers into FILE.h
scrape() {
    curl -s -D "$1.h" -H "Authorization: Bearer $TOKEN" -o "$1" "$URL"
}
# value FILE SAMPLE: the value of the sample written exactly so, or "none"
value() {
    awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { print $NF; f = 1 } END { if (!f) print "none" }' "$1"
}

scrape before.txt || nok "curl /metrics (before)"
if grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' before.txt.h &&
    head -1 before.txt.h | grep -q ' 200'; then
    ok "/metrics: 200, text/plain; version=0.0.4"
else
    nok "/metrics answer: $(head -1 before.txt.h), $(grep -i content-type before.txt.h)"
fi

python3 - "$SW" "$N" <<'PY'
import socket, sys, uuid
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 0))
lport = s.getsockname()[1]
for i in range(n):
    cid, br = uuid.uuid4().hex, "z9hG4bK" + uuid.uuid4().hex[:16]
    msg = ("INVITE sip:12025550199@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.2:%d;branch=%s\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:12025550100@127.0.0.2>;tag=%d\r\n"
           "To: <sip:12025550199@127.0.0.1>\r\n"
           "Call-ID: %s@127.0.0.2\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:12025550100@127.0.0.2:%d>\r\n"
           "Content-Length: 0\r\n\r\n") % (port, lport, br, i, cid, lport)
    s.sendto(msg.encode(), ("127.0.0.1", port))
PY
# the sink has them all once it printed COUNT N (a late extra one would show below)
waitfor 10 grep -q "^COUNT $N " sink.out
sleep 0.3
read -r _ got signed < <(tail -1 sink.out)
if [ "${got:-0}" -eq "$N" ] && [ "${signed:-0}" -eq "$N" ]; then
    ok "the next hop got $N INVITEs, each with an Identity"
else
    nok "the next hop got ${got:-?} INVITEs, ${signed:-?} with an Identity (want $N)"
fi

scrape after.txt || nok "curl /metrics (after)"
for s in stirwire_requests_total stirwire_forwarded_requests_total \
    'stirwire_sign_signed_total{attest="A"}'; do
    b="$(value before.txt "$s")"
    a="$(value after.txt "$s")"
    if [ "$b" != none ] && [ "$a" != none ] && [ $((a - b)) -eq "$N" ]; then
        ok "$s: $b -> $a (+$N)"
    else
        nok "$s: $b -> $a (want +$N)"
    fi
done
for s in stirwire_verifier_cache_hits_total stirwire_build_info; do
    if grep -q "^${s}[ {]" after.txt; then ok "$s is served"; else nok "$s is missing"; fi
done

if command -v promtool >/dev/null 2>&1; then
    for f in before.txt after.txt; do
        if promtool check metrics <"$f" >"$f.lint" 2>&1 && [ ! -s "$f.lint" ]; then
            ok "promtool check metrics: /metrics ($f) accepted"
        else
            nok "promtool check metrics ($f): $(head -5 "$f.lint")"
        fi
    done
else
    echo "# promtool not installed (Debian: apt-get install prometheus): its check skipped"
fi
finish
