#!/usr/bin/env bash
# http_api.sh - the REST API of `stirwire serve` with curl: every endpoint, bad input,
# path traversal on /v1/pub/, a slow client, bearer tokens and HTTPS. The server must
# answer every request with the right status (errors as JSON), never crash, never hang a
# connection, and never hand out a file outside its pub directory.
#
# Servers (each on a free 127.0.0.1 port, key made by `stirwire keygen`):
#   main   --key --x5u --check-key --pub-dir: v1 check and sign-csv, v2 sign and verify
#          (one and a batch), openapi, healthz/readyz, metrics, pub (GET, HEAD, traversal
#          by "..", %2e%2e/, %2e%2e%2f, an absolute path, a symlink to /etc/passwd, a
#          symlink to a directory, a directory), bad input (empty, 1 MB, binary garbage,
#          wrong method, unknown path), a slow client (one that sends part of its request
#          and goes idle is cut off at the idle timeout while another request is served;
#          one that trickles a byte every 0.5 s must not stop others being served).
#   tokens --token-sign: sign needs the token (401 + WWW-Authenticate: Bearer without it
#          or with a wrong one), check and metrics stay open.
#   tls    HTTPS with the test PKI's TLS files (tools/pki/make-test-pki.sh: tls-server.pem
#          and .key, trusted through tls-ca.pem), --token-check and --token-ops, and no
#          check key: /v1/check verifies through the verifier, fetching the x5u (the test
#          PKI's sp-chain.pem, with its CRL) from this same server's /v1/pub/ over HTTPS
#          (--ca-file root.pem --allow-private --allow-any-port --tls-ca tls-ca.pem). Plain
#          HTTP to the TLS port fails cleanly and the server keeps serving.
#
# The v2 request and answer shapes used here (V2_* below) are those of the OpenAPI
# document; the script checks them against /v2/openapi.json's paths too.
#
# The servers run with --idle-timeout 2.
#
# Exit 0 when all checks pass, 1 when any fails, 77 (skip) only when curl or python3 is
# missing. Loopback only. KEEP=1 keeps the directory.
# Environment: STIRWIRE, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=http_lib.sh
. "$(dirname "$0")/http_lib.sh"

SKIP_HINT="apt-get install curl python3" skip_without curl python3
for tool in openssl jq; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FAIL: $tool is not installed (run tools/deps.sh)"
        exit 1
    }
done
need_built STIRWIRE
make_workdir http-api
before_finish() {
    sanitizer_check main.log tokens.log tls.log
}

read -r P_MAIN P_TOK P_TLS < <(free_ports 3)
[ -n "${P_TLS:-}" ] || {
    nok "could not find free ports"
    finish
}
M="http://127.0.0.1:$P_MAIN"
X5U="http://127.0.0.1:$P_MAIN/v1/pub/cert.pem" # the main server's default x5u
SECRET="stirwire-http-api-secret-$$"           # in a file beside the pub dir: never served

# v2 bodies: claims as in a PASSporT (RFC 8225/8588) plus x5u; an answer carries
# "identity" (sign) and the verdict "valid" with "sip_status" (verify).
V2_SIGN='{"orig":{"tn":"12025550100"},"dest":{"tn":["12025550199"]},"attest":"A"}'
V2_SIGN_X5U='{"orig":{"tn":"12025550101"},"dest":{"tn":["12025550198"]},"attest":"B","x5u":"https://cert.example.org/b.pem"}'

# --- keys, PKI, pub directory, identities ------------------------------------------------------
if "$STIRWIRE" keygen --out key.pem --pub pub.pem >keygen.out 2>&1; then
    ok "stirwire keygen made key.pem and pub.pem"
else
    nok "stirwire keygen failed: $(cat keygen.out)"
    finish
fi
# The test PKI, its CRL distribution point the tls server's /v1/pub/ (so the verifier
# fetches both the chain and the CRL from it).
if CRL_BASE="https://127.0.0.1:$P_TLS/v1/pub" "$MKPKI" "$work/pki" >mkpki.out 2>&1; then
    ok "make-test-pki.sh made the test PKI (CRL at https://127.0.0.1:$P_TLS/v1/pub/inter.crl)"
else
    nok "make-test-pki.sh failed: $(tail -3 mkpki.out)"
    finish
