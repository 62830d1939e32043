#!/usr/bin/env bash
# tools/quickstart.sh - from a fresh Debian 12 machine to a call signed in the wire, in one
# command: installs the packages, builds stirwire, makes a demo STI PKI and serves its
# certificate on 127.0.0.1 over HTTPS, starts stirwired on 127.0.0.1 with a demo config
# (one trunk that signs), places one call through it with sipp (tools/sipp/uac.xml ->
# uas.xml), shows the signed INVITE as it arrived at the far side, and checks its Identity
# with "stirwire check", which fetches the certificate from the header's x5u URL.
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
# Four free ports (UDP and TCP): the certificate server, stirwired, the caller, the callee.
read -r web_port sw_port uac_port uas_port < <(python3 - <<'PY'
import socket
held, out = [], []
while len(out) < 4:
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

say "3. Start stirwired on 127.0.0.1:$sw_port; it signs calls from the PBX (127.0.0.2) to the carrier (127.0.0.3)"
cat >stirwired.conf <<CONF
listen = ( { address = "127.0.0.1"; port = $sw_port; transport = [ "udp", "tcp" ]; } );
workers = 1;
log = { level = "debug"; };   # one line per message: for the demo, not for production
trunks = (
    {   # calls from our PBX: sign them, A for our own numbers, B for the rest
        name = "pbx";
        match = { source = [ "127.0.0.2/32" ]; };
        next_hop = "sip:127.0.0.3:$uas_port";
        record_route = true;
        filters = [ "sign" ];
        sign = {
            key = "$work/pki/sp.key";
            x5u = "$x5u";
            attest = ( { numbers = [ "1202555" ]; level = "A"; }, { level = "B"; } );
        };
    },
    {   # calls and responses from the carrier go back to the PBX
        name = "carrier";
        match = { source = [ "127.0.0.3/32" ]; };
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

say "4. Place a call from 12025550100 to 12025550199: sipp PBX -> stirwired -> sipp carrier"
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
echo "What stirwired did with each message (its log):"
grep -E 'forwarded|replied' stirwired.log | sed 's/^[^ ]* stirwired debug: /    /' || true

say "5. The INVITE as it arrived at the carrier: our Via and Record-Route on top, and Date and Identity added"
awk '/message received/ { on = 1; getline; next } on && /^----------/ { exit } on' uas.msg |
    tee invite.txt
sed -n 's/^Identity: //p' invite.txt | tr -d '\r' >identity.txt
[ -s identity.txt ] || fail "the INVITE has no Identity"

say "6. Check that Identity as a terminating carrier would: fetch the certificate from x5u, chain it to the demo root"
run_in identity.txt stirwire check --ca-file pki/root.pem --tls-ca pki/tls-ca.pem \
    --allow-private --allow-any-port --orig 12025550100 --dest 12025550199 -
echo "exit status 0: valid (--allow-private and --allow-any-port only because the demo x5u is on 127.0.0.1)"

say "7. The same without a network: stirwire sign | stirwire check, with the key pair alone"
printf '$ %s\n' "stirwire sign --orig 13035550100 --dest 12025550199 --attest B --x5u $x5u --key pki/sp.key | stirwire check --key pki/sp.pem -"
stirwire sign --orig 13035550100 --dest 12025550199 --attest B --x5u "$x5u" --key pki/sp.key |
    stirwire check --key pki/sp.pem -

say "Done"
echo "stirwired's configuration is explained in etc/stirwire.conf and stirwired(8); sipp scenarios are in tools/sipp/."
echo "Next: ./tools/test-all.sh runs every test; README.md explains the commands and exit codes."
