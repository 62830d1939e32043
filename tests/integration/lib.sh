# lib.sh - what the integration scripts in this directory share, so that each says only
# what it checks. A script sources it with `. "$(dirname "$0")/lib.sh"` and gets: where
# the programs and fixtures are, automake's test protocol (one line a check, a count,
# exit 0 pass / 1 fail / 77 skip), a working directory removed at exit together with the
# background processes the script started, the stirwire-tool wrappers run and expect, and
# the test STI PKI served over HTTPS. Sourcing it only defines functions and sets
# defaults; it starts nothing and never exits.
#
# Environment: STIRWIRE, STIRWIRED, SRCDIR and BUILDDIR as make check sets them
# (AM_TESTS_ENVIRONMENT in Makefile.am); by hand, unset ones default to an in-tree build
# around this file. KEEP=1 keeps the working directory, for a look at the logs.
# shellcheck shell=bash

# --- where things are -----------------------------------------------------------------------
# The source tree is two levels above this file; without BUILDDIR the build is in-tree.
SRCDIR="${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BUILDDIR="${BUILDDIR:-$SRCDIR}"
STIRWIRE="${STIRWIRE:-$BUILDDIR/src/cli/stirwire}"
STIRWIRED="${STIRWIRED:-$BUILDDIR/src/daemon/stirwired}"
# Exported as make check does, for the Python helpers the scripts run (proxy_ipv6.sh's).
export SRCDIR BUILDDIR STIRWIRE STIRWIRED
MKPKI="$SRCDIR/tools/pki/make-test-pki.sh"
SERVER="$SRCDIR/tests/integration/https_server.py"

# skip_without TOOL...: exits 77 (skip) at the first TOOL not on PATH. SKIP_HINT, when
# set, is added to the message (where to get the tool).
skip_without() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "SKIP: $tool is not installed${SKIP_HINT:+ ($SKIP_HINT)}"
            exit 77
        fi
    done
}

# need_built VAR...: exits 1 when the program that the variable VAR names is not there.
# A fail, not a skip: make check builds these programs, so their absence is a bug.
need_built() {
    local var
    for var in "$@"; do
        if [ ! -x "${!var}" ]; then
            echo "FAIL: ${!var} not found (set $var)"
            exit 1
        fi
    done
}

# --- checks and the summary -----------------------------------------------------------------
pass=0
fail=0
# ok WHAT / nok WHAT: one passed / failed check, one line each.
ok() {
    pass=$((pass + 1))
    echo "ok   - $*"
}
nok() {
    fail=$((fail + 1))
    echo "FAIL - $*"
}
# finish: prints the count and exits 0 when no check failed, 1 otherwise. A script with
# more to say at the end defines before_finish, which runs first and may still add checks
# (proxy_sipp.sh: a sanitizer report in the daemon's log is a failure).
finish() {
    if declare -F before_finish >/dev/null; then
        before_finish
    fi
    echo "# $pass passed, $fail failed"
    [ "$fail" -eq 0 ] && exit 0
    exit 1
}

# waitfor SECONDS CMD...: polls CMD every 50 ms; status 0 once it succeeds, 1 when the time
# is up (for daemons and peers that take a moment: a log line, a port, an exit).
waitfor() {
    local n=$(($1 * 20))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.05
        n=$((n - 1))
    done
    return 1
}

# free_ports N: N port numbers, all different, each free for both UDP and TCP on every
# address at the moment of asking (the kernel picks them; a daemon binds them next).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held, out = [], []
while len(out) < int(sys.argv[1]):
    t = socket.socket()
    t.bind(("0.0.0.0", 0))
    p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("0.0.0.0", p))
    except OSError:
        t.close()
        continue
    held += [t, u]
    out.append(p)
print(*out)
PY
}

# --- the working directory and what runs in the background ----------------------------------
work=
bg_pids=() # add the pid of everything started with & ; it is stopped at exit
# make_workdir NAME: creates $work (sw-NAME.XXXXXX in TMPDIR) and enters it. From then on,
# however the script ends, the processes in bg_pids are stopped and $work is removed.
make_workdir() {
    work="$(mktemp -d "${TMPDIR:-/tmp}/sw-$1.XXXXXX")" || exit 1
    trap cleanup EXIT
    # A signal becomes an exit, so that the EXIT trap also runs on ^C or a harness timeout.
    trap 'exit 1' INT TERM HUP
    cd "$work" || exit 1
}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    stop_pids "${bg_pids[@]}"
    if [ "${KEEP:-0}" = 1 ]; then
        echo "# kept $work"
    else
        rm -rf "$work"
    fi
}
# stop_pids PID...: TERM, up to a second for them to go, then KILL; reaps them.
# shellcheck disable=SC2317  # called by cleanup
stop_pids() {
    local p n=20
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null
    # kill -0 succeeds while any of them is alive.
    while [ "$n" -gt 0 ] && kill -0 "$@" 2>/dev/null; do
        sleep 0.05
        n=$((n - 1))
    done
    for p in "$@"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    return 0
}

