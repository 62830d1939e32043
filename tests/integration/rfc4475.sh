#!/usr/bin/env bash
# rfc4475.sh - the RFC 4475 torture messages (tests/data/rfc4475/, bit-exact from the RFC's
# archive) through a real stirwired on 127.0.0.1, over UDP and over TCP, each message's
# outcome asserted by rfc4475.py: forwarded byte-exact except our edits, answered with the
# status RFC 4475 and RFC 3261 section 16 give, dropped, or (TCP) the connection closed or
# kept waiting. The same table, run through sw_proxy_handle() without sockets, is
# tests/unit/test_rfc4475.c; this one adds the daemon's sockets, TCP framing on real
# connections and replies on the connection a request came on. Also: 513 for an INVITE
# too large for every transport the next hop takes, sent over UDP and over TCP.
#
# stirwired's trunk takes requests from 127.0.0.1 and sends them to the script's UDP sink
# on 127.0.0.7. Exit 0 when every check passes, 1 otherwise, 77 without python3.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without python3
need_built STIRWIRED
make_workdir rfc4475

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

# Two ports free for both UDP and TCP.
read -r SW SINK < <(free_ports 2)
cat >stirwired.conf <<CONF
# written by tests/integration/rfc4475.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp", "tcp" ]; } );
workers = 2;
log = { level = "info"; };
trunks = (
    { name = "torture"; match = { source = [ "127.0.0.1/32" ]; };
      next_hop = "sip:127.0.0.7:$SINK"; record_route = true; }
);
CONF
"$STIRWIRED" -f -c stirwired.conf -p "$work/stirwired.pid" 2>stirwired.log &
bg_pids+=("$!")
if waitfor 5 grep -q "started" stirwired.log; then
    ok "stirwired started on 127.0.0.1:$SW (udp+tcp), next hop the sink on 127.0.0.7:$SINK"
else
    nok "stirwired did not start"
    finish
fi

while IFS= read -r line; do
    case "$line" in
    "ok   - "*) ok "${line#ok   - }" ;;
    "FAIL - "*) nok "${line#FAIL - }" ;;
    *) echo "$line" ;;
    esac
done < <(python3 "$SRCDIR/tests/integration/rfc4475.py" "$SRCDIR/tests/data/rfc4475" "$SW" "$SINK" 2>&1)
finish