fi
mkdir -p pub/sub tlspub
cp pki/sp.pem pub/cert.pem
cp pki/sp-chain.pem pki/inter.crl pki/root.crl tlspub/
echo "not for listing" >pub/sub/inner.pem
echo "$SECRET" >secret.txt
ln -s /etc/passwd pub/passwd.pem
ln -s /etc pub/etclink
ln -s ../secret.txt pub/up.pem

sign() { # sign OUT ARGS...: stirwire sign with key.pem into OUT (no newline)
    local o="$1"
    shift
    "$STIRWIRE" sign --key key.pem "$@" 2>sign.err | tr -d '\n' >"$o"
    [ -s "$o" ] || {
        nok "stirwire sign $* failed: $(cat sign.err)"
        finish
    }
}
# fresh: identity.txt signed now (the servers accept an iat up to 60 s old, and a section
# may start a minute after the script)
fresh() {
    sign identity.txt --orig 12025550100 --dest 12025550199 --attest A --x5u "$X5U"
}
fresh
# tampered: attest changed in the payload, the signature kept
ident="$(cat identity.txt)"
jwt="${ident%%;*}"
rest="${jwt#*.}"
forged="$(b64url_decode "${rest%%.*}" | jq -c '.attest = "C"' | tr -d '\n' | b64url_encode)"
printf '%s' "${jwt%%.*}.$forged.${jwt##*.}${ident#"$jwt"}" >tampered.txt
head -c 1048576 /dev/zero | tr '\0' 'A' >big.txt
head -c 4096 /dev/urandom >garbage.bin
printf 'OK\n' >ok.want

# The idle timeout: 2 s (serve's --idle-timeout), so the slow-client checks stay short.
TMO=2
TMO_ARGS=(--idle-timeout 2)

# alive NAME BASE [CURL-ARG...]: the server is still running and answers /healthz.
alive() {
    local n="$1" b="$2"
    shift 2
    if ! kill -0 "$srv_pid" 2>/dev/null; then
        nok "$n: the server process is gone: $(tail -3 "$work/$n.log" | tr '\n' ' ')"
        return
    fi
    req alive "$@" "$b/healthz"
    want "$n: still serving (GET /healthz)" 200
}

# no_leak WHAT: the last answer is a 4xx and holds neither /etc/passwd nor the secret.
no_leak() {
    if [[ $code =~ ^4[0-9][0-9]$ ]] && ! grep -q -e 'root:' -e "$SECRET" -e 'not for listing' \
        -e 'inner.pem' "$last.body"; then
        ok "$1: HTTP $code, nothing of the file"
    else
        nok "$1: HTTP $code, body ${body:0:120}"
    fi
}

# ======================================================================================
# main server
# ======================================================================================
J=(-H 'Content-Type: application/json')

