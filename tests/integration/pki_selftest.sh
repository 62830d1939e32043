#!/usr/bin/env bash
# pki_selftest.sh - the test fixtures test themselves: tools/pki/make-test-pki.sh must make
# the certificates the other tests believe it makes (the exact TNAuthList bytes, the
# SHAKEN policy, the CRL distribution point, and one real defect per bad certificate),
# and tests/integration/https_server.py must answer each special path as documented.
#
# A fixture that silently lost its defect would turn a negative test into a test of
# nothing, so every defect is checked with openssl directly, not with stirwire.
#
# Every check prints one line; exit 0 when all pass, 1 when any fails, 77 (automake's
# "skip") when openssl, python3 or curl is missing. It works in a temporary directory
# that it removes, and stops the server it starts.
#
# Environment: SRCDIR the source tree (default: two levels up from this script).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without openssl python3 curl
make_workdir pki

# check WHAT COMMAND...: ok when COMMAND succeeds.
check() {
    local what="$1"
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else nok "$what"; fi
}
# check_not WHAT COMMAND...: ok when COMMAND fails.
check_not() {
    local what="$1"
    shift
    if "$@" >/dev/null 2>&1; then nok "$what"; else ok "$what"; fi
}
# has WHAT TEXT PATTERN: ok when TEXT matches the extended regex PATTERN.
has() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        ok "$1"
    else
        nok "$1: /$3/ not in: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)"
    fi
}
lacks() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        nok "$1: /$3/ found in: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)"
    else
        ok "$1"
    fi
}
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
text() { openssl x509 -in "$1" -noout -text 2>&1; }
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>&1; }
# cert_hex FILE: the certificate's DER as one hex string.
cert_hex() { openssl x509 -in "$1" -outform DER -out "$work/cert.der" 2>/dev/null && hex "$work/cert.der"; }
vfy() { openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/inter.pem" "$@" 2>&1; }

# The TNAuthList extension inside the certificate DER: the OID, the OCTET STRING, the value.
TNAUTH_OID_HEX=06082b0601050507011a
SHAKEN_POLICY=2.16.840.1.114569.1.1.3

# --- build ---------------------------------------------------------------------------
pki="$work/pki"
if "$MKPKI" "$pki" >mkpki.out 2>&1; then
    ok "make-test-pki.sh $pki: exit 0"
else
    nok "make-test-pki.sh failed: $(tail -5 mkpki.out)"
    finish
fi
sed 's/^/#   /' mkpki.out
first_serial="$(openssl x509 -in "$pki/sp.pem" -noout -serial)"
if "$MKPKI" "$pki" >mkpki2.out 2>&1 &&
    [ "$(openssl x509 -in "$pki/sp.pem" -noout -serial)" != "$first_serial" ]; then
    ok "make-test-pki.sh run again into the same directory: exit 0, a new sp.pem"
else
    nok "make-test-pki.sh is not idempotent: $(tail -3 mkpki2.out)"
fi
mkdir "$work/foreign" && touch "$work/foreign/keep.txt"
check_not "make-test-pki.sh refuses a non-empty directory it did not make" "$MKPKI" "$work/foreign"
check "... and leaves that directory's files alone" test -e "$work/foreign/keep.txt"

for f in root.pem root.key inter.pem inter.key sp.pem sp.key sp-chain.pem inter.crl \
    inter.crl.der root.crl tls-ca.pem tls-server.pem tls-server.key tnauth-spc.der; do
    [ -s "$pki/$f" ] || nok "missing $f"
done
ok "the core files exist"

# --- the good SP certificate -------------------------------------------------------
sp="$pki/sp.pem"
has "sp.pem subject is C=US, O=stirwire test, CN=SHAKEN 1234" \
    "$(openssl x509 -in "$sp" -noout -subject -nameopt RFC2253)" '^subject=CN=SHAKEN 1234,O=stirwire test,C=US$'
has "sp.pem issuer is the intermediate" \
    "$(openssl x509 -in "$sp" -noout -issuer -nameopt RFC2253)" 'CN=stirwire Test STI Intermediate,'
has "sp.pem TNAuthList DER is 30 08 a0 06 16 04 '1234' (inside OCTET STRING len 10)" \
    "$(cert_hex "$sp")" "${TNAUTH_OID_HEX}040a3008a006160431323334"
has "tnauth-spc.der is exactly 3008a006160431323334" "$(hex "$pki/tnauth-spc.der")" '^3008a006160431323334$'
has "tnauth-spc.der parses as SEQUENCE { [0] { IA5STRING 1234 } }" \
    "$(openssl asn1parse -inform DER -in "$pki/tnauth-spc.der")" 'IA5STRING +:1234'
lacks "TNAuthList is not critical (no BOOLEAN between OID and value)" "$(cert_hex "$sp")" "${TNAUTH_OID_HEX}0101ff"
has "sp.pem certificatePolicies is the SHAKEN OID" "$(ext "$sp" certificatePolicies)" "Policy: ${SHAKEN_POLICY//./\\.}$"
has "sp.pem CRL DP is https://127.0.0.1:8443/inter.crl" \
    "$(ext "$sp" crlDistributionPoints)" 'URI:https://127\.0\.0\.1:8443/inter\.crl$'
has "sp.pem keyUsage is critical digitalSignature only" \
    "$(ext "$sp" keyUsage | tr '\n' '|')" '^X509v3 Key Usage: critical\| *Digital Signature\|$'
has "sp.pem basicConstraints CA:FALSE" "$(ext "$sp" basicConstraints)" 'CA:FALSE'
has "sp.pem has subjectKeyIdentifier" "$(ext "$sp" subjectKeyIdentifier)" '[0-9A-F]{2}:'
has "sp.pem authorityKeyIdentifier = inter.pem subjectKeyIdentifier" \
    "$(ext "$sp" authorityKeyIdentifier | tail -1 | tr -d ' ')" \
    "^$(ext "$pki/inter.pem" subjectKeyIdentifier | tail -1 | tr -d ' ')$"
has "sp.pem key is P-256" "$(text "$sp")" 'ASN1 OID: prime256v1'
has "sp.pem signature is ecdsa-with-SHA256" "$(text "$sp")" 'Signature Algorithm: ecdsa-with-SHA256'
check "sp.pem valid for 360 more days" openssl x509 -in "$sp" -noout -checkend $((360 * 86400))
check_not "sp.pem not valid for 367 more days (1 year)" openssl x509 -in "$sp" -noout -checkend $((367 * 86400))
has "openssl verify -CAfile root.pem -untrusted inter.pem sp.pem: OK" "$(vfy "$sp")" ': OK$'
has "sp.pem passes -crl_check and -policy SHAKEN -explicit_policy" \
    "$(vfy -crl_check -CRLfile "$pki/inter.crl" -policy "$SHAKEN_POLICY" -explicit_policy "$sp")" ': OK$'
check "sp.key matches sp.pem" test "$(openssl pkey -in "$pki/sp.key" -pubout 2>/dev/null)" = \
    "$(openssl x509 -in "$sp" -noout -pubkey 2>/dev/null)"
has "sp-chain.pem holds two certificates" "$(grep -c 'BEGIN CERTIFICATE' "$pki/sp-chain.pem")" '^2$'
check "sp-chain.pem is sp.pem then inter.pem" cmp -s "$pki/sp-chain.pem" <(cat "$sp" "$pki/inter.pem")

# --- the CAs -----------------------------------------------------------------------
root="$pki/root.pem" inter="$pki/inter.pem"
has "root.pem CN is stirwire Test STI Root, self-issued" \
    "$(openssl x509 -in "$root" -noout -subject -issuer -nameopt RFC2253 | sed 's/^[a-z]*=//' | sort -u)" \
    '^CN=stirwire Test STI Root,O=stirwire test,C=US$'
has "root.pem basicConstraints critical CA:TRUE" "$(ext "$root" basicConstraints | tr '\n' '|')" 'critical\| *CA:TRUE\|$'
has "root.pem keyUsage keyCertSign, cRLSign" "$(ext "$root" keyUsage)" 'Certificate Sign, CRL Sign'
check "root.pem valid for 9 more years" openssl x509 -in "$root" -noout -checkend $((9 * 366 * 86400))
check_not "root.pem not valid for 11 more years" openssl x509 -in "$root" -noout -checkend $((11 * 366 * 86400))
has "inter.pem CN is stirwire Test STI Intermediate" \
    "$(openssl x509 -in "$inter" -noout -subject -nameopt RFC2253)" 'CN=stirwire Test STI Intermediate,'
has "inter.pem basicConstraints critical CA:TRUE, pathlen:0" \
    "$(ext "$inter" basicConstraints | tr '\n' '|')" 'critical\| *CA:TRUE, pathlen:0\|$'
has "inter.pem carries the SHAKEN policy" "$(ext "$inter" certificatePolicies)" "Policy: ${SHAKEN_POLICY//./\\.}$"
has "inter.pem verifies against root.pem" "$(openssl verify -CAfile "$root" "$inter" 2>&1)" ': OK$'

# --- the bad ones --------------------------------------------------------------------
for name in expired notyet notnauth p384 selfsigned revoked wrongpolicy rsa; do
    c="$pki/$name.pem"
    if [ -s "$c" ] && [ -s "$pki/$name.key" ] &&
        [ "$(grep -c 'BEGIN CERTIFICATE' "$pki/$name-chain.pem" 2>/dev/null)" = 2 ] &&
        cmp -s "$pki/$name-chain.pem" <(cat "$c" "$inter") &&
        [ "$(openssl pkey -in "$pki/$name.key" -pubout 2>/dev/null)" = \
          "$(openssl x509 -in "$c" -noout -pubkey 2>/dev/null)" ]; then
        ok "$name: .pem, .key (matching) and -chain.pem (leaf + inter)"
    else
        nok "$name: .pem/.key/-chain.pem missing, or the key does not match"
    fi
done

c="$pki/expired.pem"
check_not "expired: openssl x509 -checkend 0 fails" openssl x509 -in "$c" -noout -checkend 0
has "expired: notAfter is 2021-01-01" "$(openssl x509 -in "$c" -noout -enddate)" 'Jan  1 00:00:00 2021 GMT'
has "expired: verify says expired (error 10)" "$(vfy "$c")" 'error 10 .*certificate has expired'
has "expired: still has TNAuthList (only the date is wrong)" "$(cert_hex "$c")" "${TNAUTH_OID_HEX}040a3008a006160431323334"

c="$pki/notyet.pem"
nb="$(date -u -d "$(openssl x509 -in "$c" -noout -startdate | cut -d= -f2)" +%s 2>/dev/null || echo 0)"
check "notyet: notBefore is more than 4 years ahead" test "$nb" -gt $(($(date +%s) + 4 * 365 * 86400))
has "notyet: verify says not yet valid (error 9)" "$(vfy "$c")" 'error 9 .*not yet valid'

c="$pki/notnauth.pem"
lacks "notnauth: no 1.3.6.1.5.5.7.1.26 in the text" "$(text "$c")" '1\.3\.6\.1\.5\.5\.7\.1\.26|TNAuth'
lacks "notnauth: no TNAuthList OID in the DER" "$(cert_hex "$c")" "$TNAUTH_OID_HEX"
has "notnauth: otherwise verifies" "$(vfy "$c")" ': OK$'

c="$pki/p384.pem"
has "p384: key is secp384r1" "$(text "$c")" 'ASN1 OID: secp384r1'
has "p384: otherwise verifies" "$(vfy "$c")" ': OK$'

c="$pki/selfsigned.pem"
check "selfsigned: issuer = subject" test "$(openssl x509 -in "$c" -noout -issuer | cut -d= -f2-)" = \
    "$(openssl x509 -in "$c" -noout -subject | cut -d= -f2-)"
has "selfsigned: has TNAuthList" "$(cert_hex "$c")" "${TNAUTH_OID_HEX}040a3008a006160431323334"
has "selfsigned: verify fails (error 18, self-signed)" "$(vfy "$c")" 'error 18 '
has "selfsigned: signature verifies with its own key" "$(openssl verify -CAfile "$c" -partial_chain "$c" 2>&1)" ': OK$'

c="$pki/revoked.pem"
serial="$(openssl x509 -in "$c" -noout -serial | cut -d= -f2)"
has "revoked: serial $serial is in inter.crl" "$(openssl crl -in "$pki/inter.crl" -noout -text)" "Serial Number: $serial"
has "revoked: verify without -crl_check passes" "$(vfy "$c")" ': OK$'
has "revoked: verify -crl_check fails (error 23, revoked)" \
    "$(vfy -crl_check -CRLfile "$pki/inter.crl" "$c")" 'error 23 .*certificate revoked'

c="$pki/wrongpolicy.pem"
has "wrongpolicy: policy 1.2.3.4" "$(ext "$c" certificatePolicies)" 'Policy: 1\.2\.3\.4$'
lacks "wrongpolicy: no SHAKEN policy" "$(ext "$c" certificatePolicies)" "${SHAKEN_POLICY//./\\.}"
has "wrongpolicy: verify -policy SHAKEN -explicit_policy fails" \
    "$(vfy -policy "$SHAKEN_POLICY" -explicit_policy "$c")" 'error 43 '

c="$pki/rsa.pem"
has "rsa: key is RSA 2048" "$(text "$c" | tr '\n' '|')" 'rsaEncryption\| *Public-Key: \(2048 bit\)'
has "rsa: otherwise verifies" "$(vfy "$c")" ': OK$'

# --- CRLs --------------------------------------------------------------------------
crltext="$(openssl crl -in "$pki/inter.crl" -noout -text 2>&1)"
has "inter.crl issued by the intermediate" "$crltext" 'Issuer: .*CN = stirwire Test STI Intermediate'
has "inter.crl lists exactly one certificate" "$(printf '%s\n' "$crltext" | grep -c 'Serial Number:')" '^1$'
lu="$(date -u -d "$(openssl crl -in "$pki/inter.crl" -noout -lastupdate | cut -d= -f2)" +%s)"
nu="$(date -u -d "$(openssl crl -in "$pki/inter.crl" -noout -nextupdate | cut -d= -f2)" +%s)"
has "inter.crl nextUpdate is lastUpdate + 30 days" "$(((nu - lu) / 86400))" '^30$'
check "inter.crl signature verifies with inter.pem" openssl crl -in "$pki/inter.crl" -noout -CAfile "$inter"
check "inter.crl.der is the same CRL in DER" cmp -s "$pki/inter.crl.der" \
    <(openssl crl -in "$pki/inter.crl" -outform DER 2>/dev/null)
has "root.crl is from the root and empty" "$(openssl crl -in "$pki/root.crl" -noout -text 2>&1 | tr '\n' '|')" \
    'CN = stirwire Test STI Root.*No Revoked Certificates'

# --- TLS -----------------------------------------------------------------------------
tls=(openssl verify -CAfile "$pki/tls-ca.pem" -purpose sslserver)
has "tls-server.pem verifies for localhost" "$("${tls[@]}" -verify_hostname localhost "$pki/tls-server.pem" 2>&1)" ': OK$'
has "tls-server.pem verifies for 127.0.0.1" "$("${tls[@]}" -verify_ip 127.0.0.1 "$pki/tls-server.pem" 2>&1)" ': OK$'
has "tls-server.pem verifies for ::1" "$("${tls[@]}" -verify_ip ::1 "$pki/tls-server.pem" 2>&1)" ': OK$'
lacks "tls-server.pem is not trusted by the STI root" \
    "$(openssl verify -CAfile "$root" "$pki/tls-server.pem" 2>&1)" ': OK$'

# --- another SPC, another CRL base --------------------------------------------------
if CRL_BASE=http://crl.example.test:8080/ "$MKPKI" "$work/pki12" 12 >mkpki12.out 2>&1; then
    ok "make-test-pki.sh DIR 12 with CRL_BASE set: exit 0"
    has "SPC 12: TNAuthList DER is 30 06 a0 04 16 02 31 32" "$(hex "$work/pki12/tnauth-spc.der")" '^3006a00416023132$'
    has "SPC 12: the same bytes inside sp.pem" "$(cert_hex "$work/pki12/sp.pem")" "${TNAUTH_OID_HEX}04083006a00416023132"
    has "SPC 12: CN SHAKEN 12" "$(openssl x509 -in "$work/pki12/sp.pem" -noout -subject -nameopt RFC2253)" '^subject=CN=SHAKEN 12,'
    has "CRL_BASE: CRL DP is http://crl.example.test:8080/inter.crl" \
        "$(ext "$work/pki12/sp.pem" crlDistributionPoints)" 'URI:http://crl\.example\.test:8080/inter\.crl$'
else
    nok "make-test-pki.sh DIR 12 failed: $(tail -3 mkpki12.out)"
fi

# --- the HTTPS server -------------------------------------------------------------
if ! start_https_server "$pki" "$pki"; then
    nok "https_server.py did not print PORT: $(cat server.err)"
    finish
fi
ok "https_server.py --port 0 printed PORT $port"
# get PATH [curl options]: sets code, size and body (the body is saved in body.out).
get() {
    local path="$1" w
    shift
    w="$(curl -sS --noproxy '*' --max-time 10 --cacert "$pki/tls-ca.pem" -o body.out \
        -w '%{http_code} %{size_download}' "$@" "$base$path" 2>curl.err)" || w="000 0"
    code="${w% *}"
    size="${w#* }"
    body="$(tr -d '\0' <body.out 2>/dev/null)"
}

get /reset
get /sp-chain.pem
has "GET /sp-chain.pem: 200" "$code" '^200$'
has "GET /sp-chain.pem: two certificates" "$(printf '%s\n' "$body" | grep -c 'BEGIN CERTIFICATE')" '^2$'
check "GET /sp-chain.pem: the file's bytes" cmp -s body.out "$pki/sp-chain.pem"
get /count
has "GET /count after /reset and one fetch: {\"/sp-chain.pem\": 1}" "$body" '^\{"/sp-chain.pem": 1\}$'
get /404
has "GET /404: 404" "$code" '^404$'
get /500
has "GET /500: 500" "$code" '^500$'
get /redirect
has "GET /redirect: 302" "$code" '^302$'
get /redirect -L
has "GET /redirect, followed: 200 and sp-chain.pem" "$code $(cmp -s body.out "$pki/sp-chain.pem" && echo same)" '^200 same$'
get '/big?bytes=100'
has "GET /big?bytes=100: 100 bytes of A" "$code $size $body" "^200 100 A{100}$"
get '/slow?ms=300'
has "GET /slow?ms=300: 200 with sp-chain.pem" "$code $(cmp -s body.out "$pki/sp-chain.pem" && echo same)" '^200 same$'
get /garbage
has "GET /garbage: 200, not PEM" "$code $(grep -c 'BEGIN CERTIFICATE' body.out)" '^200 0$'
get '/cachecontrol?max_age=60&file=sp-chain.pem' -D headers.out
has "GET /cachecontrol?max_age=60: Cache-Control: max-age=60" "$code $(tr -d '\r' <headers.out | tr '\n' ' ')" '^200 .*Cache-Control: max-age=60'
get '/expires?secs=60&file=inter.crl' -D headers.out
has "GET /expires?secs=60: an Expires header" "$code $(tr -d '\r' <headers.out | tr '\n' ' ')" '^200 .*Expires: [A-Z][a-z]{2}, [0-9]{2} '
get /nonexistent.pem
has "GET /nonexistent.pem: 404" "$code" '^404$'
get '/%2e%2e/%2e%2e/etc/passwd' --path-as-is
has "GET /../../etc/passwd: 404" "$code" '^404$'
if curl -sS --noproxy '*' --max-time 5 -o /dev/null "$base/sp.pem" 2>/dev/null; then
    nok "curl without --cacert trusted the server"
else
    ok "curl without --cacert rejects the test TLS certificate"
fi
get /count
has "GET /count: /big 1, /redirect 2, /sp-chain.pem 2 (one via the redirect)" "$body" \
    '"/big": 1,.*"/redirect": 2, .*"/sp-chain.pem": 2\}$'
get /reset
get /count
has "GET /reset then /count: {}" "$code $body" '^200 \{\}$'
has "the log names each request path" "$(cat "$work/server.log")" '"GET /big\?bytes=100 HTTP/1.1" 200'

stop_https_server
rc=$?
has "https_server.py exits 0 on SIGTERM" "$rc" '^0$'

finish
