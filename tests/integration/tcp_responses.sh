#!/usr/bin/env bash
# tcp_responses.sh - responses to a TCP request go back on the connection it came in on
# (RFC 3261 section 18.2.2), with peers that behave as real TCP clients do
# (tests/integration/tcpcall.py): they connect from an ephemeral port while their Via,
# without rport, names a port where nothing listens. sipp cannot show this (its Via names
# the port it listens on).
#
# Checked, each as a whole call (INVITE/180/200/ACK/BYE/200): TCP caller and UDP callee;
# UDP caller and TCP callee, whose own BYE leaves on a new connection and gets its 200
# back there; TCP on both sides; and a TCP caller that closes its connection after the
# INVITE gets its responses on a new connection to its Via's port.
#
# Addresses: stirwired on 127.0.0.1; .4/.3 TCP caller and UDP callee, .6/.7 UDP caller
# and TCP callee, .8/.9 TCP caller and TCP callee, .10/.11 the closing caller and its
# UDP callee. Exit 0 all passed, 1 a check failed, 77 python3 missing.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without python3
need_built STIRWIRED
make_workdir tcpresp
TCPCALL="$SRCDIR/tests/integration/tcpcall.py"

read -r SW P1 P2 P3 P4 P5 < <(free_ports 6)
cat >stirwired.conf <<CONF
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp", "tcp" ]; } );
workers = 2;
log = { level = "debug"; };
trunks = (
    { name = "tcp-caller"; match = { source = "127.0.0.4"; }; next_hop = "sip:127.0.0.3:$P1"; },
    { name = "udp-callee"; match = { source = "127.0.0.3"; };
      next_hop = "sip:127.0.0.4:$P1;transport=tcp"; },
    { name = "udp-caller"; match = { source = "127.0.0.6"; };
      next_hop = "sip:127.0.0.7:$P3;transport=tcp"; },
    { name = "tcp-callee"; match = { source = "127.0.0.7"; }; next_hop = "sip:127.0.0.6:$P2"; },
    { name = "tcp-caller2"; match = { source = "127.0.0.8"; };
      next_hop = "sip:127.0.0.9:$P4;transport=tcp"; },
    { name = "tcp-callee2"; match = { source = "127.0.0.9"; };
      next_hop = "sip:127.0.0.8:$P4;transport=tcp"; },
    { name = "closing-caller"; match = { source = "127.0.0.10"; };
      next_hop = "sip:127.0.0.11:$P5"; },
    { name = "closing-callee"; match = { source = "127.0.0.11"; };
      next_hop = "sip:127.0.0.10:$P5"; }
);
CONF
"$STIRWIRED" -f -c stirwired.conf 2>stirwired.log &
bg_pids+=("$!")
if ! waitfor 5 grep -q "started" stirwired.log; then
    nok "stirwired did not start: $(tail -3 stirwired.log)"
    finish
fi

# scenario NAME ARGS...: runs tcpcall.py; its ok/FAIL lines are this script's checks, and
# its exit status one more.
scenario() {
    local line rc
    timeout 30 python3 "$TCPCALL" --proxy "127.0.0.1:$SW" --scenario "$@" >"call-$1.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case "$line" in
        "ok   - "*) ok "${line#ok   - }" ;;
        "FAIL - "*) nok "${line#FAIL - }" ;;
        *) echo "# $line" ;;
        esac
    done <"call-$1.out"
    if [ $rc -eq 0 ]; then
        ok "$1: the call completed"
    else
        nok "$1: tcpcall.py exited $rc"
    fi
}
scenario tcp-udp --caller-ip 127.0.0.4 --callee-ip 127.0.0.3 --callee-port "$P1"
scenario udp-tcp --caller-ip 127.0.0.6 --caller-port "$P2" --callee-ip 127.0.0.7 \
    --callee-port "$P3"
scenario tcp-tcp --caller-ip 127.0.0.8 --callee-ip 127.0.0.9 --callee-port "$P4"
scenario tcp-closed --caller-ip 127.0.0.10 --callee-ip 127.0.0.11 --callee-port "$P5"
if grep -q "Connection refused" stirwired.log; then
    nok "stirwired logged a refused connection: $(grep -m1 "Connection refused" stirwired.log)"
else
    ok "no \"Connection refused\" in the log"
fi
if [ "$fail" -ne 0 ]; then
    echo "# last lines of the stirwired log:"
    tail -20 stirwired.log | sed 's/^/#   /'
fi
finish