# main_tests: everything against the main server, started after it (the body is not
# indented: it is most of the script).
main_tests() {

# --- ops endpoints ---------------------------------------------------------------------------------
req healthz "$M/healthz"
want "GET /healthz" 200
req readyz "$M/readyz"
want "GET /readyz" 200
req metrics "$M/metrics"
want "GET /metrics" 200 '^# (HELP|TYPE) '
ct="$(header metrics content-type)"
if [[ $ct == text/plain* ]] && [[ $ct == *version=0.0.4* ]]; then
    ok "/metrics Content-Type is Prometheus text ($ct)"
else
    nok "/metrics Content-Type '$ct', want text/plain; version=0.0.4"
fi
req openapi "$M/v2/openapi.json"
want "GET /v2/openapi.json" 200
if jq -e '.openapi | type == "string" and test("^3\\.")' openapi.body >/dev/null 2>&1; then
    ok "/v2/openapi.json parses as JSON, openapi $(jq -r .openapi openapi.body)"
else
    nok "/v2/openapi.json is not an OpenAPI 3 document: ${body:0:200}"
fi
for p in /v1/check /v1/sign-csv /v2/sign /v2/verify /metrics /healthz /readyz; do
    if jq -e --arg p "$p" '.paths | has($p)' openapi.body >/dev/null 2>&1; then
        ok "/v2/openapi.json describes $p"
    else
        nok "/v2/openapi.json lacks paths.$p"
    fi
done

# --- POST /v1/check ------------------------------------------------------------------------------
req check --data-binary @identity.txt "$M/v1/check"
want "POST /v1/check, valid identity" 200
if cmp -s check.body ok.want; then
    ok "/v1/check valid: body is exactly OK\\n"
else
    nok "/v1/check valid: body $(od -An -c check.body | head -2 | tr -s ' ')"
fi
req check-tampered --data-binary @tampered.txt "$M/v1/check"
want "POST /v1/check, tampered payload" '4[0-9][0-9]'
json_error "/v1/check tampered"
xs="$(header check-tampered x-sip-status)"
if [ "$xs" = 438 ]; then
    ok "/v1/check tampered: X-SIP-Status 438, X-Stirwire-Error $(header check-tampered x-stirwire-error)"
else
    nok "/v1/check tampered: X-SIP-Status '$xs', want 438"
fi
sign old.txt --orig 12025550100 --dest 12025550199 --attest A --x5u "$X5U" --iat $(($(date +%s) - 3600))
req check-old --data-binary @old.txt "$M/v1/check"
want "POST /v1/check, iat an hour old (max age 60 s)" '4[0-9][0-9]'
json_error "/v1/check stale"
xs="$(header check-old x-sip-status)"
if [ "$xs" = 403 ]; then
    ok "/v1/check stale: X-SIP-Status 403 (RFC 8224 Stale Date)"
else
    nok "/v1/check stale: X-SIP-Status '$xs', want 403"
fi
req check-empty -X POST "$M/v1/check"
want "POST /v1/check, empty body" 400
json_error "/v1/check empty"
req check-big --data-binary @big.txt "$M/v1/check"
want "POST /v1/check, 1 MB body" 413
req check-garbage --data-binary @garbage.bin "$M/v1/check"
want "POST /v1/check, 4 KB of random bytes" 400
json_error "/v1/check garbage"
req check-get "$M/v1/check"
want "GET /v1/check" 405
if [[ $(header check-get allow) == *POST* ]]; then
    ok "GET /v1/check: Allow: $(header check-get allow)"
else
    nok "GET /v1/check: Allow '$(header check-get allow)', want POST"
fi
json_error "GET /v1/check"
req nowhere "$M/v1/nowhere"
want "GET /v1/nowhere" 404
json_error "unknown path"
req nowhere2 --data x "$M/v3/check"
want "POST /v3/check" 404
alive main "$M"

# --- POST /v1/sign-csv ---------------------------------------------------------------------------
req csv --data "12025550100,12025550199,A,,$X5U" "$M/v1/sign-csv"
want "POST /v1/sign-csv" 200 '^eyJ'
if [ "$(tail -c1 csv.body | od -An -c | tr -d ' ')" = '\n' ] &&
    [ "$(tr -cd '\n' <csv.body | wc -l)" -eq 1 ]; then
    ok "/v1/sign-csv: the body is <identity>\\n"
else
    nok "/v1/sign-csv: body is not one line ending in \\n"
fi
tr -d '\n' <csv.body >csv.txt
if out="$("$STIRWIRE" check --key pub.pem --orig 12025550100 --dest 12025550199 - <csv.txt 2>&1)"; then
    ok "stirwire check --key accepts the sign-csv identity: $out"
else
    nok "stirwire check --key refuses the sign-csv identity: $out"
fi
# an empty OrigID becomes a UUID, an empty X5U the configured default
req csv2 --data '12025550100,12025550199,B,,' "$M/v1/sign-csv"
want "POST /v1/sign-csv with empty OrigID and X5U" 200
got="$(tr -d '\n' <csv2.body | "$STIRWIRE" decode - 2>/dev/null |
    jq -r '[.payload.attest, .header.x5u, .params.info, (.payload.origid | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))] | @tsv' 2>/dev/null)"
if [ "$got" = "B	$X5U	$X5U	true" ]; then
    ok "/v1/sign-csv: empty X5U -> --x5u default, empty OrigID -> a UUID"
else
    nok "/v1/sign-csv empty OrigID/X5U: got '$got'"
fi
req csv3 --data "12025550100,12025550199,C,123e4567-e89b-42d3-a456-426614174000,https://cert.example.org/c.pem" "$M/v1/sign-csv"
got="$(tr -d '\n' <csv3.body | "$STIRWIRE" decode - 2>/dev/null | jq -r '[.payload.origid, .header.x5u] | @tsv' 2>/dev/null)"
if [ "$code" = 200 ] && [ "$got" = "123e4567-e89b-42d3-a456-426614174000	https://cert.example.org/c.pem" ]; then
    ok "/v1/sign-csv: the given OrigID and X5U are signed"
