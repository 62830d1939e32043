#!/usr/bin/env bash
# make-test-pki.sh - build the test STI PKI (ATIS-1000080, RFC 8226) that the tests use:
# a root, an intermediate, a good SHAKEN SP certificate with TNAuthList, one broken
# certificate per defect the verifier must catch, CRLs, and a TLS certificate for the
# local HTTPS test server (tests/integration/https_server.py).
#
# Usage: make-test-pki.sh OUTDIR [SPC]        (SPC defaults to 1234)
# Environment: CRL_BASE  base URL of the CRL distribution point
#                        (default https://127.0.0.1:8443; the CRL is $CRL_BASE/inter.crl)
#              OPENSSL   the openssl binary (default: openssl)
#
# Only the openssl CLI is used, with tools/pki/sti-pki.cnf. Running it again recreates
# OUTDIR's contents (new keys, new serials). tools/pki/README.md lists every file.
#
# Rule: OUTDIR must be empty, missing, or made by this script (it holds the marker file
# .stirwire-test-pki); the script refuses to empty any other directory.
set -euo pipefail

usage() {
    echo "usage: $0 OUTDIR [SPC]" >&2
    exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi

OPENSSL="${OPENSSL:-openssl}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CNF="$HERE/sti-pki.cnf"
[ -r "$CNF" ] || { echo "$0: missing $CNF" >&2; exit 1; }

out="$1"
spc="${2:-1234}"
case "$spc" in
    ''|*[!A-Za-z0-9]*) echo "$0: SPC must be letters and digits, got '$spc'" >&2; exit 2 ;;
esac

# --- OUTDIR: create, or empty one we made before -----------------------------------
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [ -n "$(ls -A "$out")" ]; then
    if [ ! -e "$out/.stirwire-test-pki" ]; then
        echo "$0: $out is not empty and was not made by this script; refusing to empty it" >&2
        exit 1
    fi
    find "$out" -mindepth 1 -delete
fi
touch "$out/.stirwire-test-pki"

export PKI_OUT="$out"
export PKI_DB="$out/ca-db"
export SPC="$spc"
export CRL_BASE="${CRL_BASE:-https://127.0.0.1:8443}"
CRL_BASE="${CRL_BASE%/}"
export OPENSSL_CONF="$CNF"

cd "$out"
for db in root inter; do
    mkdir -p "$PKI_DB/$db/newcerts"
    : > "$PKI_DB/$db/index.txt"
    echo 1000 > "$PKI_DB/$db/crlnumber"
done

ossl() {
    # openssl with its chatter ("Using configuration from ...", "Data Base Updated")
    # kept out of the way; shown only if the command fails.
    local log
    log="$(mktemp)"
    if ! "$OPENSSL" "$@" >"$log" 2>&1; then
        echo "$0: openssl $* failed:" >&2
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# genkey NAME KIND: KIND is p256, p384 or rsa. Keys are PKCS#8 PEM, unencrypted.
genkey() {
    case "$2" in
        p256) ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
                  -pkeyopt ec_param_enc:named_curve -out "$1.key" ;;
        p384) ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
                  -pkeyopt ec_param_enc:named_curve -out "$1.key" ;;
        rsa)  ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" ;;
    esac
    chmod 600 "$1.key"
}

sp_subj="/C=US/O=stirwire test/CN=SHAKEN $spc"

# issue CA NAME KIND EXT [openssl ca date options...]: key + CSR, then `openssl ca`.
issue() {
    local ca="$1" name="$2" kind="$3" ext="$4"
    shift 4
    genkey "$name" "$kind"
    ossl req -new -key "$name.key" -subj "$sp_subj" -out "$PKI_DB/$name.csr"
    ossl ca -batch -notext -name "$ca" -extensions "$ext" \
        -in "$PKI_DB/$name.csr" -out "$name.pem" "$@"
}

