#!/usr/bin/env bash
# next_hops.sh - next hops as carriers give them: an SRV name, several SBCs with priority
# and weight, OPTIONS health checks, and re-resolution as the TTL says. dnsmasq on
# 127.0.0.1 is the DNS server (stirwired's dns.servers points at it), sipp UASes are the
# carrier's SBCs (-aa: they answer OPTIONS), a sipp UAC is the PBX.
#
# DNS: _sip._udp.carrier.test has SRV records sbc1 (priority 10, weight 3), sbc2 (10, 1)
# and sbc3 (20, 1); the SBCs' addresses come from a hosts file that dnsmasq reads again on
# SIGHUP, with a TTL of 1 s.
#
# Checked: calls go by priority (sbc3 gets none while sbc1 or sbc2 is up) and weight (sbc1
# about three times sbc2); stopping sbc1 during calls marks it down within the health
# checks' down_after x interval (the time is printed), after which every new call goes to
# sbc2 and none is lost; sbc1 back up gets calls again; with sbc1 and sbc2 down, calls go
# to sbc3 (priority 20); in-dialog requests follow their Route / Request-URI; changing
# sbc1's address in DNS moves its calls to the new address within the TTL, without a
# reload; a reload keeps the hops' health (no hop flaps) and calls go on.
#
# Addresses: stirwired 127.0.0.1, the PBX 127.0.0.2, sbc1..3 127.0.0.21..23, sbc1's new
# address 127.0.0.24. Exit 77 without sipp or dnsmasq (Debian: sip-tester, dnsmasq-base).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="Debian: sip-tester, dnsmasq-base" skip_without sipp python3
DNSMASQ="$(command -v dnsmasq || echo /usr/sbin/dnsmasq)"
if [ ! -x "$DNSMASQ" ]; then
    echo "SKIP: dnsmasq is not installed (Debian: dnsmasq-base)"
    exit 77
fi
SIPP="$(cd "$SRCDIR/tools/sipp" && pwd)"
need_built STIRWIRED
make_workdir nexthops

# logged PATTERN: lines of the stirwired log matching PATTERN; mark / since_mark: only those
# after the mark.
mark=0
set_mark() { mark="$(wc -l <stirwired.log)"; }
logged() { tail -n +"$((mark + 1))" stirwired.log | grep -c -- "$1"; }

before_finish() {
    if [ "$fail" -ne 0 ] && [ -f stirwired.log ]; then
        echo "# last lines of the stirwired log:"
        tail -25 stirwired.log | sed 's/^/#   /'
    fi
}

# Ports free for UDP and TCP: stirwired, the UAC, the SBCs (one port, several addresses), DNS.
read -r SW UAC SBC DNS < <(free_ports 4)
if [ -z "${DNS:-}" ]; then
    nok "could not find free ports"
    finish
fi

# --- DNS -----------------------------------------------------------------------------------
printf '127.0.0.21 sbc1.carrier.test\n127.0.0.22 sbc2.carrier.test\n127.0.0.23 sbc3.carrier.test\n' \
    >sbcs.hosts
"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --user=root \
    --pid-file= --port="$DNS" --listen-address=127.0.0.1 --bind-interfaces --local-ttl=1 \
    --addn-hosts="$work/sbcs.hosts" --log-queries --log-facility="$work/dns.log" \
    --srv-host=_sip._udp.carrier.test,sbc1.carrier.test,"$SBC",10,3 \
    --srv-host=_sip._udp.carrier.test,sbc2.carrier.test,"$SBC",10,1 \
    --srv-host=_sip._udp.carrier.test,sbc3.carrier.test,"$SBC",20,1 2>dnsmasq.err &
dns_pid=$!
bg_pids+=("$dns_pid")
if waitfor 5 grep -q "started" dns.log 2>/dev/null; then
    ok "dnsmasq serves _sip._udp.carrier.test on 127.0.0.1:$DNS"
else
    nok "dnsmasq did not start: $(cat dnsmasq.err)"
    finish
fi

# --- stirwired -----------------------------------------------------------------------------
cat >stirwired.conf <<EOF
# written by tests/integration/next_hops.sh
listen = ( { address = "127.0.0.1"; port = $SW; transport = [ "udp" ]; } );
workers = 2;
log = { level = "info"; };
dns = { servers = [ "127.0.0.1:$DNS" ]; min_ttl = 1; };
trunks = (
    { name = "pbx"; match = { source = [ "127.0.0.2/32" ]; };
      next_hop = "sip:carrier.test"; record_route = true;
      health_check = { interval = 1; down_after = 2; up_after = 2; }; },
    { name = "carrier"; match = { source = [ "127.0.0.21/32", "127.0.0.22/32", "127.0.0.23/32",
                                             "127.0.0.24/32" ]; };
      next_hop = "sip:127.0.0.2:$UAC"; }
);
EOF
out="$("$STIRWIRED" -t -c stirwired.conf 2>&1)"
if [ "$out" = "configuration OK" ]; then
    ok "stirwired -t: the SRV name resolves through dnsmasq: configuration OK"
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
    nok "stirwired did not start"
    finish