else
    nok "/v1/sign-csv with OrigID and X5U: HTTP $code, '$got'"
fi
req csv4 --data '12025550100,12025550199,A,' "$M/v1/sign-csv"
want "POST /v1/sign-csv with 4 fields" 400
json_error "/v1/sign-csv 4 fields"
req csv-attest --data "12025550100,12025550199,D,,$X5U" "$M/v1/sign-csv"
want "POST /v1/sign-csv with attestation D" 400
req csv-empty -X POST "$M/v1/sign-csv"
want "POST /v1/sign-csv, empty body" 400
req csv-big --data-binary @big.txt "$M/v1/sign-csv"
want "POST /v1/sign-csv, 1 MB body" 413
req csv-garbage --data-binary @garbage.bin "$M/v1/sign-csv"
want "POST /v1/sign-csv, random bytes" 400
req csv-get "$M/v1/sign-csv"
want "GET /v1/sign-csv" 405
alive main "$M"

# --- /v2/sign and /v2/verify ---------------------------------------------------------------------
req v2sign "${J[@]}" --data "$V2_SIGN" "$M/v2/sign"
want "POST /v2/sign, one claims object" 200
jq -r '.identity // empty' v2sign.body 2>/dev/null | tr -d '\n' >v2.txt
if [ -s v2.txt ] && out="$("$STIRWIRE" check --key pub.pem --orig 12025550100 --dest 12025550199 - <v2.txt 2>&1)"; then
    ok "/v2/sign: .identity verifies with stirwire check --key"
else
    nok "/v2/sign: no .identity that verifies: ${body:0:200} ${out:-}"
fi
if [ "$(jq -r '.passport.payload.attest // .payload.attest // empty' v2sign.body 2>/dev/null)" = A ]; then
    ok "/v2/sign: the answer carries the decoded PASSporT"
else
    nok "/v2/sign: no decoded PASSporT (passport.payload) in ${body:0:200}"