# date_in YEARS: a UTC openssl ca date YEARS from now (GNU date).
date_in() { date -u -d "+$1 years" +%Y%m%d%H%M%SZ; }

# --- root and intermediate ------------------------------------------------------------
genkey root p256
ossl req -x509 -new -key root.key -sha256 -days 3650 \
    -subj "/C=US/O=stirwire test/CN=stirwire Test STI Root" \
    -extensions root_ext -out root.pem

genkey inter p256
ossl req -new -key inter.key -subj "/C=US/O=stirwire test/CN=stirwire Test STI Intermediate" \
    -out "$PKI_DB/inter.csr"
ossl ca -batch -notext -name root_ca -extensions inter_ext -days 1825 \
    -in "$PKI_DB/inter.csr" -out inter.pem

# --- the good SP certificate -------------------------------------------------------
issue inter_ca sp p256 sp_ext -days 365

# --- the bad ones ------------------------------------------------------------------
issue inter_ca expired     p256 sp_ext -startdate 20200101000000Z -enddate 20210101000000Z
issue inter_ca notyet      p256 sp_ext -startdate "$(date_in 5)" -enddate "$(date_in 6)"
issue inter_ca notnauth    p256 notnauth_ext -days 365
issue inter_ca p384        p384 sp_ext -days 365
issue inter_ca revoked     p256 sp_ext -days 365
issue inter_ca wrongpolicy p256 wrongpolicy_ext -days 365
issue inter_ca rsa         rsa  sp_ext -days 365

genkey selfsigned p256
ossl req -x509 -new -key selfsigned.key -sha256 -days 365 -subj "$sp_subj" \
    -extensions sp_ext -out selfsigned.pem

# x5u-style chains: leaf then intermediate (selfsigned's too, as a server would
# wrongly serve it; the intermediate did not sign it).
for name in sp expired notyet notnauth p384 selfsigned revoked wrongpolicy rsa; do
    cat "$name.pem" inter.pem > "$name-chain.pem"
done

# --- CRLs --------------------------------------------------------------------------
ossl ca -name inter_ca -revoke revoked.pem -crl_reason keyCompromise
ossl ca -name inter_ca -gencrl -crldays 30 -out inter.crl
ossl crl -in inter.crl -outform DER -out inter.crl.der
ossl ca -name root_ca -gencrl -crldays 30 -out root.crl

# --- TLS for the local HTTPS test server -------------------------------------------
genkey tls-ca p256
ossl req -x509 -new -key tls-ca.key -sha256 -days 3650 \
    -subj "/C=US/O=stirwire test/CN=stirwire Test TLS CA" -extensions tls_ca_ext -out tls-ca.pem
genkey tls-server p256
ossl req -new -key tls-server.key -subj "/C=US/O=stirwire test/CN=localhost" \
    -out "$PKI_DB/tls-server.csr"
ossl x509 -req -in "$PKI_DB/tls-server.csr" -CA tls-ca.pem -CAkey tls-ca.key \
    -set_serial "0x$("$OPENSSL" rand -hex 15)" -days 825 -sha256 \
    -extfile "$CNF" -extensions tls_server_ext -out tls-server.pem

# --- tnauth-spc.der: the DER of sp.pem's TNAuthList extension value -----------------
# asn1parse prints "OBJECT :1.3.6.1.5.5.7.1.26" (OpenSSL 3.0 has no name for it, the
# line may also read "TNAuthList" in later versions), then the OCTET STRING holding the
# value; -strparse at that offset writes the value's DER.
octet_off="$("$OPENSSL" asn1parse -in sp.pem |
    awk '/:(1\.3\.6\.1\.5\.5\.7\.1\.26|TNAuthList|tnAuthList)$/ { want = 1; next }
         want && /OCTET STRING/ { sub(/:.*/, "", $1); print $1; exit }')"
