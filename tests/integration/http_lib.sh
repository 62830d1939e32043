# http_lib.sh - what the REST API scripts (http_api.sh, http_secsipidx.sh) share on top of
# lib.sh: one curl call kept as status, headers and body; header lookup; starting and
# stopping an HTTP server (stirwire serve, stirwired with an http group, secsipidx
# -http-srv) on 127.0.0.1 and waiting until it accepts connections. Sourced after lib.sh;
# it only defines functions.
# shellcheck shell=bash disable=SC2154  # work, bg_pids, ok, nok come from lib.sh

# --- one request ----------------------------------------------------------------------------
# req NAME CURL-ARG...: runs curl (silent, 10 s at most, never following redirects) and
# keeps the answer in NAME.hdr (the header block as received, CRs removed) and NAME.body
# (the body bytes as received). Sets code (the HTTP status, 000 when there was no answer),
# body (the body as text, NULs removed, for messages and patterns) and last (NAME, for
# header and json_error on the last answer).
req() {
    local name="$1"
    shift
    last="$name"
    rm -f "$name.hdr" "$name.body" "$name.rawhdr"
    code="$(curl -s --max-time "${REQ_TIMEOUT:-10}" -D "$name.rawhdr" -o "$name.body" \
        -w '%{http_code}' "$@" 2>"$name.curlerr")"
    [ -n "$code" ] || code=000
    touch "$name.rawhdr" "$name.body"
    tr -d '\r' <"$name.rawhdr" >"$name.hdr"
    body="$(tr -d '\0' <"$name.body")"
}

# header NAME FIELD: the value of header FIELD (case-insensitive) in NAME.hdr, the last
# response's block when curl kept several (a 100 Continue before the answer); empty when
# absent.
header() {
    awk -v f="$2" '
        BEGIN { f = tolower(f) }
        /^HTTP\// { v = "" }
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == f) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v) } }
        END { print v }' "$1.hdr"
}

# status_line NAME: the status line of the last response in NAME.hdr ("HTTP/1.1 200 OK").
status_line() {
    awk '/^HTTP\// { s = $0 } END { print s }' "$1.hdr"
}

# want WHAT CODE [BODY-ERE]: one check of the last req: the status is CODE (a number, or an
# ERE such as '4[0-9][0-9]') and, when given, the body matches BODY-ERE.
want() {
    local what="$1" c="$2" pat="${3:-}"
    if ! [[ $code =~ ^($c)$ ]]; then
        nok "$what: HTTP $code, want $c (body: ${body:0:200})"
    elif [ -n "$pat" ] && ! printf '%s\n' "$body" | grep -Eq -- "$pat"; then
        nok "$what: HTTP $code as wanted, but the body lacks /$pat/: ${body:0:300}"
    else
        ok "$what: HTTP $code${pat:+, body has /$pat/}"
    fi
}

# json_error WHAT: the last req's answer is a JSON error object, {"error": "NAME", "message": ...},
# with a JSON content type (the form of every error the API answers).
json_error() {
    local ct
    ct="$(header "$last" content-type)"
    if [[ $ct != application/json* ]]; then
        nok "$1: error answer with Content-Type '${ct}', want application/json"
    elif ! jq -e '(.error | type) == "string" and (.message | type) == "string"' \
        "$last.body" >/dev/null 2>&1; then
        nok "$1: error answer is not {\"error\":\"...\",\"message\":\"...\"}: ${body:0:200}"
    else
        ok "$1: JSON error $(jq -r .error "$last.body")"
    fi
}

# --- servers --------------------------------------------------------------------------------
# port_open PORT: status 0 when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_server NAME PORT CMD...: starts CMD in the background with its output in
# $work/NAME.log, adds it to bg_pids, and waits up to 10 s for PORT to accept connections.
# Sets srv_pid; status 0 when it listens, 1 when it exited or never listened (then the
# log's last lines are in srv_err). One check line either way.
start_server() {
    local name="$1" p="$2"
    shift 2
    "$@" >"$work/$name.log" 2>&1 &
    srv_pid=$!
    bg_pids+=("$srv_pid")
    local n=200
    while [ "$n" -gt 0 ]; do
        if port_open "$p"; then
            ok "$name listens on 127.0.0.1:$p"
            return 0
        fi
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.05
        n=$((n - 1))
    done
    srv_err="$(tail -5 "$work/$name.log" | tr '\n' ' ')"
    nok "$name did not listen on 127.0.0.1:$p: $* -> ${srv_err:-no output}"
    return 1
}

# stop_server PID: SIGTERM, up to 2 s to exit, then SIGKILL; status 0 when it exited by
# itself with status 0 (or by the SIGTERM), 1 otherwise. Removes it from bg_pids.
stop_server() {
    local p="$1" n=40 rc q kept=()
    kill -TERM "$p" 2>/dev/null
    while [ "$n" -gt 0 ] && kill -0 "$p" 2>/dev/null; do
        sleep 0.05
        n=$((n - 1))
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        rc=1
    else
        wait "$p" 2>/dev/null
        rc=$?
        # 143 = killed by the TERM itself (a program without a handler); also a clean stop
        [ "$rc" -eq 143 ] && rc=0
    fi
    for q in "${bg_pids[@]}"; do
        [ "$q" = "$p" ] || kept+=("$q")
    done
    bg_pids=("${kept[@]}")
    return "$rc"
}

# sanitizer_check LOG...: a failed check for every log with a sanitizer report.
sanitizer_check() {
    local f
    for f in "$@"; do
        if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$f" 2>/dev/null; then
            nok "sanitizer report in $f:"
            grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$f" | head -40
        fi
    done
}