fi

# --- the SBCs --------------------------------------------------------------------------------
declare -A sbc_pid
# start_sbc N IP: a sipp UAS for sbc N on IP:$SBC, answering OPTIONS (-aa); its messages go
# to sbcN.msg (appended: a restarted SBC keeps counting).
start_sbc() {
    sipp -sf "$SIPP/uas.xml" -t u1 -i "$2" -p "$SBC" -aa -nostdin -trace_msg \
        -message_file "sbc$1.$2.msg" -trace_err -error_file "sbc$1.err" >"sbc$1.out" 2>&1 &
    sbc_pid[$1]=$!
    bg_pids+=("${sbc_pid[$1]}")
}
stop_sbc() {
    kill -TERM "${sbc_pid[$1]}" 2>/dev/null
    wait "${sbc_pid[$1]}" 2>/dev/null
}
# invites N [IP]: INVITEs sbc N received so far (at IP; default every address).
invites() {
    cat sbc"$1".${2:-*}.msg 2>/dev/null | grep -c '^INVITE sip:'
}
# byes N: BYEs sbc N received (in-dialog requests that followed the dialog there).
byes() {
    cat sbc"$1".*.msg 2>/dev/null | grep -c '^BYE sip:'
}
start_sbc 1 127.0.0.21
start_sbc 2 127.0.0.22
start_sbc 3 127.0.0.23
sleep 0.5

# calls WHAT N RATE: N calls from the PBX through stirwired; sets rc and the counts.
calls() {
    timeout 60 sipp -sf "$SIPP/uac.xml" -t u1 -i 127.0.0.2 -p "$UAC" -key caller 12025550100 \
        -s 12025550199 "127.0.0.1:$SW" -m "$2" -r "$3" -nostdin -timeout 20s -timeout_error \
        -trace_err -error_file "uac-$1.err" >"uac-$1.out" 2>&1
    rc=$?
}
# counts: "sbc1 A sbc2 B sbc3 C" since the snapshot taken by snap.
snap() { s1=$(invites 1); s2=$(invites 2); s3=$(invites 3); }
since() {
    d1=$(($(invites 1) - s1))
    d2=$(($(invites 2) - s2))
    d3=$(($(invites 3) - s3))
}
# Health checks need two answers to call a hop up; sbc1..3 start up anyway (a new hop is up).
waitfor 5 eval 'grep -q "^OPTIONS sip:" sbc1.127.0.0.21.msg' &&
    ok "health checks: sbc1 receives OPTIONS" || nok "health checks: no OPTIONS at sbc1"

# --- 1. priority and weight --------------------------------------------------------------------
snap
calls weight 80 40
since
if [ "$rc" -eq 0 ]; then
    ok "80 calls completed (sipp exit 0): sbc1 $d1, sbc2 $d2, sbc3 $d3"
else
    nok "80 calls: sipp exit $rc: $(grep -E 'Successful call|Failed call' uac-weight.out | tr -s ' ' | tr '\n' ' ')"
fi
if [ "$d3" -eq 0 ]; then
    ok "priority: sbc3 (priority 20) got no call while sbc1 and sbc2 (priority 10) are up"
else
    nok "priority: sbc3 (priority 20) got $d3 calls"
fi
# weights 3:1 -> about 60:20; a draw that strays far from it is a bug, not chance
if [ "$d1" -ge 45 ] && [ "$d1" -le 72 ] && [ "$d2" -ge 8 ] && [ $((d1 + d2)) -eq 80 ]; then
    ok "weight: sbc1 (weight 3) $d1 calls, sbc2 (weight 1) $d2 calls of 80"
else
    nok "weight: sbc1 $d1, sbc2 $d2 of 80: want about 60 and 20"
fi
if [ "$(byes 1)" -eq "$d1" ] && [ "$(byes 2)" -eq "$d2" ]; then
    ok "in-dialog: every BYE followed its dialog to the SBC that took the INVITE"
else
    nok "in-dialog: BYEs sbc1 $(byes 1) sbc2 $(byes 2), INVITEs $d1 and $d2"
fi

# --- 2. stopping sbc1 during calls ---------------------------------------------------------------
snap
timeout 60 sipp -sf "$SIPP/uac.xml" -t u1 -i 127.0.0.2 -p "$UAC" -key caller 12025550100 \
    -s 12025550199 "127.0.0.1:$SW" -m 60 -r 20 -nostdin -timeout 15s -recv_timeout 3000 \
    -trace_err -error_file uac-stop.err >uac-stop.out 2>&1 &
run_pid=$!
bg_pids+=("$run_pid")
sleep 1
t0=$(date +%s%N)
set_mark
stop_sbc 1
if waitfor 10 eval 'test "$(logged "next hop 127.0.0.21:$SBC/udp is down")" -gt 0'; then
    t1=$(date +%s%N)
    move_ms=$(((t1 - t0) / 1000000))
    if [ "$move_ms" -le 3000 ]; then
        ok "sbc1 stopped: marked down after $move_ms ms (interval 1 s, down_after 2)"
    else
        nok "sbc1 stopped: marked down only after $move_ms ms"
    fi