fi
req v2signb "${J[@]}" --data "[$V2_SIGN,$V2_SIGN_X5U]" "$M/v2/sign"
want "POST /v2/sign, a batch of two" 200
if [ "$(jq -r 'if type == "array" then length else -1 end' v2signb.body 2>/dev/null)" = 2 ] &&
    [ "$(jq -r '.[1].identity' v2signb.body | "$STIRWIRE" decode - 2>/dev/null | jq -r .header.x5u)" = https://cert.example.org/b.pem ]; then
    ok "/v2/sign batch: an array of two answers, the second with its own x5u"
else
    nok "/v2/sign batch: ${body:0:300}"
fi
printf '{\n  "orig": {"tn": "12025550100"},\n  "attest": "A",,\n}' >bad.json
req v2sign-bad "${J[@]}" --data-binary @bad.json "$M/v2/sign"
want "POST /v2/sign, broken JSON" 400
json_error "/v2/sign broken JSON"
if jq -r '[.message, .detail] | join(" ")' v2sign-bad.body 2>/dev/null | grep -Eiq 'line[^0-9]*3.*col'; then
    ok "/v2/sign broken JSON: the error names line 3 and a column"
else
    nok "/v2/sign broken JSON: no line/column in ${body:0:200}"
fi
req v2sign-noattest "${J[@]}" --data '{"orig":{"tn":"12025550100"},"dest":{"tn":["12025550199"]}}' "$M/v2/sign"
want "POST /v2/sign without attest" 400
json_error "/v2/sign without attest"
req v2sign-garbage "${J[@]}" --data-binary @garbage.bin "$M/v2/sign"
want "POST /v2/sign, random bytes" 400

jq -n --rawfile i identity.txt '{identity: $i, from: "sip:+12025550100@a.example", to: "sip:+12025550199@b.example"}' >v.json
jq -n --rawfile i tampered.txt '{identity: $i}' >vt.json
jq -s . v.json vt.json >vb.json
req v2verify "${J[@]}" --data-binary @v.json "$M/v2/verify"
want "POST /v2/verify, valid identity with from/to" 200
if jq -e '.valid == true' v2verify.body >/dev/null 2>&1; then
    ok "/v2/verify: valid (verstat $(jq -r '.verstat // "?"' v2verify.body))"
else
    nok "/v2/verify: not valid: ${body:0:300}"
fi
req v2verifyt "${J[@]}" --data-binary @vt.json "$M/v2/verify"
if [[ $code =~ ^(200|4[0-9][0-9])$ ]] && jq -e '.valid == false and .sip_status == 438' v2verifyt.body >/dev/null 2>&1; then
    ok "/v2/verify tampered: HTTP $code, valid false, sip_status 438, error $(jq -r .error v2verifyt.body)"
else
    nok "/v2/verify tampered: HTTP $code ${body:0:300}"
fi
req v2verifyb "${J[@]}" --data-binary @vb.json "$M/v2/verify"
want "POST /v2/verify, a batch of two" 200
if jq -e 'type == "array" and length == 2 and .[0].valid == true and .[1].valid == false and .[1].sip_status == 438' \
    v2verifyb.body >/dev/null 2>&1; then
    ok "/v2/verify batch: [valid, invalid 438] in order"
else
    nok "/v2/verify batch: ${body:0:300}"
fi
printf '[\n {"identity": "x"},\n {"identity": }\n]' >badv.json
req v2verify-bad "${J[@]}" --data-binary @badv.json "$M/v2/verify"
want "POST /v2/verify, broken JSON" 400
json_error "/v2/verify broken JSON"
if jq -r '[.message, .detail] | join(" ")' v2verify-bad.body 2>/dev/null | grep -Eiq 'line[^0-9]*3.*col'; then
    ok "/v2/verify broken JSON: the error names line 3 and a column"
else
    nok "/v2/verify broken JSON: no line/column in ${body:0:200}"
fi
req v2verify-empty "${J[@]}" -X POST "$M/v2/verify"
want "POST /v2/verify, empty body" 400
req v2verify-big "${J[@]}" --data-binary @big.txt "$M/v2/verify"
want "POST /v2/verify, 1 MB body" 413
req v2verify-get "$M/v2/verify"
want "GET /v2/verify" 405
alive main "$M"

# --- /v1/pub/ --------------------------------------------------------------------------------------
req pub "$M/v1/pub/cert.pem"
want "GET /v1/pub/cert.pem" 200 'BEGIN CERTIFICATE'
if cmp -s pub.body pub/cert.pem; then
    ok "/v1/pub/cert.pem: the file's bytes"
else
    nok "/v1/pub/cert.pem: the body differs from the file"
fi
ct="$(header pub content-type)"
if [[ $ct == application/x-pem-file* ]]; then
    ok "/v1/pub/cert.pem Content-Type $ct"
else
    nok "/v1/pub/cert.pem Content-Type '$ct', want application/x-pem-file"
fi
req pubhead -I "$M/v1/pub/cert.pem"
want "HEAD /v1/pub/cert.pem" 200
if [ "$(header pubhead content-length)" = "$(wc -c <pub/cert.pem)" ]; then
    ok "HEAD /v1/pub/cert.pem: Content-Length is the file's size"
else
    nok "HEAD /v1/pub/cert.pem: Content-Length '$(header pubhead content-length)', file $(wc -c <pub/cert.pem)"
fi
# curl reuses the connection for the second URL: a stray body after the first would spoil it
code="$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -I "$M/v1/pub/cert.pem" \
    --next -s --max-time 10 -o pub2.second -w '%{http_code} %{num_connects}' "$M/v1/pub/cert.pem")"
if [ "$code" = "200200 0" ] && cmp -s pub2.second pub/cert.pem; then
    ok "HEAD then GET of /v1/pub/cert.pem on one connection: 200, 200, the file"
else
    nok "HEAD then GET of /v1/pub/cert.pem on one connection: HTTP/new connections $code"
fi
req pubmissing "$M/v1/pub/missing.pem"
want "GET /v1/pub/missing.pem" 404
req pubpost --data x "$M/v1/pub/cert.pem"
want "POST /v1/pub/cert.pem" 405
req t1 --path-as-is "$M/v1/pub/../../secret.txt"
no_leak "GET /v1/pub/../../secret.txt (--path-as-is)"
req t1b --path-as-is "$M/v1/pub/../secret.txt"
no_leak "GET /v1/pub/../secret.txt (--path-as-is)"
req t1c --path-as-is "$M/v1/pub/sub/../../secret.txt"
no_leak "GET /v1/pub/sub/../../secret.txt (--path-as-is)"
req t2 --path-as-is "$M/v1/pub/%2e%2e/secret.txt"
no_leak "GET /v1/pub/%2e%2e/secret.txt"
req t3 --path-as-is "$M/v1/pub/%2e%2e%2fsecret.txt"
no_leak "GET /v1/pub/%2e%2e%2fsecret.txt"
req t3b --path-as-is "$M/v1/pub/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"
no_leak "GET /v1/pub/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"
req t3c --path-as-is "$M/v1/pub/..%2f..%2f..%2fetc/passwd"
no_leak "GET /v1/pub/..%2f..%2f..%2fetc/passwd"
req t4 --path-as-is "$M/v1/pub//etc/passwd"
no_leak "GET /v1/pub//etc/passwd (absolute, --path-as-is)"
req t4b --path-as-is "$M/v1/pub/%2fetc%2fpasswd"
no_leak "GET /v1/pub/%2fetc%2fpasswd"
req t5 "$M/v1/pub/passwd.pem"
no_leak "GET /v1/pub/passwd.pem (a symlink to /etc/passwd)"
req t5b "$M/v1/pub/up.pem"
no_leak "GET /v1/pub/up.pem (a symlink to ../secret.txt)"
req t6 "$M/v1/pub/etclink/passwd"
no_leak "GET /v1/pub/etclink/passwd (through a symlink to /etc)"
req t7 "$M/v1/pub/sub/"
no_leak "GET /v1/pub/sub/ (a directory: no listing)"
req t7b "$M/v1/pub/sub"
no_leak "GET /v1/pub/sub (a directory)"
req t7c "$M/v1/pub/"
no_leak "GET /v1/pub/ (the directory itself)"
req t8 --path-as-is "$M/v1/pub/sub/%00inner.pem"
no_leak "GET /v1/pub/sub/%00inner.pem (a NUL)"
req t9 "$M/v1/pub/sub/inner.pem"
want "GET /v1/pub/sub/inner.pem (a file in a subdirectory)" 200 'not for listing'
alive main "$M"

# --- a slow client -------------------------------------------------------------------------------
# slow.py MODE PORT LIMIT: MODE idle sends the first bytes of a request and waits; trickle
# sends a byte every 0.5 s (of a request whose headers never end). Prints "closed SECONDS"
# when the server closed the connection, "open SECONDS" when LIMIT came first.
cat >slow.py <<'PY'
import select, socket, sys, time
mode, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic()
head = b"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nX-Pad: " + b"a" * 4000
def closed():
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                return False
    except OSError:
        return True
try:
    if mode == "idle":
        s.sendall(head[:30])
    i = 0
    while time.monotonic() - t0 < limit:
        if mode == "trickle":
            s.send(head[i:i + 1])
            i += 1
        if closed():
            print("closed %.1f" % (time.monotonic() - t0))
            sys.exit(0)
        time.sleep(0.5 if mode == "trickle" else 0.1)
    print("open %.1f" % (time.monotonic() - t0))
except OSError:
    print("closed %.1f" % (time.monotonic() - t0))
PY
fresh
python3 slow.py idle "$P_MAIN" $((TMO + 6)) >slow-idle.out 2>&1 &
slow_pid=$!
sleep 1
req during-slow --max-time 3 "$M/healthz"
want "GET /healthz while an idle client holds a connection" 200
req during-slow2 --max-time 3 --data-binary @identity.txt "$M/v1/check"
want "POST /v1/check while an idle client holds a connection" 200
wait "$slow_pid"
read -r st secs <slow-idle.out
if [ "$st" = closed ] && awk -v s="$secs" -v t="$TMO" 'BEGIN { exit !(s >= t - 1 && s <= t + 4) }'; then
    ok "an idle client is cut off after ${secs} s (idle timeout $TMO s)"
else
    nok "an idle client: $(cat slow-idle.out) (idle timeout $TMO s, want closed within $((TMO - 1))..$((TMO + 4)) s)"
fi
python3 slow.py trickle "$P_MAIN" $((TMO + 4)) >slow-trickle.out 2>&1 &
slow_pid=$!
sleep 1
req during-trickle --max-time 3 "$M/healthz"
want "GET /healthz while a client trickles its headers" 200
sleep $((TMO / 2))
req during-trickle2 --max-time 3 --data-binary @identity.txt "$M/v1/check"
want "POST /v1/check while a client trickles its headers ($((TMO / 2 + 1)) s in)" 200
wait "$slow_pid"
# An idle timeout is not a header deadline (libmicrohttpd resets it on every byte), so
# what happened to the trickling client is reported, not judged.
echo "# a client trickling a header byte every 0.5 s for $((TMO + 4)) s: $(cat slow-trickle.out)"
alive main "$M"

}
if start_server main "$P_MAIN" "$STIRWIRE" serve --listen "127.0.0.1:$P_MAIN" \
    --key key.pem --x5u "$X5U" --check-key pub.pem --pub-dir pub "${TMO_ARGS[@]}"; then
    main_pid=$srv_pid
    main_tests
    if stop_server "$main_pid"; then
        ok "stirwire serve (main) stopped cleanly on SIGTERM"
    else
        nok "stirwire serve (main) did not stop cleanly on SIGTERM"
    fi
