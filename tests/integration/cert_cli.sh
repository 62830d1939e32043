#!/usr/bin/env bash
# cert_cli.sh - "stirwire check" without --key and "stirwire cert", end to end: the tool
# fetches certificates from a local HTTPS server (https_server.py) that serves a test STI
# PKI (tools/pki/make-test-pki.sh), and each broken certificate must be refused with its
# own error name and exit code 8.
#
# The server needs a TLS certificate before it starts, and the STI certificates need the
# server's port baked into their CRL distribution point (CRL_BASE), so the script makes
# two PKIs: one only for the TLS files, then, once the server listens, the STI PKI into
# the directory the server serves. Every check prints one line; exit 0 when all pass, 1
# when any fails, 77 (automake's "skip") when python3 or openssl is not installed. The
# server is stopped and the temporary directory removed on exit, however the script ends.
#
# Environment: STIRWIRE is the built tool, SRCDIR the source tree (make check sets both;
# BUILDDIR is accepted and not needed).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without python3 openssl
need_built STIRWIRE
make_workdir certcli

# --- the PKI and the server ---------------------------------------------------------------
serve_test_pki
ok "https_server.py listens on port $port"
ok "made the STI PKI with CRL_BASE=$base"
P="$work/pki"
TLSCA="$work/tls/tls-ca.pem"
# What a lab verifier of this PKI needs: the root, the server's TLS CA, loopback, any port.
LAB=(--ca-file "$P/root.pem" --tls-ca "$TLSCA" --allow-private --allow-any-port)

ORIG=12025550100
DEST=12025550199
# sign NAME KEY URL: signs with KEY for x5u URL; the Identity is in $ident.
sign() {
    run sign --orig "$ORIG" --dest "$DEST" --attest A --key "$2" --x5u "$3"
    ident="$out"
    if [ "$rc" -ne 0 ]; then
        nok "sign for $1: exit $rc: $err"
        ident="unsigned"
    fi
}

# --- check: the good certificate ----------------------------------------------------------
sign good "$P/sp.key" "$base/sp-chain.pem"
run check "${LAB[@]}" "$ident"
expect "check via x5u with the root as trust anchor" 0 \
    "^valid: attest A, orig $ORIG, .*, spc 1234, x5u $base/sp-chain.pem$"
