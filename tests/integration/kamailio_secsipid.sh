#!/usr/bin/env bash
# kamailio_secsipid.sh - Kamailio's own secsipid module on our libsecsipid.so.1 (issue 12:
# "Kamailio's secsipid module runs on it"). Debian's kamailio and kamailio-secsipid-modules
# 5.6 run with the build's src/compat/.libs first on LD_LIBRARY_PATH; /proc/PID/maps must
# show our library in the Kamailio processes and Go's /usr/lib/.../libsecsipid.so.1 in none.
#
#   sipp uac -> Kamailio "sign"   (secsipid_add_identity($fU, $rU, "A", "", x5u, key))
#            -> Kamailio "verify" (secsipid_check_identity(""): x5u fetched over https from
#                                  the test PKI, chained to its root; 403 when it fails)
#            -> sipp uas (records the INVITEs)
#
# The Identity that arrives is checked by `stirwire check` (x5u fetched, chained to the
# test root) and by Go's `secsipidx -check`; an INVITE whose Identity was signed with a
# foreign key must get the verifier's 403. Kamailio is configured the way
# ../shared/anchors/kamailio-secsipid.sh does it (stateless forward, one worker). Loopback
# only; the ports are picked free at start.
#
# Exit 77 (skip) when Kamailio or its secsipid module is not installed (tools/deps.sh), or
# when the build has no libsecsipid (--disable-libsecsipid). In a sanitizer build the ASan
# runtime that our library needs is preloaded into Kamailio (which is not built with it),
# and a sanitizer report in a Kamailio log is a failure.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

MODDIR=/usr/lib/x86_64-linux-gnu/kamailio/modules
GO_LIB=/usr/lib/x86_64-linux-gnu/libsecsipid.so.1
SIPP="$SRCDIR/tools/sipp"
SIPDIFF="$SRCDIR/tests/integration/sipdiff.py"
OURS_DIR="$BUILDDIR/src/compat/.libs"
CALLS=5

SKIP_HINT="tools/deps.sh installs kamailio and kamailio-secsipid-modules"
skip_without kamailio
if [ ! -f "$MODDIR/secsipid.so" ] || [ ! -f "$MODDIR/secsipid_proc.so" ]; then
    echo "SKIP: kamailio-secsipid-modules is not installed ($SKIP_HINT)"
    exit 77
fi
if [ ! -f "$OURS_DIR/libsecsipid.so.1" ]; then
    echo "SKIP: $OURS_DIR/libsecsipid.so.1 not built (configured with --disable-libsecsipid?)"
    exit 77
fi
need_built STIRWIRE
for tool in sipp secsipidx openssl python3 ss; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FAIL: $tool is not installed (tools/deps.sh)"
        exit 1
    }
done

make_workdir kamailio-secsipid

# A sanitizer build's library needs its runtime loaded before anything else; Kamailio is
# not built with it, so it is preloaded. Kamailio's own allocations are not ours to judge
# (it exits on SIGTERM without freeing its shared memory), hence no leak check there.
kam_env=(env "LD_LIBRARY_PATH=$OURS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    "SSL_CERT_FILE=$work/tls/tls-ca.pem")
asan_rt="$(ldd "$OURS_DIR/libsecsipid.so.1" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3 }')"
if [ -n "$asan_rt" ]; then
    kam_env+=("LD_PRELOAD=$asan_rt" "ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-}")
fi

# before_finish (called by finish): sanitizer reports in the Kamailio logs fail the test,
# and a failed run shows the logs' last lines.
before_finish() {
    local f
    for f in kam-*.log; do
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

# --- the test PKI, served over https --------------------------------------------------------
serve_test_pki
X5U="$base/sp-chain.pem"
openssl x509 -pubkey -noout -in pki/sp.pem >pub.pem
openssl ecparam -name prime256v1 -genkey -noout -out other.key 2>/dev/null
ok "test STI PKI made; $X5U served by https_server.py"

# Four free UDP ports on 127.0.0.1: sign, verify, uac, uas.
read -r P_SIGN P_VERIFY P_UAC P_UAS < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# --- Kamailio configurations (as the anchor writes them) ------------------------------------
# mkcfg MODE LISTEN NEXT: a stateless proxy on 127.0.0.1:LISTEN that signs or verifies
# INVITEs and forwards everything to 127.0.0.1:NEXT.
mkcfg() {
    local action
    case $1 in
    sign) action="if (!secsipid_add_identity(\"\$fU\", \"\$rU\", \"A\", \"\", \"$X5U\", \"$work/pki/sp.key\")) { sl_send_reply(\"500\", \"Signing failed\"); exit; }" ;;
    verify) action="if (!secsipid_check_identity(\"\")) { sl_send_reply(\"403\", \"Invalid Identity\"); exit; }" ;;
    esac
    cat <<EOF
#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:$2
mpath="$MODDIR/"
loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "secsipid.so"
modparam("secsipid", "expire", 300)
modparam("secsipid", "timeout", 5)
modparam("secsipid", "libopt", "CertVerify=13")
modparam("secsipid", "libopt", "CertCAFile=$work/pki/root.pem")
modparam("secsipid", "libopt", "CertCAInter=$work/pki/inter.pem")
request_route {
    if (method=="INVITE") { $action }
    \$du = "sip:127.0.0.1:$3";
    forward();
    exit;
}
EOF
}
mkcfg sign "$P_SIGN" "$P_VERIFY" >kam-sign.cfg
mkcfg verify "$P_VERIFY" "$P_UAS" >kam-verify.cfg
for c in sign verify; do
    if "${kam_env[@]}" kamailio -c -f "kam-$c.cfg" >"kam-$c.check" 2>&1; then
        ok "kamailio -c accepts the $c configuration"
    else
        nok "kamailio -c rejects kam-$c.cfg: $(tail -5 "kam-$c.check")"
        finish
    fi