fi

# ======================================================================================
# tokens: only sign has one
# ======================================================================================
T="http://127.0.0.1:$P_TOK"
if start_server tokens "$P_TOK" "$STIRWIRE" serve --listen "127.0.0.1:$P_TOK" \
    --key key.pem --x5u "$X5U" --check-key pub.pem --pub-dir pub --token-sign s3cret; then
    fresh
    req tok-none --data '12025550100,12025550199,A,,' "$T/v1/sign-csv"
    want "sign-csv without a token" 401
    json_error "sign-csv without a token"
    if [[ $(header tok-none www-authenticate) == Bearer* ]]; then
        ok "sign-csv without a token: WWW-Authenticate: $(header tok-none www-authenticate)"
    else
        nok "sign-csv without a token: WWW-Authenticate '$(header tok-none www-authenticate)'"
    fi
    req tok-wrong -H 'Authorization: Bearer s3cres' --data '12025550100,12025550199,A,,' "$T/v1/sign-csv"
    want "sign-csv with a wrong token" 401
    if [[ $(header tok-wrong www-authenticate) == Bearer* ]]; then
        ok "wrong token: WWW-Authenticate Bearer"
    else
        nok "wrong token: WWW-Authenticate '$(header tok-wrong www-authenticate)'"
    fi
    req tok-basic -u s3cret:s3cret --data '12025550100,12025550199,A,,' "$T/v1/sign-csv"
    want "sign-csv with Basic credentials instead of a Bearer token" 401
    req tok-long -H "Authorization: Bearer s3cret$(head -c 3000 /dev/zero | tr '\0' x)" \
        --data '12025550100,12025550199,A,,' "$T/v1/sign-csv"
    want "sign-csv with the token plus 3000 bytes" 401
    req tok-right -H 'Authorization: Bearer s3cret' --data '12025550100,12025550199,A,,' "$T/v1/sign-csv"
    want "sign-csv with the right token" 200 '^eyJ'
    req tok-v2 "${J[@]}" --data "$V2_SIGN" "$T/v2/sign"
    want "/v2/sign without a token" 401
    req tok-v2r "${J[@]}" -H 'Authorization: Bearer s3cret' --data "$V2_SIGN" "$T/v2/sign"
    want "/v2/sign with the right token" 200
    req tok-check --data-binary @identity.txt "$T/v1/check"
    want "/v1/check stays open when only sign has a token" 200
    req tok-metrics "$T/metrics"
    want "/metrics stays open when only sign has a token" 200
    req tok-pub "$T/v1/pub/cert.pem"
    want "/v1/pub/ stays open" 200
    alive tokens "$T"
    stop_server "$srv_pid" || nok "stirwire serve (tokens) did not stop cleanly"
