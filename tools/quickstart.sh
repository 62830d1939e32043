#!/usr/bin/env bash
# tools/quickstart.sh - from a fresh Debian 12 machine to a call signed and verified in the
# wire, in one command: installs the packages, builds stirwire, makes a demo STI PKI and
# serves its certificate on 127.0.0.1 over HTTPS, starts two stirwired on 127.0.0.1 with
# demo configs - the originating carrier's, which signs the calls of its PBX, and the
# terminating carrier's, which verifies them and tells its PBX (verstat) - places one call
# through both with sipp (tools/sipp/uac.xml -> uas.xml), shows the INVITE as the callee
# got it and the audit record of the verdict, checks the same INVITE with
# "stirwire check --sip", which fetches the certificate from the header's x5u URL, and
# audits a capture of it and of an altered copy with "stirwire pcap" (the TAP), offline,
# writing an HTML report.
#
# Needs root or sudo for apt-get (only when packages are missing). Builds in build/
# (or uses the in-place build when the source tree is configured in place). Everything it
# starts is stopped and its temporary directory removed when it ends; it can be run again.
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"

if [ -t 1 ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '\n== %s\n' "$*"; }
fi
run() { # echoes a command, then runs it
    printf '$ %s\n' "$*"
    "$@"
}
run_in() { # run_in FILE CMD...: the same, with FILE on standard input
    local in="$1"
    shift
    printf '$ %s < %s\n' "$*" "$in"
    "$@" <"$in"
}

say "Installing the Debian packages stirwire needs (tools/deps.sh)"
./tools/deps.sh

say "Building stirwire"
if [ -f "$top/config.status" ]; then
    builddir="$top"
else
    builddir="$top/build"
    if [ ! -x configure ] || [ ! -f Makefile.in ] || [ configure.ac -nt configure ] ||
        [ Makefile.am -nt Makefile.in ]; then
        echo "generating configure (autoreconf -fi)"
        if ! autoreconf -fi >/dev/null 2>"$builddir.autoreconf.log"; then
            cat "$builddir.autoreconf.log" >&2
            echo "quickstart: autoreconf failed (messages above)" >&2
            exit 1
        fi
        rm -f "$builddir.autoreconf.log"
    fi
    if [ ! -f "$builddir/Makefile" ]; then
        echo "configuring in build/"
        mkdir -p "$builddir"
        (cd "$builddir" && "$top/configure" -q)
    fi
fi
# Only the daemon and the tool are needed here; "make" in build/ builds everything else.
make -C "$builddir" -s -j2 src/daemon/stirwired src/cli/stirwire >/dev/null
sw="$builddir/src/cli/stirwire"
swd="$builddir/src/daemon/stirwired"
echo "built $swd and $sw"


