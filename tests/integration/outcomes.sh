#!/usr/bin/env bash
# outcomes.sh - every way a message ends is counted and, where an operator must see it,
# logged: raw messages from python3 to one stirwired, then its counters (SIGUSR1) and log.
#
# Checked: a request toward a UDP next hop where nothing listens is sent, and the ICMP
# port unreachable that comes back is counted (icmp_unreachable) and logged at info; a
# request that grows past what UDP carries toward a UDP-only next hop is answered 513
# (replied_513), never tried (no EMSGSIZE) and not counted as forwarded; a TCP next hop that refuses the connection
# is counted (send_failed_refused) and not as forwarded; Max-Forwards 300 is logged as out
# of range and answered 400, logged at info; a source in no trunk gets a 403 logged at
# info; a stream that is not SIP closes its connection (tcp_closed_not_sip); a burst of
# malformed packets gets its "suppressed" summary although no later line comes; after a
# reload with tcp.trunk_sources_only, a TCP connection from an address in no trunk is
# refused (tcp_refused_not_trunk) and one from a trunk's address is not.
#
# Exit 0 all passed, 1 a check failed, 77 python3 missing.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without python3
need_built STIRWIRED
make_workdir outcomes

read -r SW DEAD < <(free_ports 2)
cat >stirwired.conf <<CONF
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp", "tcp" ]; } );
workers = 1;
log = { level = "info"; };
trunks = (
    { name = "to-nobody"; match = { source = "127.0.0.50"; }; next_hop = "sip:127.0.0.51:$DEAD"; },
    { name = "too-big"; match = { source = "127.0.0.52"; }; next_hop = "sip:127.0.0.51:$DEAD";
      udp_fragment = true; },
    { name = "tcp-refused"; match = { source = "127.0.0.53"; };
      next_hop = "sip:127.0.0.51:$DEAD;transport=tcp"; },
    { name = "others"; match = { source = "127.0.0.54"; }; next_hop = "sip:127.0.0.51:$DEAD"; }
);
CONF
"$STIRWIRED" -f -c stirwired.conf 2>stirwired.log &
pid=$!
bg_pids+=("$pid")
if ! waitfor 5 grep -q "started" stirwired.log; then
    nok "stirwired did not start: $(tail -3 stirwired.log)"
    finish
fi

# send SRC PROTO SIZE MAXFWD: one INVITE from SRC (over udp or tcp) of about SIZE bytes.
send() {
    python3 - "$SW" "$@" <<'PY'
import socket, sys, time
sw, src, proto, size, mf = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
head = ("INVITE sip:12025550199@x SIP/2.0\r\n"
        f"Via: SIP/2.0/{proto.upper()} {src}:5060;branch=z9hG4bK{time.time_ns()}\r\n"
        f"Max-Forwards: {mf}\r\nFrom: <sip:12025550100@x>;tag=a\r\nTo: <sip:12025550199@x>\r\n"
        f"Call-ID: {time.time_ns()}@x\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n")
body = b"v" * max(0, size - len(head) - 40)
msg = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(msg, ("127.0.0.1", sw))
    s.settimeout(1)
    try:
        s.recv(65536)
    except OSError:
        pass
else:
    s = socket.create_connection(("127.0.0.1", sw), source_address=(src, 0))
    s.sendall(msg)
    time.sleep(0.5)
PY
}
counter() {
    local v
    v="$(grep "counters:" stirwired.log | tail -1 | grep -Eo "(^|[ ,])$1 [0-9]+" | grep -Eo '[0-9]+$')"
    echo "${v:-0}"
}
# shellcheck disable=SC2016,SC2034  # the eval'd test reads cbefore and clog
counters() {
    cbefore="$(grep -c "counters:" stirwired.log)"
    kill -USR1 "$pid"
    waitfor 3 eval 'test "$(grep -c "counters:" stirwired.log)" -gt "$cbefore"'
}
# want WHAT NAME VALUE: the counter NAME is VALUE.
want() {
    local v
    v="$(counter "$2")"
    if [ "$v" = "$3" ]; then
        ok "$1: $2 $v"
    else
        nok "$1: $2 is $v, want $3"
    fi
}
# logged WHAT LEVEL REGEX: a line at LEVEL matches REGEX.
logged() {
    if waitfor 3 grep -Eq "stirwired $2: $3" stirwired.log; then
        ok "$1: logged at $2: $(grep -E "stirwired $2: $3" stirwired.log | tail -1 | cut -d' ' -f3- | cut -c1-150)"
    else
        nok "$1: no $2 line matching /$3/"
    fi
}