# --- the stirwire tool ----------------------------------------------------------------------
# run ARGS...: runs the tool; sets rc, out (stdout) and err (stderr), kept in out.txt and
# err.txt in the current directory.
run() {
    "$STIRWIRE" "$@" >out.txt 2>err.txt
    rc=$?
    out="$(cat out.txt)"
    err="$(cat err.txt)"
}
# expect WHAT CODE [PATTERN [stdout|stderr]]: one check of the last run: rc is CODE and the
# stream has PATTERN (an extended regex, default stream stdout). A crash shows as rc >= 128.
expect() {
    local what="$1" code="$2" pat="${3:-}" stream="${4:-stdout}" text
    if [ "$stream" = stderr ]; then text="$err"; else text="$out"; fi
    if [ "$rc" -ne "$code" ]; then
        nok "$what: exit $rc, want $code (stdout: ${out:0:300}) (stderr: ${err:0:300})"
    elif [ -n "$pat" ] && ! printf '%s\n' "$text" | grep -Eq -- "$pat"; then
        nok "$what: exit $rc as wanted, but $stream lacks /$pat/: ${text:0:400}"
    else
        ok "$what: exit $rc${pat:+, $stream has /$pat/}"
    fi
}

# base64url without padding, for reading and tampering with JWT parts.
# b64url_decode TEXT: the decoded bytes on stdout.
b64url_decode() {
    local s
    s="$(printf '%s' "$1" | tr '_-' '/+')"
    case $((${#s} % 4)) in
    2) s="$s==" ;;
    3) s="$s=" ;;
    esac
    printf '%s' "$s" | base64 -d 2>/dev/null
}
# b64url_encode: stdin encoded, on stdout.
b64url_encode() {
    base64 -w0 | tr '/+' '_-' | tr -d '='
}

# --- the HTTPS server and the test STI PKI --------------------------------------------------
server_pid=
port=
base=
# start_https_server DIR TLSDIR [ARG...]: https_server.py (python3) serves DIR with TLSDIR's
# tls-server.pem and tls-server.key on a port the kernel picks, logging requests to
# $work/server.log. Sets server_pid (also in bg_pids), port, and base
# (https://127.0.0.1:PORT). Status 1 when no PORT line came; the reason is in
# $work/server.err. ARGs go to the server (e.g. --slow-ms 5000).
start_https_server() {
    local dir="$1" tls="$2"
    shift 2
    python3 "$SERVER" --dir "$dir" --cert "$tls/tls-server.pem" --key "$tls/tls-server.key" \
        --port 0 --log "$work/server.log" "$@" >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    bg_pids+=("$server_pid")
    # Up to 10 s (the machine may be busy), but no longer than the server lives.
    for _ in $(seq 200); do
        port="$(awk '/^PORT [0-9]+$/ { print $2; exit }' "$work/server.out")"
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$port" ] || return 1
    base="https://127.0.0.1:$port"
}

# stop_https_server: stops the server with SIGTERM and returns its exit status.
stop_https_server() {
    local p rc kept=()
    kill -TERM "$server_pid"
    wait "$server_pid"
    rc=$?
    # Reaped: its pid may be reused, so the exit must not signal it again.
    for p in "${bg_pids[@]}"; do
        [ "$p" = "$server_pid" ] || kept+=("$p")
    done
    bg_pids=("${kept[@]}")
    server_pid=
    return "$rc"
}

# serve_test_pki [ARG...]: a test STI PKI (tools/pki/make-test-pki.sh) in $work/pki, served by
# start_https_server, whose CRL distribution point is that server; sets port and base.
# The STI certificates need the server's port (CRL_BASE) and the server needs TLS files
# before it can listen, so a first PKI in $work/tls gives only the TLS files (its
# CRL_BASE is a dummy), the server starts on the empty $work/pki, and the STI PKI is made
# into it (the server reads files at request time). Use $work/tls/tls-ca.pem to trust
# the server. ARGs go to the server. Any step that fails is a failed check that ends the
# script.
serve_test_pki() {
    if ! CRL_BASE=https://127.0.0.1:1 "$MKPKI" "$work/tls" >"$work/mkpki-tls.out" 2>&1; then
        nok "make-test-pki.sh (TLS files) failed: $(tail -3 "$work/mkpki-tls.out")"
        finish
    fi
    mkdir -p "$work/pki"
    if ! start_https_server "$work/pki" "$work/tls" "$@"; then
        nok "https_server.py did not print PORT: $(cat "$work/server.err")"
        finish
    fi
    if ! CRL_BASE="$base" "$MKPKI" "$work/pki" >"$work/mkpki.out" 2>&1; then
        nok "make-test-pki.sh with CRL_BASE=$base failed: $(tail -3 "$work/mkpki.out")"
        finish
    fi
}