run check "${LAB[@]}" --json "$ident"
expect "check --json: valid" 0 '"valid":true'
expect "check --json: spc 1234" 0 '"spc":"1234"'
expect "check --json: x5u" 0 "\"x5u\":\"$base/sp-chain.pem\""
run check "${LAB[@]}" --orig "$ORIG" --dest "$DEST" --timeout 2.5 --no-crl-fetch "$ident"
expect "check with --orig/--dest, --timeout 2.5, --no-crl-fetch" 0 '^valid: .*spc 1234'
run check "${LAB[@]}" --crl "$P/inter.crl" --no-crl-fetch "$ident"
expect "check with a local --crl" 0 '^valid:'
mkdir -p "$work/cache"
run check "${LAB[@]}" --cache-dir "$work/cache" "$ident"
expect "check with --cache-dir" 0 '^valid:'
if ls "$work/cache"/*.pem >/dev/null 2>&1; then
    ok "check --cache-dir kept the fetched certificate"
else
    nok "check --cache-dir left $work/cache empty"
fi

# --- check: policy and trust --------------------------------------------------------------
run check --ca-file "$P/root.pem" --tls-ca "$TLSCA" --allow-any-port --json "$ident"
expect "check without --allow-private" 8 '"error":"CERT_PRIVATE"'
run check --tls-ca "$TLSCA" --allow-private --allow-any-port --json "$ident"
expect "check without --ca-file" 8 '"error":"CERT_UNTRUSTED"'
expect "check without --ca-file: hint" 8 'use --ca-file/--ca-dir with your STI-PA trust anchors'
run check --tls-ca "$TLSCA" --allow-private --allow-any-port "$ident"
expect "check without --ca-file (text)" 8 \
    '^invalid: certificate does not chain to a trust anchor: .*--ca-file'
run check --tls-ca "$TLSCA" --allow-private --allow-any-port --no-chain --json "$ident"
expect "check --no-chain (lab only)" 0 '"spc":"1234"'
run check --ca-file "$P/root.pem" --allow-private --allow-any-port --json "$ident"
expect "check without --tls-ca: server certificate unknown" 8 '"error":"CERT_CONNECT"'
run check --ca-file "$P/root.pem" --tls-ca "$TLSCA" --allow-private --json "$ident"
expect "check without --allow-any-port" 8 '"error":"CERT_URL"'
run check --key "$P/sp.pem" --ca-file "$P/root.pem" "$ident"
expect "check --key with --ca-file is a usage error" 1 'one or the other' stderr
run check --key "$P/sp.pem" --json "$ident"
expect "check --key still works (spc null)" 0 '"spc":null'
run check "${LAB[@]}" --timeout 0 "$ident"
expect "check --timeout 0" 1 'out of range' stderr
run check "${LAB[@]}" --timeout 1.5x "$ident"
expect "check --timeout 1.5x" 1 'not a number' stderr
run check --ca-file "$work/none.pem" --tls-ca "$TLSCA" "$ident"
expect "check --ca-file missing file" 2 'none.pem' stderr

# --- check: each broken certificate -------------------------------------------------------
# name:key:error. P-384 and RSA keys cannot sign ES256, so those tokens are signed with
# sp.key: the certificate is refused before the signature is looked at.
for spec in expired:expired:CERT_EXPIRED notyet:notyet:CERT_NOT_YET_VALID \
    notnauth:notnauth:CERT_TNAUTH p384:sp:CERT_KEY rsa:sp:CERT_KEY \
    selfsigned:selfsigned:CERT_UNTRUSTED revoked:revoked:CERT_REVOKED \
    wrongpolicy:wrongpolicy:CERT_POLICY; do
    IFS=: read -r name key want <<<"$spec"
    sign "$name" "$P/$key.key" "$base/$name-chain.pem"
    run check "${LAB[@]}" --json "$ident"
    expect "check with the $name certificate" 8 "\"error\":\"$want\""
done

# --- check: what the server answers -------------------------------------------------------
for spec in 404:CERT_HTTP_STATUS redirect:CERT_REDIRECT garbage:CERT_PARSE; do
    IFS=: read -r path want <<<"$spec"
    sign "/$path" "$P/sp.key" "$base/$path"
    run check "${LAB[@]}" --json "$ident"
    expect "check with x5u /$path" 8 "\"error\":\"$want\""
done
sign "http URL" "$P/sp.key" "http://127.0.0.1:$port/sp-chain.pem"
run check "${LAB[@]}" --json "$ident"
expect "check with an http:// x5u, no --allow-http" 8 '"error":"CERT_URL"'

# --- cert ---------------------------------------------------------------------------------
run cert "$P/sp.pem"
expect "cert sp.pem: SPC" 0 '^SPC: +1234$'
expect "cert sp.pem: verdict OK" 0 '^verdict: +OK$'
expect "cert sp.pem: SHAKEN policy" 0 '^SHAKEN policy: +yes$'
expect "cert sp.pem: not after in ISO 8601 UTC" 0 \
    '^not after: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
expect "cert sp.pem: CRL" 0 "^CRL: +$base/inter.crl$"
run cert "$P/sp-chain.pem" --json
expect "cert sp-chain.pem --json: chain length 1" 0 '"chain_length":1'
run cert --ca-file "$P/root.pem" "$P/sp.pem"
expect "cert FILE with --ca-file: chain not checked" 0 '^chain: +not checked for files'
run cert "$P/expired.pem"
expect "cert expired.pem" 8 '^verdict: +certificate has expired: '
run cert --json "$P/wrongpolicy.pem"
expect "cert wrongpolicy.pem --json" 8 '"error":"CERT_POLICY"'
run cert "$work/none.pem"
expect "cert of a missing file" 2 'none.pem' stderr
run cert "$base/sp-chain.pem" "${LAB[@]}"
expect "cert URL" 0 '^verdict: +OK$'
expect "cert URL: chain checked" 0 '^chain: +checked$'
expect "cert URL: SPC" 0 '^SPC: +1234$'
run cert "$base/revoked-chain.pem" "${LAB[@]}" --json
expect "cert URL of the revoked certificate" 8 '"error":"CERT_REVOKED"'
run cert "$base/sp-chain.pem" --tls-ca "$TLSCA" --allow-private --allow-any-port
expect "cert URL without --ca-file" 8 'use --ca-file/--ca-dir'
run cert
expect "cert without an argument" 1 'FILE or URL' stderr

finish