done

# start_kam NAME PORT: Kamailio in the foreground (one worker) on our library; sets kam_pid.
start_kam() {
    "${kam_env[@]}" kamailio -f "kam-$1.cfg" -DD -E -n 1 >"kam-$1.log" 2>&1 &
    kam_pid=$!
    bg_pids+=("$kam_pid")
    if waitfor 10 eval "ss -lun | grep -q '127.0.0.1:$2 '"; then
        ok "Kamailio ($1) listens on 127.0.0.1:$2"
    else
        nok "Kamailio ($1) did not start: $(tail -5 "kam-$1.log")"
        finish
    fi
}
start_kam verify "$P_VERIFY"
kam_verify=$kam_pid
start_kam sign "$P_SIGN"
kam_sign=$kam_pid

# --- which libsecsipid the Kamailio processes mapped ----------------------------------------
# secsipid.so loads secsipid_proc.so (linked with libsecsipid.so.1) in each child's init, so
# the library shows in the children; a short wait lets them get there.
# kam_procs PID: PID and its children.
kam_procs() {
    echo "$1"
    ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}
# maps_check NAME PID: ours is mapped in at least one of PID's processes, Go's in none.
maps_check() {
    local p ours=0 go=0
    for p in $(kam_procs "$2"); do
        [ -r "/proc/$p/maps" ] || continue
        grep -q "$OURS_DIR/libsecsipid.so" "/proc/$p/maps" && ours=$((ours + 1))
        grep -q "$GO_LIB" "/proc/$p/maps" && go=$((go + 1))
    done
    [ "$ours" -gt 0 ] && [ "$go" -eq 0 ] || return 1
    echo "$ours"
}
# maps_wait NAME PID: the check, given the children a few seconds to initialise.
maps_wait() {
    local n p
    if waitfor 5 maps_check "$1" "$2" >/dev/null && n="$(maps_check "$1" "$2")"; then
        ok "Kamailio ($1): $n process(es) map $OURS_DIR/libsecsipid.so.1, none maps Go's $GO_LIB"
    else
        nok "Kamailio ($1): our library is not mapped, or Go's is; libsecsipid mappings: $(
            for p in $(kam_procs "$2"); do awk '/libsecsipid/ { print $NF }' "/proc/$p/maps"; done |
                sort -u | tr '\n' ' ')"
    fi
}
maps_wait sign "$kam_sign"
maps_wait verify "$kam_verify"

# --- calls: sipp -> sign -> verify -> sipp ---------------------------------------------------
sipp -sf "$SIPP/uas.xml" -i 127.0.0.1 -p "$P_UAS" -m "$CALLS" -nostdin -timeout 20s \
    -timeout_error -trace_msg -message_file uas.msg >uas.out 2>&1 &
uas_pid=$!
bg_pids+=("$uas_pid")
sleep 0.3
if sipp -sf "$SIPP/uac.xml" -key caller 12025550100 -s 12025550199 -i 127.0.0.1 -p "$P_UAC" \
    "127.0.0.1:$P_SIGN" -m "$CALLS" -r 10 -nostdin -timeout 20s -timeout_error \
    >uac.out 2>&1; then
    ok "$CALLS calls signed by secsipid_add_identity and accepted by secsipid_check_identity (sipp exit 0)"
