#!/usr/bin/env bash
# park.sh - messages parked by a filter, resumed when it wakes them, with other calls
# flowing meanwhile and a reload in the middle: nothing is lost, and the old
# configuration is freed only after the last message parked under it has left.
#
# Runs the test build of stirwired (STIRWIRED_TEST: it has the test-only `delay` filter,
# filters/delay.c) with one trunk whose chain is [ "delay" ]: INVITEs to a number starting
# with "park" are parked for 1500 ms, others pass at once. sipp plays the PBX (two UACs:
# parked calls and plain ones) and the far side (one UAS, which sees an "X-Parked: MS"
# header on every INVITE that waited). While the first parked calls wait, SIGHUP loads a
# configuration that parks for 500 ms instead; a second batch of parked calls then runs
# under it. Then a PBX on 127.0.0.4 (a small UDP sender) retransmits a parked INVITE
# twice while it waits, and once more after it has left: the far side (127.0.0.5, a UDP
# sink) gets it once while it is parked (the two copies are absorbed and counted as
# retrans_absorbed), and the late copy passes again, as a stateless proxy passes it.
# Everything is on 127.0.0.x. Skips (77) when sipp is not installed.
set -u
. "$(dirname "$0")/lib.sh"

SIPP="$SRCDIR/tools/sipp"
STIRWIRED_TEST="${STIRWIRED_TEST:-$BUILDDIR/tests/integration/stirwired_test}"
NP=10  # parked calls under the first configuration
NN=300 # plain calls, sent while those wait
NP2=5  # parked calls under the reloaded configuration

SKIP_HINT="sipp is in Debian's sip-tester" skip_without sipp python3
need_built STIRWIRED_TEST
make_workdir park
# shellcheck disable=SC2317  # called by finish
before_finish() {
    if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log 2>/dev/null; then
        nok "sanitizer report in stirwired.log"
        grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' stirwired.log | head -30
    fi
    if [ "$fail" -gt 0 ]; then
        echo "# end of stirwired.log:"
        tail -15 stirwired.log 2>/dev/null | sed 's/^/#   /'
    fi
}

read -r SW UAC1 UAC2 UAS RTX SINK < <(free_ports 6)

write_config() { # write_config FILE MS
    cat >"$1" <<CONF
# written by tests/integration/park.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp" ]; } );
workers = 2;
max_parked = 1000;
log = { level = "debug"; };
trunks = (
    { name = "pbx"; match = { source = "127.0.0.2"; };
      next_hop = "sip:127.0.0.3:$UAS"; filters = [ "delay" ];
      delay = { ms = $2; match = "park"; }; },
    { name = "carrier"; match = { source = "127.0.0.3"; }; next_hop = "sip:127.0.0.2:$UAC2"; },
    { name = "retx"; match = { source = "127.0.0.4"; };
      next_hop = "sip:127.0.0.5:$SINK"; filters = [ "delay" ];
      delay = { ms = $2; match = "park"; }; }
);
CONF
}
write_config a.conf 1500
write_config b.conf 500
out="$("$STIRWIRED_TEST" -t -c a.conf 2>&1)"
if [ "$out" = "configuration OK" ]; then ok "stirwired -t: configuration OK"; else nok "-t: $out"; finish; fi

"$STIRWIRED_TEST" -f -c a.conf 2>stirwired.log &
sw_pid=$!
bg_pids+=("$sw_pid")
waitfor 5 grep -q "started" stirwired.log || { nok "stirwired did not start"; finish; }
ok "stirwired (test build) started on 127.0.0.1:$SW"

total=$((NP + NN + NP2))
sipp -sf "$SIPP/uas.xml" -i 127.0.0.3 -p "$UAS" -m "$total" -nostdin -timeout 60s -timeout_error \
    -trace_msg -message_file uas.msg -trace_err -error_file uas.err >uas.out 2>&1 &
uas_pid=$!
bg_pids+=("$uas_pid")
sleep 0.3

