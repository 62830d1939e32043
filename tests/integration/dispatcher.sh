#!/usr/bin/env bash
# dispatcher.sh - stirwired past one machine, the way operators already run SIP at scale:
# Kamailio's dispatcher module in front of two stirwired instances. The proxy keeps no
# dialog state, so any instance can take any new call; the dispatcher spreads calls over
# the instances (round robin), probes them with OPTIONS, retries a call that an instance
# does not answer on the other one (failure_route), and stops sending to an instance that
# stops answering its probes.
#
# Path: sipp UAC (the PBX, 127.0.0.2) -> Kamailio (127.0.0.30) -> stirwired A (127.0.0.31)
# or B (127.0.0.32) -> sipp UAS (the carrier, 127.0.0.3, answering OPTIONS with -aa). An
# OPTIONS probe from the dispatcher goes through stirwired to the carrier and back, so an
# instance counts as up when it forwards: what a bump in the wire must do.
#
# Checked: calls are spread over both instances; stirwired A stopped (SIGTERM) in the middle
# of a run of calls; the calls go on through B; once the dispatcher has noticed, every new
# call completes, through B. The figures (calls per instance, calls lost during the stop)
# are printed. Exit 77 without sipp or kamailio (Debian: sip-tester, kamailio).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="Debian: sip-tester, kamailio" skip_without sipp python3
KAMAILIO="$(command -v kamailio || echo /usr/sbin/kamailio)"
if [ ! -x "$KAMAILIO" ]; then
    echo "SKIP: kamailio is not installed (Debian: kamailio)"
    exit 77
fi
MODS="$(dirname "$(find /usr/lib -path '*kamailio/modules/dispatcher.so' 2>/dev/null | head -1)")"
if [ ! -f "$MODS/dispatcher.so" ]; then
    echo "SKIP: kamailio's dispatcher module is not installed"
    exit 77
fi
SIPP="$(cd "$SRCDIR/tools/sipp" && pwd)"
need_built STIRWIRED
make_workdir dispatcher

before_finish() {
    if [ "$fail" -ne 0 ]; then
        for f in kamailio.log sw-a.log sw-b.log; do
            [ -f "$f" ] || continue
            echo "# last lines of $f:"
            tail -12 "$f" | sed 's/^/#   /'
        done
    fi
}

read -r KAM SW UAC UAS < <(free_ports 4)
if [ -z "${UAS:-}" ]; then
    nok "could not find free ports"
    finish
fi

# --- two stirwired instances ------------------------------------------------------------------
# start_sw NAME IP: one instance on IP:$SW; trunk "pbx" takes what Kamailio sends.
start_sw() {
    cat >"sw-$1.conf" <<EOF
listen = ( { address = "$2"; port = $SW; transport = [ "udp" ]; } );
workers = 1;
log = { level = "debug"; };
trunks = (
    { name = "pbx"; match = { source = [ "127.0.0.30/32" ]; };
      next_hop = "sip:127.0.0.3:$UAS"; record_route = true; },
    { name = "carrier"; match = { source = [ "127.0.0.3/32" ]; };
      next_hop = "sip:127.0.0.30:$KAM"; }
);
EOF
    "$STIRWIRED" -f -c "sw-$1.conf" 2>>"sw-$1.log" &
    eval "sw_$1=$!"
    bg_pids+=("$!")
}
start_sw a 127.0.0.31
start_sw b 127.0.0.32
if waitfor 5 grep -q started sw-a.log && waitfor 5 grep -q started sw-b.log; then
    ok "stirwired A (127.0.0.31) and B (127.0.0.32) started"
else
    nok "stirwired did not start"
    finish
fi

# --- the carrier ------------------------------------------------------------------------------
sipp -sf "$SIPP/uas.xml" -t u1 -i 127.0.0.3 -p "$UAS" -aa -nostdin -trace_err \
    -error_file uas.err >uas.out 2>&1 &
bg_pids+=("$!")

# --- Kamailio with dispatcher -----------------------------------------------------------------
printf '1 sip:127.0.0.31:%s\n1 sip:127.0.0.32:%s\n' "$SW" "$SW" >dispatcher.list
cat >kamailio.cfg <<EOF
#!KAMAILIO
# written by tests/integration/dispatcher.sh: dispatcher in front of two stirwired
debug=2
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.30:$KAM
mpath="$MODS/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "dispatcher.so"
modparam("tm", "fr_timer", 1500)
modparam("tm", "fr_inv_timer", 10000)
modparam("dispatcher", "list_file", "$work/dispatcher.list")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 2)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@127.0.0.30")

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK") && t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans())
            t_relay();
        exit;
    }
    t_check_trans();
    record_route();
    # 4: round robin over the active instances of set 1
    if (!ds_select_dst("1", "4")) {
        sl_send_reply("503", "No stirwired instance");
        exit;
    }
    xlog("L_INFO", "new call \$ci to \$du\n");
    t_on_failure("NEXT");
    t_relay();
}