[ -n "$octet_off" ] || { echo "$0: TNAuthList not found in sp.pem" >&2; exit 1; }
ossl asn1parse -in sp.pem -strparse "$octet_off" -noout -out tnauth-spc.der
ossl asn1parse -genconf "$CNF" -noout -out "$PKI_DB/tnauth-gen.der"
if ! cmp -s tnauth-spc.der "$PKI_DB/tnauth-gen.der"; then
    echo "$0: TNAuthList in sp.pem differs from the one the config describes" >&2
    exit 1
fi

# --- verify ------------------------------------------------------------------------
# verdict NAME EXPECT [openssl verify options]: EXPECT is ok or fail. Prints openssl's
# error (or OK). It runs inside $(...), so a wrong verdict is recorded in a file.
failed="$PKI_DB/verify-failed"
rm -f "$failed"
verdict() {
    local name="$1" expect="$2" got msg
    shift 2
    if msg="$("$OPENSSL" verify -CAfile root.pem -untrusted inter.pem "$@" "$name.pem" 2>&1)"; then
        got=ok
    else
        got=fail
    fi
    msg="$(printf '%s\n' "$msg" | grep -m1 -o 'error [0-9]*.*' || true)"
    if [ "$got" != "$expect" ]; then
        echo "$0: openssl verify $* $name.pem: expected $expect, got $got ${msg}" >&2
        echo "$name" >> "$failed"
    fi
    printf '%s' "${msg:-OK}"
}

policy=(-policy 2.16.840.1.114569.1.1.3 -explicit_policy)
cat inter.crl root.crl > "$PKI_DB/all.crl"
crl=(-crl_check_all -CRLfile "$PKI_DB/all.crl")

echo "stirwire test STI PKI in $out (SPC $spc, CRL DP $CRL_BASE/inter.crl)"
echo
line() { printf '%-16s %-5s %-9s %-26s %s\n' "$@"; }
line FILE KEY NOT-AFTER DEFECT "openssl verify: chain + CRLs + SHAKEN policy"
row() {
    local name="$1" defect="$2" expect="$3" key
    key="$("$OPENSSL" x509 -in "$name.pem" -noout -text |
        awk '/Public Key Algorithm: rsaEncryption/ { print "rsa"; exit }
             /NIST CURVE: P-256/ { print "p256"; exit } /NIST CURVE: P-384/ { print "p384"; exit }')"
    line "$name.pem" "$key" \
        "$("$OPENSSL" x509 -in "$name.pem" -noout -enddate | sed 's/.*=\(...\) .* \([0-9]\{4\}\) GMT/\1 \2/')" \
        "$defect" "$(verdict "$name" "$expect" "${crl[@]}" "${policy[@]}")"
}
row sp          "none"                     ok
row expired     "notAfter 2021-01-01"      fail
row notyet      "notBefore in 5 years"     fail
row notnauth    "no TNAuthList"            ok
row p384        "P-384 key"                ok
row selfsigned  "self-signed, not chained" fail
row revoked     "listed in inter.crl"      fail
row wrongpolicy "policy 1.2.3.4"           fail
row rsa         "RSA-2048 key"             ok
echo
# The plain checks (no CRL, no policy), as a verifier without them would see it.
echo "plain chain: sp.pem $(verdict sp ok); revoked.pem without -crl_check $(verdict revoked ok);" \
     "expired.pem $(verdict expired fail)"
echo
printf 'tnauth-spc.der: %s\n' "$(od -An -tx1 -v tnauth-spc.der | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
echo "CRLs: inter.crl (+ .der) lists revoked.pem's serial $("$OPENSSL" x509 -in revoked.pem -noout -serial | cut -d= -f2); root.crl is empty"
echo "TLS:  tls-ca.pem, tls-server.pem/.key (localhost, 127.0.0.1, ::1)"
echo "files: $(find . -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' | sort | tr '\n' ' ')"
if [ -e "$failed" ]; then
    echo "$0: FAILED: openssl verify did not give the expected verdict for: $(sort -u "$failed" | tr '\n' ' ')" >&2
    exit 1
fi