# uac NAME PORT SERVICE CALLS RATE: a UAC in the background; -nr: sipp does not
# retransmit, so the UAS's counts stay exact (retransmissions are tested on their own below)
uac() {
    sipp -sf "$SIPP/uac.xml" -i 127.0.0.2 -p "$2" -key caller 12025550100 -s "$3" \
        "127.0.0.1:$SW" -m "$4" -r "$5" -nr -nostdin -timeout 60s -timeout_error \
        -trace_err -error_file "$1.err" >"$1.out" 2>&1 &
    uac_pid=$!
    bg_pids+=("$uac_pid")
}
wait_uac() { # wait_uac NAME PID CALLS
    local rc
    wait "$2"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$1: $3 calls completed (sipp exit 0)"
    else
        nok "$1: sipp exit $rc: $(grep -E 'Successful call|Failed call' "$1.out" | tail -2 | tr -s ' ' | tr '\n' ' ')"
    fi
}

uac parked1 "$UAC1" park12025550199 "$NP" 50
p1=$uac_pid
# once some are parked: reload while they wait
if waitfor 5 grep -q "parked: trunk pbx: filter delay parked INVITE" stirwired.log; then
    ok "INVITEs to park... are parked by the delay filter"
else
    nok "no INVITE was parked"
fi
sleep 0.2
cp b.conf a.conf.new && mv a.conf.new a.conf # the same path, new contents
kill -HUP "$sw_pid"
uac plain "$UAC2" 12025550199 "$NN" 300
p2=$uac_pid
wait_uac plain "$p2" "$NN"
wait_uac parked1 "$p1" "$NP"
uac parked2 "$UAC1" park12025550188 "$NP2" 20
p3=$uac_pid
wait_uac parked2 "$p3" "$NP2"
if waitfor 10 eval '! kill -0 $uas_pid 2>/dev/null' && wait "$uas_pid"; then
    ok "the UAS saw all $total calls complete (sipp exit 0)"
else
    nok "the UAS did not complete its calls: $(grep -E 'Successful call|Failed call' uas.out | tail -2 | tr -s ' ' | tr '\n' ' ')"
fi

# What reached the far side: each INVITE once, the parked ones with how long they waited.
inv_total=$(grep -c '^INVITE ' uas.msg)
inv_1500=$(grep -c '^X-Parked: 1500' uas.msg)
inv_500=$(grep -c '^X-Parked: 500' uas.msg)
if [ "$inv_total" -eq "$total" ] && [ "$inv_1500" -eq "$NP" ] && [ "$inv_500" -eq "$NP2" ]; then
    ok "the UAS received $inv_total INVITEs: $inv_1500 parked 1500 ms (first config), $inv_500 parked 500 ms (reloaded), $((inv_total - inv_1500 - inv_500)) not parked"
else
    nok "the UAS received $inv_total INVITEs ($inv_1500 with X-Parked: 1500, $inv_500 with 500), want $total ($NP, $NP2)"
fi

# Other calls flowed while messages were parked: plain INVITEs were forwarded between
# the first park and the first resume.
first_park=$(grep -n 'parked: trunk pbx' stirwired.log | head -1 | cut -d: -f1)
first_resume=$(grep -n 'delay: resumed' stirwired.log | head -1 | cut -d: -f1)
plain_between=$(sed -n "${first_park:-1},${first_resume:-1}p" stirwired.log |
    grep -c 'forwarded: INVITE from 127.0.0.2:[0-9]* (trunk pbx) to [^:]*:[^:]*:[0-9]*$')
if [ "${plain_between:-0}" -gt 0 ]; then
    ok "$plain_between plain INVITEs were forwarded while the first parked ones waited"
else
    nok "no plain INVITE was forwarded while messages were parked"
fi

# The reload kept configuration #1 alive for its parked messages, and freed it after the
# last of them (those resumed "after 1500 ms") had been forwarded.
held=$(grep -o 'reload: configuration #1 stays until the [0-9]* parked' stirwired.log | grep -o '[0-9]* parked' | cut -d' ' -f1)
if [ -n "$held" ] && [ "$held" -gt 0 ]; then
    ok "reload: configuration #1 held by $held parked messages"
else
    nok "reload did not report parked messages holding configuration #1: $(grep 'reload' stirwired.log | head -3)"