fi

# ======================================================================================
# HTTPS, tokens for check and ops, verification through the verifier (fetching from itself)
# ======================================================================================
S="https://127.0.0.1:$P_TLS"
C=(--cacert pki/tls-ca.pem)
sign_pki() { # sign_pki OUT X5U
    "$STIRWIRE" sign --key pki/sp.key --orig 12025550100 --dest 12025550199 --attest A \
        --x5u "$2" 2>sign.err | tr -d '\n' >"$1"
    [ -s "$1" ] || nok "stirwire sign with pki/sp.key failed: $(cat sign.err)"
}
sign_pki pki-ident.txt "$S/v1/pub/sp-chain.pem"
sign_pki pki-missing.txt "$S/v1/pub/nothere.pem"
if start_server tls "$P_TLS" "$STIRWIRE" serve --listen "127.0.0.1:$P_TLS" \
    --tls-cert pki/tls-server.pem --tls-key pki/tls-server.key --pub-dir tlspub \
    --ca-file pki/root.pem --allow-private --allow-any-port --tls-ca pki/tls-ca.pem \
    --token-check c0ffee --token-ops m3trics; then
    req tls-health "${C[@]}" "$S/healthz"
    want "HTTPS GET /healthz with --cacert tls-ca.pem" 200
    req tls-pub "${C[@]}" "$S/v1/pub/sp-chain.pem"
    want "HTTPS GET /v1/pub/sp-chain.pem" 200 'BEGIN CERTIFICATE'
    req tls-untrusted "$S/healthz"
    if [ "$code" = 000 ]; then
        ok "HTTPS without --cacert: curl refuses the test certificate"
    else
        nok "HTTPS without --cacert: HTTP $code (the test CA is trusted system-wide?)"
    fi
    req tls-plain --max-time 5 "http://127.0.0.1:$P_TLS/healthz"
    if [ "$code" = 000 ] || [[ $code =~ ^4[0-9][0-9]$ ]]; then
        ok "plain HTTP to the TLS port fails cleanly (HTTP $code, $(head -c 80 tls-plain.curlerr))"
    else
        nok "plain HTTP to the TLS port: HTTP $code"
    fi
    if ! grep -q 'timed out' tls-plain.curlerr; then
        ok "plain HTTP to the TLS port: no hang (the server answered or closed)"
    else
        nok "plain HTTP to the TLS port: curl timed out (the connection hung)"
    fi
    printf 'GARBAGE\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.settimeout(4)
