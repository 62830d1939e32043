#!/usr/bin/env bash
# tools/quickstart.sh - from a fresh Debian 12 machine to a signed and verified SIP
# Identity header in one command: installs the packages, builds stirwire, then walks
# through keygen, sign, decode, check, and a forged header being caught.
#
# Needs root or sudo for apt-get (only when packages are missing). Builds in build/
# (or uses the in-place build when the source tree is configured in place).
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
# Only the tool is needed here; "make" in build/ builds everything else.
make -C "$builddir" -s -j2 src/cli/stirwire >/dev/null
sw="$builddir/src/cli/stirwire"
echo "built $sw"

work="$(mktemp -d "${TMPDIR:-/tmp}/stirwire-quickstart.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
stirwire() { "$sw" "$@"; }

say "1. Make a P-256 key pair: the signer keeps key.pem, verifiers get pub.pem"
run stirwire keygen --out key.pem --pub pub.pem
ls -l key.pem pub.pem

say "2. Sign a call from 12025550100 to 12025550199 with full attestation (A)"
echo "The output is the value of the SIP Identity header the originating carrier adds:"
printf '$ %s\n' "stirwire sign --orig 12025550100 --dest 12025550199 --attest A --x5u https://cert.example.org/demo.pem --key key.pem"
identity="$(stirwire sign --orig 12025550100 --dest 12025550199 --attest A \
    --x5u https://cert.example.org/demo.pem --key key.pem)"
printf '%s\n' "$identity" | tee identity.txt

say "3. Decode it: the PASSporT's JWT header, its claims and the header parameters"
run_in identity.txt stirwire decode -

say "4. Check it as the terminating side would, with the signer's public key"
echo "(x5u is not fetched here: --key stands in for the certificate it points at)"
run_in identity.txt stirwire check --key pub.pem --orig 12025550100 --dest 12025550199 -
echo "exit status 0: valid"
echo "The same verdict as JSON, for scripts:"
run_in identity.txt stirwire check --key pub.pem --json -

say "5. Forge it: change the calling number in the payload but keep the signature"
jwt="${identity%%;*}"
params="${identity#"$jwt"}"
b64="$(printf '%s' "$jwt" | cut -d. -f2 | tr '_-' '/+')"
while [ $((${#b64} % 4)) -ne 0 ]; do b64="$b64="; done
payload="$(printf '%s' "$b64" | base64 -d)"
echo "signed claims: $payload"
forged_payload="${payload//12025550100/12025550666}"
echo "forged claims: $forged_payload"
forged="$(printf '%s' "$jwt" | cut -d. -f1).$(printf '%s' "$forged_payload" | base64 -w0 | tr '/+' '_-' | tr -d '=').$(printf '%s' "$jwt" | cut -d. -f3)$params"
printf '%s\n' "$forged" >forged.txt
rc=0
run_in forged.txt stirwire check --key pub.pem - || rc=$?
if [ $rc -eq 7 ]; then
    echo "exit status 7: the signature does not verify, so the forgery is caught"
else
    echo "unexpected exit status $rc (7 was expected)" >&2
    exit 1
fi

say "Done"
echo "Next: ./tools/test-all.sh runs every test; README.md explains the commands and exit codes."