else
    nok "sbc1 stopped: never marked down"
fi
wait "$run_pid"
lost="$(grep -E 'Failed call' uac-stop.out | tail -1 | tr -d ' ' | awk -F'|' '{print $3}')"
echo "# during the stop: ${lost:-?} of 60 calls failed (sent to sbc1 before it was marked down)"
snap
calls after-stop 40 40
since
if [ "$rc" -eq 0 ] && [ "$d2" -eq 40 ] && [ "$d1" -eq 0 ]; then
    ok "after the move: 40 new calls, none lost, all to sbc2"
else
    nok "after the move: sipp exit $rc, sbc1 $d1, sbc2 $d2, sbc3 $d3 of 40"
fi

# --- 3. sbc1 back ---------------------------------------------------------------------------------
set_mark
start_sbc 1 127.0.0.21
if waitfor 10 eval 'test "$(logged "next hop 127.0.0.21:$SBC/udp is up again")" -gt 0'; then
    ok "sbc1 restarted: marked up again"
else
    nok "sbc1 restarted: not marked up"
fi
snap
calls back 40 40
since
if [ "$rc" -eq 0 ] && [ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] && [ "$d3" -eq 0 ]; then
    ok "sbc1 back: 40 calls shared again: sbc1 $d1, sbc2 $d2"
else
    nok "sbc1 back: sipp exit $rc, sbc1 $d1, sbc2 $d2, sbc3 $d3"
fi

# --- 4. both priority-10 hops down: priority 20 -------------------------------------------------------
set_mark
stop_sbc 1
stop_sbc 2
if waitfor 10 eval 'test "$(logged "next hop 127.0.0.21:$SBC/udp is down")" -gt 0 &&
        test "$(logged "next hop 127.0.0.22:$SBC/udp is down")" -gt 0'; then
    ok "sbc1 and sbc2 stopped: both marked down"
else
    nok "sbc1 and sbc2 stopped: not both marked down"
fi
snap
calls backup 20 40
since
if [ "$rc" -eq 0 ] && [ "$d3" -eq 20 ]; then
    ok "priority 10 all down: 20 calls to sbc3 (priority 20), none lost"
else
    nok "priority 10 all down: sipp exit $rc, sbc3 $d3 of 20"
fi

# --- 5. re-resolution as the TTL says ------------------------------------------------------------
start_sbc 1 127.0.0.24
start_sbc 2 127.0.0.22
printf '127.0.0.24 sbc1.carrier.test\n127.0.0.22 sbc2.carrier.test\n127.0.0.23 sbc3.carrier.test\n' \
    >sbcs.hosts
set_mark
kill -HUP "$dns_pid"
t0=$(date +%s%N)
if waitfor 10 eval 'test "$(logged "next hops re-resolved.*127.0.0.24:$SBC")" -gt 0'; then
    ok "sbc1 moved to 127.0.0.24 in DNS: re-resolved after $((($(date +%s%N) - t0) / 1000000)) ms (TTL 1 s), no reload"
else
    nok "sbc1 moved in DNS: no re-resolution logged"
fi
# up_after 2 at 1 s: the new address is up from the start, sbc2 needs two answers
waitfor 10 eval 'test "$(logged "next hop 127.0.0.22:$SBC/udp is up again")" -gt 0'
sleep 0.2
snap
calls moved 40 40
since
n24=$(invites 1 127.0.0.24)
if [ "$rc" -eq 0 ] && [ "$n24" -gt 0 ] && [ "$d3" -eq 0 ]; then
    ok "after re-resolution: 40 calls, $n24 to sbc1 at its new address, sbc2 $d2"
else
    nok "after re-resolution: sipp exit $rc, sbc1 at .24 $n24, sbc2 $d2, sbc3 $d3"
fi

# --- 6. a reload keeps the hops' health and the monitor follows the new configuration ---------
set_mark
kill -HUP "$sw_pid"
if waitfor 5 eval 'test "$(logged "reloaded")" -gt 0'; then
    snap
    calls reload 20 40
    since
    if [ "$rc" -eq 0 ] && [ "$d3" -eq 0 ] && [ "$(logged "is down")" -eq 0 ]; then
        ok "after a reload: 20 calls, none lost, sbc1 $d1, sbc2 $d2; no hop flapped"
    else
        nok "after a reload: sipp exit $rc, sbc3 $d3, $(logged "is down") hops marked down"
    fi
else
    nok "SIGHUP: no reload logged"
fi

if grep -q "hops_marked_down" <(kill -USR1 "$sw_pid"; sleep 0.5; grep counters: stirwired.log); then
    ok "counters: $(grep counters: stirwired.log | tail -1 | grep -Eo 'hops_[a-z_]+ [0-9]+' | tr '\n' ' ')"
else
    nok "counters: no hops_marked_down in the USR1 summary"
fi
finish
