#!/usr/bin/env bash
# http_pub.sh - GET|HEAD /v1/pub/<file> through a real server (`stirwire serve --listen
# 127.0.0.1:PORT --pub-dir DIR`) with curl: what must be served, byte for byte and with its
# headers, and every way of reaching outside pub_dir that must not work.
#
# Checked:
#   - cert.pem, sub/x.pem, x.der, ca.crl: 200, the exact bytes, Content-Type
#     (application/x-pem-file, application/pkix-cert, application/pkix-crl), Content-Length,
#     Cache-Control: max-age=3600, Last-Modified; HEAD gives the same headers and no body;
#   - 404, with one and the same JSON body and never a byte of /etc/passwd or of a file
#     outside pub_dir: "..", "%2e%2e" in every spelling, "..%2f", absolute paths
#     (/v1/pub//etc/passwd), empty components, a trailing '/', the directory itself and
#     a subdirectory (no listing), symbolic links pointing out (to /etc/passwd, to a file
#     beside pub_dir, to /etc as a directory) and in (to cert.pem, to sub), hidden files,
#     a FIFO (answered at once, not hung), a file over 1 MiB, a missing file;
#   - 400 for names that cannot be file names (%00, a backslash);
#   - 405 with Allow for POST; the server still answers afterwards;
#   - a server without --pub-dir answers 404 to /v1/pub/.
# curl always runs with --path-as-is (it would squash "/../" itself otherwise) and a
# --max-time, so that a hung request is a failed check.
#
# Exit 0 all passed, 1 a check failed, 77 curl or python3 missing.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without curl python3
need_built STIRWIRE
make_workdir http_pub

# --- pub_dir and what lies beside it ---------------------------------------------------------
pub="$work/pub"
mkdir -p "$pub/sub" "$pub/empty"
printf -- '-----BEGIN CERTIFICATE-----\nMIIBhttppub\n-----END CERTIFICATE-----\n' >"$pub/cert.pem"
printf -- '-----BEGIN CERTIFICATE-----\nMIIBsub\n-----END CERTIFICATE-----\n' >"$pub/sub/x.pem"
printf '\x30\x82\x01\x05\x00\x01' >"$pub/x.der"
printf 'crl bytes' >"$pub/ca.crl"
echo "hidden" >"$pub/.secret"
echo "hidden" >"$pub/sub/.hidden"
truncate -s $((1024 * 1024 + 1)) "$pub/big.pem"
mkfifo "$pub/pipe"
echo "OUTSIDE-SECRET" >"$work/outside.txt"
ln -s /etc/passwd "$pub/out"
ln -s ../outside.txt "$pub/esc"
ln -s /etc "$pub/etc"
ln -s cert.pem "$pub/in"
ln -s sub "$pub/linkdir"

read -r PORT PORT2 < <(free_ports 2)
url="http://127.0.0.1:$PORT"

"$STIRWIRE" serve --listen "127.0.0.1:$PORT" --pub-dir "$pub" >serve.out 2>serve.err &
bg_pids+=("$!")
serve_pid=$!
# curl -s succeeds on any HTTP answer, so this waits for the listener, not for a 200.
if ! waitfor 10 curl -s -o /dev/null --max-time 1 "$url/v1/pub/cert.pem"; then
    nok "stirwire serve did not answer on $url: $(tail -5 serve.err)"
    finish
fi

# get METHOD PATH: one request; sets code, and leaves the body in body.bin and the
# headers in headers.txt (CRs removed).
get() {
    local method="$1" path="$2" opt=()
    # curl -I prints the headers as its output: they go to headers.raw alone.
    if [ "$method" = HEAD ]; then opt=(-I -o /dev/null); else opt=(-X "$method" -o body.bin); fi
    : >body.bin
    code="$(curl -s --path-as-is --max-time 5 "${opt[@]}" -D headers.raw \
        -w '%{http_code}' "$url$path")" || code="curl-failed($?)"
    tr -d '\r' <headers.raw >headers.txt 2>/dev/null
}
snippet() { # the start of body.bin, as text for a message
    head -c 200 body.bin | tr -d '\0'
}
header() { # header NAME: the value of NAME in headers.txt, empty when absent
    awk -v n="$1" 'BEGIN { n = tolower(n) ":" } tolower($1) == n { sub(/^[^:]*: */, ""); print; exit }' headers.txt
}

# --- served ----------------------------------------------------------------------------------
# served PATH FILE TYPE: 200, the bytes of FILE, TYPE, its length, the cache headers.
served() {
    local path="$1" file="$2" type="$3" size
    size="$(stat -c %s "$file")"
    get GET "$path"
    if [ "$code" != 200 ]; then
        nok "GET $path: $code, want 200 ($(snippet))"
    elif ! cmp -s body.bin "$file"; then
        nok "GET $path: the body differs from $file"
    elif [ "$(header Content-Type)" != "$type" ]; then
        nok "GET $path: Content-Type '$(header Content-Type)', want $type"
    elif [ "$(header Content-Length)" != "$size" ]; then
        nok "GET $path: Content-Length '$(header Content-Length)', want $size"
    elif [ "$(header Cache-Control)" != "max-age=3600" ]; then
        nok "GET $path: Cache-Control '$(header Cache-Control)', want max-age=3600"
    elif ! header Last-Modified | grep -Eq '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$'; then
        nok "GET $path: Last-Modified '$(header Last-Modified)' is not an HTTP date"
    else
        ok "GET $path: 200 $type, $size bytes as on disk, cached an hour"
    fi
}
served /v1/pub/cert.pem "$pub/cert.pem" application/x-pem-file
served /v1/pub/sub/x.pem "$pub/sub/x.pem" application/x-pem-file
served /v1/pub/x.der "$pub/x.der" application/pkix-cert
served /v1/pub/ca.crl "$pub/ca.crl" application/pkix-crl