failure_route[NEXT] {
    if (t_is_canceled())
        exit;
    # failover only: the OPTIONS probes decide what is inactive (a branch that times out
    # on a live instance, e.g. a call the carrier dropped, must not take it out of the set)
    if (t_branch_timeout() || t_check_status("5[0-9][0-9]")) {
        xlog("L_WARN", "no answer from \$du: trying the next one\n");
        if (ds_next_dst()) {
            t_on_failure("NEXT");
            t_relay();
        }
    }
}
EOF
"$KAMAILIO" -f kamailio.cfg -DD -E -m 64 -M 8 -Y "$work" >kamailio.log 2>&1 &
kam_pid=$!
bg_pids+=("$kam_pid")
sleep 1
if kill -0 "$kam_pid" 2>/dev/null; then
    ok "Kamailio with dispatcher on 127.0.0.30:$KAM (set 1: A and B, OPTIONS every second)"
else
    nok "Kamailio did not start: $(grep -iE 'error|crit' kamailio.log | head -5)"
    finish
fi
sleep 1.5 # the first probes: both instances active

# invites X: INVITEs instance X has forwarded so far (retransmissions too).
invites() { grep -c "forwarded: INVITE" "sw-$1.log"; }
# calls WHAT N: N calls from the PBX through Kamailio; rc and the counts since the call.
calls() {
    local a0 b0
    a0=$(invites a)
    b0=$(invites b)
    timeout 60 sipp -sf "$SIPP/uac.xml" -t u1 -i 127.0.0.2 -p "$UAC" -key caller 12025550100 \
        -s 12025550199 "127.0.0.30:$KAM" -m "$2" -r "${3:-20}" -nostdin -timeout 30s \
        -recv_timeout 8000 -trace_err -error_file "uac-$1.err" >"uac-$1.out" 2>&1
    rc=$?
    da=$(($(invites a) - a0))
    db=$(($(invites b) - b0))
    failed="$(grep -E 'Failed call' "uac-$1.out" | tail -1 | tr -d ' ' | awk -F'|' '{print $3}')"
}

# --- 1. spread ----------------------------------------------------------------------------------
calls spread 40
if [ "$rc" -eq 0 ] && [ "$da" -ge 15 ] && [ "$db" -ge 15 ]; then
    ok "40 calls through the dispatcher, none failed: A forwarded $da INVITEs, B $db"
else
    nok "40 calls: sipp exit $rc ($failed failed), A $da, B $db"
fi

# --- 2. A stopped in the middle of a run ------------------------------------------------------
a0=$(invites a)
b0=$(invites b)
timeout 60 sipp -sf "$SIPP/uac.xml" -t u1 -i 127.0.0.2 -p "$UAC" -key caller 12025550100 \
    -s 12025550199 "127.0.0.30:$KAM" -m 80 -r 20 -nostdin -timeout 30s -recv_timeout 8000 \
    -trace_err -error_file uac-stop.err >uac-stop.out 2>&1 &
run=$!
bg_pids+=("$run")
sleep 1.5
kill -TERM "$sw_a"
t0=$(date +%s%N)
wait "$sw_a" 2>/dev/null
wait "$run"
rc=$?
failed="$(grep -E 'Failed call' uac-stop.out | tail -1 | tr -d ' ' | awk -F'|' '{print $3}')"
ok "80 calls at 20/s, A stopped after 1.5 s: A forwarded $(($(invites a) - a0)), B $(($(invites b) - b0)); ${failed:-?} calls failed (sipp exit $rc)"
# The dispatcher's probes (every second, one miss marks inactive) have noticed by now; its
# failure_route has also retried on B the calls that A had taken and not answered.
if grep -q "no answer from sip:127.0.0.31" kamailio.log; then
    ok "the dispatcher retried $(grep -c "no answer from sip:127.0.0.31" kamailio.log) unanswered calls of A on B"
fi
sleep 1.5

# --- 3. after the dispatcher noticed ------------------------------------------------------------
calls after 40
# (B's count may include INVITE retransmissions: it forwards what it gets)
if [ "$rc" -eq 0 ] && [ "$db" -ge 40 ] && [ "$da" -eq 0 ]; then
    ok "after the dispatcher noticed: 40 new calls, none lost, all through B"
else
    nok "after the stop: sipp exit $rc ($failed failed), A $da, B $db of 40"
fi

# --- 4. A back --------------------------------------------------------------------------------
start_sw a 127.0.0.31
waitfor 5 eval 'test "$(grep -c started sw-a.log)" -ge 2'
sleep 3 # probes see A again (ds_inactive_threshold 2 at 1 s)
calls back 40
if [ "$rc" -eq 0 ] && [ "$da" -gt 0 ] && [ "$db" -gt 0 ]; then
    ok "A restarted: 40 calls spread again, A $da, B $db, none failed"
else
    nok "A restarted: sipp exit $rc ($failed failed), A $da, B $db"
fi
finish