else
    nok "sipp UAC through both Kamailios failed: $(grep -E 'Successful call|Failed call' uac.out | tail -2 | tr -s ' |' ' ')"
fi
# shellcheck disable=SC2016  # eval expands $uas_pid
if waitfor 10 eval '! kill -0 $uas_pid 2>/dev/null' && wait "$uas_pid"; then
    ok "the UAS completed $CALLS calls"
else
    nok "the UAS did not complete its calls: $(grep -E 'Successful call|Failed call' uas.out | tail -2 | tr -s ' |' ' ')"
fi

python3 "$SIPDIFF" trace uas.msg >uas.trace 2>&1
n_inv="$(awk -F'\t' '$1 == "INVITE"' uas.trace | wc -l)"
n_sig="$(awk -F'\t' '$1 == "INVITE" && $4 ~ /;info=</' uas.trace | wc -l)"
if [ "$n_inv" -eq "$CALLS" ] && [ "$n_sig" -eq "$CALLS" ]; then
    ok "the UAS received $n_inv INVITEs, each with an Identity"
else
    nok "the UAS received $n_inv INVITEs, $n_sig with an Identity; want $CALLS"
fi
awk -F'\t' '$1 == "INVITE" { print $4; exit }' uas.trace >identity.txt
# secsipid_check_identity("") took the certificate from info=<...>: only Kamailio has asked
# the server anything yet (and, caching it, asks once rather than once per call).
n_get="$(grep -c 'GET /sp-chain.pem' "$work/server.log")"
if [ "$n_get" -ge 1 ]; then
    ok "the verifying Kamailio fetched $X5U ($n_get request(s) for $CALLS calls)"
else
    nok "the verifying Kamailio never fetched $X5U: $(tail -3 "$work/server.log")"
fi

# --- the Identity Kamailio added, checked by stirwire and by Go's secsipidx -------------------
out="$("$STIRWIRE" check --json --ca-file "$work/pki/root.pem" --tls-ca "$work/tls/tls-ca.pem" \
    --allow-private --allow-any-port --orig 12025550100 --dest 12025550199 -i identity.txt 2>&1)"
rc=$?
verdict="$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d.get("claims") or {}
print(d.get("valid"), c.get("attest"), c.get("orig"), d.get("x5u"))' 2>/dev/null)"
if [ $rc -eq 0 ] && [ "$verdict" = "True A 12025550100 $X5U" ]; then
    ok "stirwire check (x5u fetched, chained to the test root): valid, attest A, orig 12025550100"
else
    nok "stirwire check exit $rc on Kamailio's Identity: ${out:0:500}"
fi
out="$(secsipidx -check -fidentity identity.txt -fpubkey pub.pem -expire 60 2>&1)"
rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qx ok; then
    ok "Go secsipidx -check accepts Kamailio's Identity"
else
    nok "Go secsipidx -check exit $rc on Kamailio's Identity: $out"
fi

# --- a foreign signature: the verifying Kamailio answers 403 ----------------------------------
bad="$(secsipidx -sign-full -orig-tn 12025550100 -dest-tn 12025550199 -attest A -x5u "$X5U" \
    -k other.key)"
cat >uac403.xml <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac whose INVITE carries [identity] and must be refused">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Identity: [identity]
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="403"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
EOF
if sipp -sf uac403.xml -key caller 12025550100 -key identity "$bad" -s 12025550199 \
    -i 127.0.0.1 -p "$P_UAC" "127.0.0.1:$P_VERIFY" -m 2 -r 10 -nostdin -timeout 10s \
    -timeout_error >uac403.out 2>&1; then
    ok "an Identity signed with a foreign key: secsipid_check_identity fails, 403 (2 calls)"
else
    nok "foreign-key Identity not answered 403: $(grep -E 'Successful call|Failed call' uac403.out | tail -2 | tr -s ' |' ' ') $(head -c 300 uac403.out)"
fi

# --- both Kamailios are still there (no crash in the library) ---------------------------------
if kill -0 "$kam_sign" 2>/dev/null && kill -0 "$kam_verify" 2>/dev/null; then
    ok "both Kamailio processes are alive after the calls"
else
    nok "a Kamailio process died"
fi
finish