get HEAD /v1/pub/cert.pem
if [ "$code" = 200 ] && [ "$(header Content-Length)" = "$(stat -c %s "$pub/cert.pem")" ] &&
    [ "$(header Content-Type)" = application/x-pem-file ]; then
    ok "HEAD /v1/pub/cert.pem: 200, the GET's Content-Type and Content-Length"
else
    nok "HEAD /v1/pub/cert.pem: $code, type '$(header Content-Type)', length '$(header Content-Length)'"
fi
# curl -I never reads a body, so whether one follows the headers is seen on a raw
# connection: everything after the blank line must be nothing.
head_raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf 'HEAD /v1/pub/cert.pem HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    timeout 5 cat <&3 >head.raw
    exec 3>&-
}
if head_raw && grep -q '^HTTP/1.1 200' head.raw; then
    after="$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(len(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else -1)' head.raw)"
    if [ "$after" = 0 ]; then
        ok "HEAD on a raw connection: headers only, no body bytes"
    else
        nok "HEAD on a raw connection: $after bytes after the headers, want 0"
    fi
else
    nok "HEAD on a raw connection: no 200 answer: $(head -c 200 head.raw 2>/dev/null)"
fi

# --- refused ---------------------------------------------------------------------------------
# refused CODE PATH: CODE, a JSON error, nothing of /etc/passwd or outside.txt; for 404 the
# same body as every other 404 (the first one seen is the reference).
ref404=
refused() {
    local want="$1" path="$2"
    get GET "$path"
    if [ "$code" != "$want" ]; then
        nok "GET $path: $code, want $want ($(snippet))"
    elif grep -aq -e 'root:' -e OUTSIDE-SECRET -e hidden -e BEGIN body.bin; then
        nok "GET $path: $code but the body leaks a file: $(snippet)"
    elif ! header Content-Type | grep -q '^application/json'; then
        nok "GET $path: $code with Content-Type '$(header Content-Type)', want JSON"
    elif [ "$want" = 404 ] && [ -n "$ref404" ] && [ "$(cat body.bin)" != "$ref404" ]; then
        nok "GET $path: a 404 body that differs from the others: $(snippet)"
    else
        [ "$want" = 404 ] && [ -z "$ref404" ] && ref404="$(cat body.bin)"
        ok "GET $path: $code"
    fi
}
refused 404 /v1/pub/nothere.pem
# traversal, plain and encoded
refused 404 /v1/pub/../../../../etc/passwd
refused 404 /v1/pub/sub/../cert.pem
refused 404 /v1/pub/%2e%2e/%2e%2e/%2e%2e/etc/passwd
refused 404 /v1/pub/%2e%2e%2fetc%2fpasswd
refused 404 /v1/pub/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd
refused 404 /v1/pub/..%2f..%2f..%2fetc%2fpasswd
refused 404 /v1/pub/%2e%2e/outside.txt
refused 404 /v1/pub/sub%2fx.pem
refused 404 /v1/pub/%252e%252e%252fetc%252fpasswd
# absolute paths and empty components
refused 404 /v1/pub//etc/passwd
refused 404 /v1/pub/sub//x.pem
refused 404 /v1/pub/sub/
# directories: no listing
refused 404 /v1/pub/
refused 404 /v1/pub/sub
refused 404 /v1/pub/empty
# symbolic links, out and in
refused 404 /v1/pub/out
refused 404 /v1/pub/esc
refused 404 /v1/pub/etc/passwd
refused 404 /v1/pub/in
refused 404 /v1/pub/linkdir/x.pem
# hidden files, special files, size
refused 404 /v1/pub/.secret
refused 404 /v1/pub/sub/.hidden
refused 404 /v1/pub/%2esecret
refused 404 /v1/pub/pipe
refused 404 /v1/pub/big.pem
# not file names at all
refused 400 /v1/pub/cert.pem%00.txt
refused 400 '/v1/pub/..%5c..%5cetc%5cpasswd'

get POST /v1/pub/cert.pem
if [ "$code" = 405 ] && header Allow | grep -q GET; then
    ok "POST /v1/pub/cert.pem: 405, Allow: $(header Allow)"
else
    nok "POST /v1/pub/cert.pem: $code, Allow '$(header Allow)', want 405 with GET allowed"
fi

# After all that, the server is alive and still serves.
get GET /v1/pub/cert.pem
if kill -0 "$serve_pid" 2>/dev/null && [ "$code" = 200 ]; then
    ok "the server is alive and serves cert.pem after the refusals"
else
    nok "after the refusals: server alive? $(kill -0 "$serve_pid" 2>&1 && echo yes || echo no), GET $code"
fi

# --- no --pub-dir: /v1/pub/ does not exist ---------------------------------------------------
"$STIRWIRE" serve --listen "127.0.0.1:$PORT2" >serve2.out 2>serve2.err &
bg_pids+=("$!")
url="http://127.0.0.1:$PORT2"
if ! waitfor 10 curl -s -o /dev/null --max-time 1 "$url/v1/pub/cert.pem"; then
    nok "stirwire serve without --pub-dir did not answer: $(tail -5 serve2.err)"
else
    get GET /v1/pub/cert.pem
    if [ "$code" = 404 ]; then
        ok "without --pub-dir: GET /v1/pub/cert.pem is 404"
    else
        nok "without --pub-dir: GET /v1/pub/cert.pem is $code, want 404"
    fi
fi

finish