work="$(mktemp -d "${TMPDIR:-/tmp}/stirwire-quickstart.XXXXXX")"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$work"
stirwire() { "$sw" "$@"; }
# waitfor SECONDS CMD...: polls CMD every 50 ms until it succeeds
waitfor() {
    local n=$(($1 * 20))
    shift
    until "$@"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.05
    done
}
fail() {
    echo "quickstart: $*" >&2
    exit 1
}
# Five free ports (UDP and TCP): the certificate server, the two stirwired, the caller,
# the callee.
read -r web_port sw_port vfy_port uac_port uas_port < <(python3 - <<'PY'
import socket
held, out = [], []
while len(out) < 5:
    t = socket.socket(); t.bind(("0.0.0.0", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("0.0.0.0", p))
    except OSError:
        t.close(); continue
    held += [t, u]; out.append(p)
print(*out)
PY
)

say "1. Make a demo STI PKI: a root CA, an intermediate, and the service provider's certificate"
echo "(tools/pki/make-test-pki.sh; the signing key is pki/sp.key, its certificate chain pki/sp-chain.pem)"
CRL_BASE="https://127.0.0.1:$web_port" "$top/tools/pki/make-test-pki.sh" pki >pki.log 2>&1 ||
    { tail -5 pki.log >&2; fail "make-test-pki.sh failed"; }
ls pki/root.pem pki/sp.key pki/sp-chain.pem

say "2. Serve the certificate over HTTPS on 127.0.0.1:$web_port, as the x5u URL says"
x5u="https://127.0.0.1:$web_port/sp-chain.pem"
python3 "$top/tests/integration/https_server.py" --dir pki --cert pki/tls-server.pem \
    --key pki/tls-server.key --port "$web_port" >web.out 2>web.err &
pids+=($!)
waitfor 5 grep -q '^PORT' web.out || fail "the HTTPS server did not start: $(cat web.err)"
echo "x5u = $x5u"

say "3. Start the originating carrier's stirwired on 127.0.0.1:$sw_port: it signs the calls of its PBX (127.0.0.2)"
cat >stirwired.conf <<CONF
listen = ( { address = "127.0.0.1"; port = $sw_port; transport = [ "udp", "tcp" ]; } );
workers = 1;
log = { level = "debug"; };   # one line per message: for the demo, not for production
# how the x5u is fetched once at start to check that it serves sign.cert (the demo's is
# on 127.0.0.1, on a port that is not 443, behind the demo CA)
verifier = {
    tls_ca_file = "$work/pki/tls-ca.pem";
    allow_networks = [ "127.0.0.0/8" ];
    allow_any_port = true;
};
trunks = (
    {   # calls from our PBX: sign them, A for our own numbers, B for the rest
        name = "pbx";
        match = { source = [ "127.0.0.2/32" ]; };
        next_hop = "sip:127.0.0.1:$vfy_port";
        record_route = true;
        filters = [ "sign" ];
        sign = {
            key = "$work/pki/sp.key";
            cert = "$work/pki/sp.pem";
            x5u = "$x5u";
            attest = ( { numbers = [ "1202555*" ]; level = "A"; }, { level = "B"; } );
        };
    },
    {   # what comes back from the terminating carrier goes to the PBX
        name = "carrier";
        match = { source = [ "127.0.0.1/32" ]; };
        next_hop = "sip:127.0.0.2:$uac_port";
        filters = [ "strip" ];
    }
);
CONF
sed 's/^/    /' stirwired.conf
run "$swd" -t -c stirwired.conf
printf '$ %s\n' "stirwired -f -c stirwired.conf -p stirwired.pid 2>stirwired.log &"
"$swd" -f -c stirwired.conf -p stirwired.pid 2>stirwired.log &
pids+=($!)
waitfor 5 grep -q started stirwired.log || fail "stirwired did not start: $(cat stirwired.log)"
tail -1 stirwired.log

say "4. Start the terminating carrier's stirwired on 127.0.0.1:$vfy_port: it verifies incoming calls for its PBX (127.0.0.3)"
cat >verifier.conf <<CONF
listen = ( { address = "127.0.0.1"; port = $vfy_port; transport = [ "udp", "tcp" ]; } );
workers = 1;
log = { level = "debug"; };
# one verifier for all trunks: the STI-PA root to trust, and how certificates are fetched
verifier = {
    ca_file = "$work/pki/root.pem";         # the demo root (in production: the STI-PA list)
    tls_ca_file = "$work/pki/tls-ca.pem";   # the demo HTTPS server's CA
    allow_networks = [ "127.0.0.0/8" ];     # the demo x5u is on 127.0.0.1 ...
    allow_any_port = true;                  # ... on a port that is not 443
};
trunks = (
    {   # calls from the originating carrier: verify, tell the PBX, keep a record
        name = "originating";
        match = { source = [ "127.0.0.1/32" ]; };
        next_hop = "sip:127.0.0.3:$uas_port";
        record_route = true;
        filters = [ "verify", "verstat", "audit" ];
        verify = { policy = "reject"; };   # bad signatures get 438/437/436/403 + Reason
        audit = { output = "$work/audit.jsonl"; };
    },
    {   # requests from our PBX toward the carrier (none in this demo)
        name = "pbx";
        match = { source = [ "127.0.0.3/32" ]; };
        next_hop = "sip:127.0.0.1:$sw_port";
    }
);
CONF
sed 's/^/    /' verifier.conf
run "$swd" -t -c verifier.conf
printf '$ %s\n' "stirwired -f -c verifier.conf -p verifier.pid 2>verifier.log &"
"$swd" -f -c verifier.conf -p verifier.pid 2>verifier.log &
pids+=($!)
waitfor 5 grep -q started verifier.log || fail "the verifying stirwired did not start: $(cat verifier.log)"
tail -1 verifier.log

say "5. Place a call from 12025550100 to 12025550199: PBX -> stirwired (sign) -> stirwired (verify) -> PBX"
sipp -sf "$top/tools/sipp/uas.xml" -i 127.0.0.3 -p "$uas_port" -m 1 -nostdin -timeout 15s \
    -trace_msg -message_file uas.msg >uas.out 2>&1 &
uas_pid=$!
pids+=("$uas_pid")
sleep 0.3
printf '$ %s\n' "sipp -sf tools/sipp/uac.xml -key caller 12025550100 -s 12025550199 -i 127.0.0.2 -p $uac_port 127.0.0.1:$sw_port -m 1"
if sipp -sf "$top/tools/sipp/uac.xml" -key caller 12025550100 -s 12025550199 -i 127.0.0.2 \
    -p "$uac_port" "127.0.0.1:$sw_port" -m 1 -nostdin -timeout 15s -timeout_error \
    >uac.out 2>&1; then
    echo "call completed: INVITE, 180, 200, ACK, BYE, 200"
else
    grep -E 'Successful call|Failed call' uac.out >&2 || true
    fail "the call failed (see above)"
fi
wait "$uas_pid" 2>/dev/null || true
echo "What the signing stirwired did with each message (its log):"
grep -E 'forwarded|replied' stirwired.log | sed 's/^[^ ]* stirwired debug: /    /' || true
echo "What the verifying stirwired did (its log):"
grep -E 'forwarded|replied' verifier.log | sed 's/^[^ ]* stirwired debug: /    /' || true

say "6. The INVITE as the callee's PBX got it: Identity added by the signer, verstat=TN-Validation-Passed by the verifier"
awk '/message received/ { on = 1; getline; next } on && /^----------/ { exit } on' uas.msg |
    tee invite.txt
grep -q 'verstat=TN-Validation-Passed' invite.txt || fail "the INVITE has no verstat=TN-Validation-Passed"
echo "The audit record of that call (one JSON line per INVITE, rejected ones too):"
cat audit.jsonl
grep -q '"verstat":"TN-Validation-Passed"' audit.jsonl || fail "no audit record says TN-Validation-Passed"

say "7. Check that INVITE from the command line, as a support engineer would from a log"
run stirwire check --sip invite.txt --ca-file pki/root.pem --tls-ca pki/tls-ca.pem \
    --allow-private --allow-any-port
echo "exit status 0: valid (--allow-private and --allow-any-port only because the demo x5u is on 127.0.0.1)"

say "8. The same without a network: stirwire sign | stirwire check, with the key pair alone"
printf '$ %s\n' "stirwire sign --orig 13035550100 --dest 12025550199 --attest B --x5u $x5u --key pki/sp.key | stirwire check --key pki/sp.pem -"
stirwire sign --orig 13035550100 --dest 12025550199 --attest B --x5u "$x5u" --key pki/sp.key |
    stirwire check --key pki/sp.pem -

say "9. Audit a capture: the TAP (stirwire pcap) judges every INVITE as it was on the wire"
# The callee's INVITE, and a copy whose signature was altered on the way, in a capture
# (tools/tap/mkcaptures.py writes pcaps from INVITE files; a real one would come from
# tcpdump, a SPAN port or a customer)
mkdir -p tapin
cp invite.txt tapin/valid-01.sip
python3 - invite.txt tapin/invalid-SIGNATURE-01.sip <<'PY'
import sys, re
msg = open(sys.argv[1]).read().replace("Call-ID: ", "Call-ID: altered-", 1)
# flip one character in the middle of the Identity's signature (its third part)
m = re.search(r"^Identity: *[^.]+\.[^.]+\.([A-Za-z0-9_-]+)", msg, re.M)
i = m.start(1) + len(m.group(1)) // 2
msg = msg[:i] + ("A" if msg[i] != "A" else "B") + msg[i + 1:]
open(sys.argv[2], "w").write(msg)
PY
python3 "$top/tools/tap/mkcaptures.py" tapin capture >/dev/null
# offline: the certificate behind the x5u, mapped by its URL (no fetch)
mkdir -p capture-certs
printf '%s %s\n' "$x5u" "$work/pki/sp-chain.pem" >capture-certs/index
printf '$ %s\n' "stirwire pcap --no-fetch --certs capture-certs --ca-file pki/root.pem --html report.html capture/eth.pcap"
set +e
stirwire pcap --no-progress --no-fetch --certs capture-certs --ca-file pki/root.pem --html report.html \
    capture/eth.pcap
prc=$?
set -e
[ "$prc" -eq 7 ] || fail "stirwire pcap: exit $prc, expected 7 (a signature failed)"
report="${TMPDIR:-/tmp}/stirwire-quickstart-report.html"
cp report.html "$report"
echo "exit status 7: a call's signature does not verify (the table says which). The HTML report,"
echo "self-contained, to send a customer: $report (open it in a browser)"

say "Done"
echo "stirwired's configuration is explained in etc/stirwire.conf and stirwired(8); sipp scenarios are in tools/sipp/."
echo "Next: ./tools/test-all.sh runs every test; README.md explains the commands and exit codes."
