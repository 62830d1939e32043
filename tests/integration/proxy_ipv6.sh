#!/usr/bin/env bash
# tests/integration/proxy_ipv6.sh - stirwired on IPv6 (::1): an INVITE from a trunk over UDP
# and over TCP is signed and forwarded to an IPv6 next hop, and the 200 comes back to the
# caller through the proxy. Loopback only. Exit 0 pass, 1 fail, 77 skip (no python3 or no
# IPv6 loopback).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_built STIRWIRED STIRWIRE
skip_without python3
python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null ||
    { echo "SKIP: no IPv6 loopback"; exit 77; }

make_workdir ipv6
# check STATUS WHAT: one check, passed when STATUS is 0.
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2"; fi; }

ports="$(python3 -c '
import socket
ss=[]
for _ in range(4):
    s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1",0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
read -r p_proxy p_uac p_uas p_uas_tcp <<<"$ports"

"$STIRWIRE" keygen --out "$work/key.pem" --pub "$work/pub.pem" >/dev/null || exit 1
cat >"$work/v6.conf" <<CONF
listen = ( { address = "::1"; port = $p_proxy; transport = [ "udp", "tcp" ]; } );
workers = 1;
log = { level = "debug"; };
trunks = (
  { name = "pbx-udp"; match = { source = [ "::1/128" ]; port = $p_uac; };
    next_hop = "sip:[::1]:$p_uas"; record_route = true; filters = [ "sign" ];
    sign = { key = "$work/key.pem"; x5u = "https://cert.example.org/sp.pem";
             attest = ( { level = "A"; } ); }; },
  { name = "back"; match = { source = [ "::1/128" ]; };
    next_hop = "sip:[::1]:$p_uas_tcp;transport=tcp"; filters = [ "sign" ];
    sign = { key = "$work/key.pem"; x5u = "https://cert.example.org/sp.pem";
             attest = ( { level = "B"; } ); }; } );
CONF
"$STIRWIRED" -t -c "$work/v6.conf" >/dev/null
check $? "stirwired -t accepts an IPv6 listener and IPv6 next hops"
"$STIRWIRED" -f -c "$work/v6.conf" 2>"$work/d.log" &
pid=$!
bg_pids+=("$pid")
sleep 0.5

python3 - "$p_proxy" "$p_uac" "$p_uas" "$p_uas_tcp" "$work" <<'PY'
import socket, subprocess, sys, os
proxy, uac, uas, uas_tcp, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def invite(branch, via_proto, via_port, frm):
    return ("INVITE sip:12025550199@[::1]:%d SIP/2.0\r\n"
            "Via: SIP/2.0/%s [::1]:%d;branch=z9hG4bK-%s;rport\r\n"
            "From: <sip:+%s@[::1]>;tag=a\r\nTo: <sip:12025550199@[::1]>\r\n"
            "Call-ID: %s@v6\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            % (proxy, via_proto, via_port, branch, frm, branch)).encode()
def ok(cond, what):
    print(("ok   - " if cond else "FAIL - ") + what)
    return 0 if cond else 1
def identity(msg):
    for l in msg.split("\r\n"):
        if l.startswith("Identity: "):
            return l[len("Identity: "):]
    return None
def verify(ident, want):
    with open(os.path.join(work, "id.txt"), "w") as f:
        f.write(ident)
    r = subprocess.run([os.environ["STIRWIRE"], "check", "--key", os.path.join(work, "pub.pem"),
                        "--json", "-"], input=ident.encode(), capture_output=True)
    return r.returncode == 0 and ('"attest":"%s"' % want) in r.stdout.decode()
fails = 0
# 1. UDP in, UDP out, 200 back
a = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); a.bind(("::1", uac)); a.settimeout(3)
b = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); b.bind(("::1", uas)); b.settimeout(3)
a.sendto(invite("udp1", "UDP", uac, "12025550100"), ("::1", proxy))
try:
    d, src = b.recvfrom(65535); m = d.decode()
    fails += ok(m.startswith("INVITE ") and "Via: SIP/2.0/UDP [::1]:%d;branch=z9hG4bK-sw" % proxy in m,
                "UDP INVITE over IPv6 forwarded with our IPv6 Via")
    fails += ok(identity(m) is not None and verify(identity(m), "A"), "it carries a valid Identity, attest A")
    vias = [l for l in m.split("\r\n") if l.startswith("Via:")]
    resp = ("SIP/2.0 200 OK\r\n" + "\r\n".join(vias) + "\r\nFrom: <sip:+12025550100@[::1]>;tag=a\r\n"
            "To: <sip:12025550199@[::1]>;tag=b\r\nCall-ID: udp1@v6\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    b.sendto(resp.encode(), src)
    d, _ = a.recvfrom(65535); r = d.decode()
    fails += ok(r.startswith("SIP/2.0 200") and r.count("Via:") == 1, "the 200 comes back over IPv6 without our Via")
except socket.timeout:
    fails += ok(False, "UDP over IPv6: timed out")
# 2. TCP out: the "back" trunk sends to an IPv6 TCP next hop
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("::1", uas_tcp)); t.listen(1); t.settimeout(3)
c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); c.bind(("::1", 0))
c.sendto(invite("tcp1", "UDP", c.getsockname()[1], "13035550100"), ("::1", proxy))
try:
    conn, _ = t.accept(); conn.settimeout(3)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65535)
    m = data.decode()
    fails += ok(m.startswith("INVITE ") and "Via: SIP/2.0/TCP [::1]:%d" % proxy in m,
                "INVITE forwarded over TCP to an IPv6 next hop, our Via says TCP")
    fails += ok(identity(m) is not None and verify(identity(m), "B"), "it carries a valid Identity, attest B")
except socket.timeout:
    fails += ok(False, "TCP over IPv6: timed out")
sys.exit(1 if fails else 0)
PY
check $? "IPv6 UDP and TCP exchanges"
kill -0 "$pid" 2>/dev/null
check $? "stirwired still running"
finish