try:
    while s.recv(4096): pass
except OSError: pass' "$P_TLS"
    req tls-after "${C[@]}" "$S/healthz"
    want "HTTPS still served after plain HTTP and garbage on the TLS port" 200
    req tls-check-none "${C[@]}" --data-binary @pki-ident.txt "$S/v1/check"
    want "HTTPS /v1/check without the check token" 401
    req tls-check "${C[@]}" -H 'Authorization: Bearer c0ffee' --data-binary @pki-ident.txt "$S/v1/check"
    want "HTTPS /v1/check with the token: the x5u fetched from this server, chain and CRL checked" 200 '^OK$'
    req tls-check2 "${C[@]}" -H 'Authorization: Bearer c0ffee' --data-binary @pki-ident.txt "$S/v1/check"
    want "HTTPS /v1/check again (certificate cached)" 200 '^OK$'
    req tls-check-missing "${C[@]}" -H 'Authorization: Bearer c0ffee' --data-binary @pki-missing.txt "$S/v1/check"
    want "HTTPS /v1/check, x5u answers 404" '4[0-9][0-9]'
    xs="$(header tls-check-missing x-sip-status)"
    if [ "$xs" = 436 ]; then
        ok "x5u 404: X-SIP-Status 436 (Bad Identity Info)"
    else
        nok "x5u 404: X-SIP-Status '$xs', want 436"
    fi
    req tls-sign "${C[@]}" --data '12025550100,12025550199,A,,' "$S/v1/sign-csv"
    want "HTTPS /v1/sign-csv without a sign key configured" 503
    json_error "sign without a key"
    req tls-metrics "${C[@]}" "$S/metrics"
    want "HTTPS /metrics without the ops token" 401
    req tls-metrics2 "${C[@]}" -H 'Authorization: Bearer m3trics' "$S/metrics"
    want "HTTPS /metrics with the ops token" 200 '^# (HELP|TYPE) '
    req tls-openapi "${C[@]}" "$S/v2/openapi.json"
    want "HTTPS /v2/openapi.json stays open" 200
    alive tls "$S" "${C[@]}"
    stop_server "$srv_pid" || nok "stirwire serve (tls) did not stop cleanly"
fi

finish