fi
last_1500=$(grep -n 'resumed after 1500 ms' stirwired.log | tail -1 | cut -d: -f1)
freed1=$(grep -n 'configuration #1 of .* freed' stirwired.log | head -1 | cut -d: -f1)
n_1500=$(grep -c 'resumed after 1500 ms' stirwired.log)
if [ -n "$freed1" ] && [ -n "$last_1500" ] && [ "$freed1" -gt "$last_1500" ] && [ "$n_1500" -eq "$NP" ]; then
    ok "configuration #1 freed (log line $freed1) after the last of its $n_1500 parked messages left (line $last_1500)"
else
    nok "configuration #1 freed at log line '${freed1:-never}', its last parked message left at '${last_1500:-never}' ($n_1500 of $NP resumed)"
fi

# Retransmissions of a parked INVITE (RFC 3261 17.1.1.2; matched as 17.2.3 says: top Via
# branch, source, method): the same bytes three times while it waits 500 ms (the reloaded
# configuration), then once more after it was forwarded. The sink records when each copy
# came (ms since the first send).
python3 - "$SW" "$RTX" "$SINK" >retx.out 2>&1 <<'PY'
import socket, sys, time
sw, rtx, sink = (int(a) for a in sys.argv[1:4])
inv = ("INVITE sip:park12025550177@127.0.0.1 SIP/2.0\r\n"
       "Via: SIP/2.0/UDP 127.0.0.4:%d;branch=z9hG4bK-retx-1;rport\r\n"
       "Max-Forwards: 70\r\n"
       "From: <sip:12025550100@127.0.0.4>;tag=rt1\r\n"
       "To: <sip:park12025550177@127.0.0.1>\r\n"
       "Call-ID: retx-1@127.0.0.4\r\n"
       "CSeq: 1 INVITE\r\n"
       "Contact: <sip:12025550100@127.0.0.4:%d>\r\n"
       "Content-Length: 0\r\n\r\n" % (rtx, rtx)).encode()
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.5", sink))
rx.settimeout(0.05)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("127.0.0.4", rtx))
t0 = time.monotonic()
plan = [0.0, 0.15, 0.30, 1.30]  # the last one after the first has left (500 ms park)
got = []
while time.monotonic() - t0 < 2.6:
    if plan and time.monotonic() - t0 >= plan[0]:
        tx.sendto(inv, ("127.0.0.1", sw))
        plan.pop(0)
    try:
        data = rx.recv(65535)
    except socket.timeout:
        continue
    if data.startswith(b"INVITE ") and b"retx-1@127.0.0.4" in data:
        got.append(int((time.monotonic() - t0) * 1000))
print("received", len(got), "at", " ".join(str(g) for g in got))
PY
read -r _ n_retx _ t_retx1 t_retx2 _ < retx.out
if [ "${n_retx:-0}" -eq 2 ] && [ "${t_retx1:-0}" -lt 1300 ] && [ "${t_retx2:-0}" -ge 1300 ]; then
    ok "parked INVITE sent 3 times while it waited: forwarded once (at ${t_retx1} ms); the copy sent after it left passed again (at ${t_retx2} ms)"
else
    nok "retransmitted parked INVITE: the sink saw $(cat retx.out), want 1 copy before 1300 ms and 1 after"
fi
n_abs=$(grep -c 'absorbed: INVITE from 127.0.0.4:[0-9]* (trunk retx, branch z9hG4bK-retx-1)' stirwired.log)
if [ "$n_abs" -eq 2 ]; then
    ok "the 2 retransmissions while parked were absorbed (logged at debug)"
else
    nok "$n_abs retransmissions logged as absorbed, want 2"
fi

kill -TERM "$sw_pid"
if waitfor 10 eval '! kill -0 $sw_pid 2>/dev/null'; then
    ok "SIGTERM: stirwired stopped"
else
    nok "stirwired did not stop on SIGTERM"
fi
summary=$(grep 'at exit:' stirwired.log | tail -1)
want=$((NP + NP2 + 2)) # and the retransmission test's INVITE, parked twice
if printf '%s' "$summary" | grep -q "parked $want, resumed $want" &&
    printf '%s' "$summary" | grep -q "retrans_absorbed 2" &&
    printf '%s' "$summary" | grep -q "delay: parked $want, resumed $want" &&
    printf '%s' "$summary" | grep -q "0 messages parked"; then
    ok "counters at exit: parked $want, resumed $want, retrans_absorbed 2, none left parked"
else
    nok "counters at exit: $summary"
fi
finish