# --- ICMP --------------------------------------------------------------------------------
send 127.0.0.50 udp 600 70
logged "next hop with nothing listening" info "ICMP error for a message sent to 127.0.0.51:$DEAD: Connection refused"
counters
want "next hop with nothing listening" icmp_unreachable 1
want "next hop with nothing listening" sent_udp 1

# --- too large for UDP --------------------------------------------------------------------
# Once our Via is on, 65 450 bytes no longer fit a UDP datagram (65 507): the proxy answers
# 513 instead of trying (RFC 3261 18.1.1), so the send never fails with EMSGSIZE and
# nothing is counted as forwarded.
send 127.0.0.52 udp 65450 70
counters
want "65 450-byte INVITE to a UDP-only next hop" replied_513 1
want "65 450-byte INVITE to a UDP-only next hop (no send tried)" send_failed_msgsize 0
want "65 450-byte INVITE to a UDP-only next hop (not forwarded)" forwarded_requests 1

# --- TCP next hop refuses ----------------------------------------------------------------
send 127.0.0.53 udp 600 70
logged "TCP next hop refuses" warning "TCP connect to 127.0.0.51:$DEAD: Connection refused"
counters
want "TCP next hop refuses" send_failed_refused 1
want "TCP next hop refuses (not forwarded)" forwarded_requests 1
want "TCP next hop refuses" tcp_connected 1

# --- Max-Forwards 300, a stranger, not SIP -----------------------------------------------
send 127.0.0.54 udp 600 300
logged "Max-Forwards: 300" info "replied 400: Max-Forwards out of range \(0\.\.255\) from 127.0.0.54"
send 127.0.0.99 udp 600 70
logged "a source in no trunk" info "replied 403: INVITE from 127.0.0.99:[0-9]+ matches no trunk"
python3 - "$SW" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.54", 0))
s.sendall(b"\x16\x03\x01 this is a TLS hello, not SIP\r\n\r\n")
time.sleep(0.5)
PY
counters
want "a stream that is not SIP" tcp_closed_not_sip 1
want "a stream that is not SIP" tcp_accepted 1

# --- the rate limit's summary ------------------------------------------------------------
python3 - "$SW" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.54", 0))
for i in range(40):
    s.sendto(b"garbage %d that is not SIP\r\n\r\n" % i, ("127.0.0.1", int(sys.argv[1])))
PY
logged "40 malformed packets, nothing after them" notice "[0-9]+ similar messages suppressed in the last second"

# --- TCP only from trunk sources ------------------------------------------------------------
sed -i 's/^workers = 1;/workers = 1;\ntcp = { trunk_sources_only = true; };/' stirwired.conf
kill -HUP "$pid"
if waitfor 5 grep -q "reloaded" stirwired.log; then
    ok "reloaded with tcp.trunk_sources_only = true"
else
    nok "no \"reloaded\" after SIGHUP: $(grep -i reload stirwired.log | tail -2)"
fi
for src in 127.0.0.99 127.0.0.54; do
    python3 - "$SW" "$src" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=(sys.argv[2], 0))
time.sleep(0.3)
PY
done
counters
want "a connection from an address in no trunk" tcp_refused_not_trunk 1
want "a connection from a trunk's address (accepted)" tcp_accepted 2
logged "a connection from an address in no trunk" warning "refusing TCP connection from 127.0.0.99:[0-9]+: the address is in no trunk"

if [ "$fail" -ne 0 ]; then
    echo "# last lines of the stirwired log:"
    tail -15 stirwired.log | sed 's/^/#   /'
fi
finish
