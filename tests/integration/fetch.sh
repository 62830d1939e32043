#!/usr/bin/env bash
# fetch.sh - runs tests/integration/fetch_test (the verifier fetching x5u and CRLs over
# real HTTPS) against tests/integration/https_server.py serving a fresh test PKI.
#
# The PKI's CRL distribution point must name the server, whose port is only known once
# it listens, and the server needs a TLS certificate before it can listen. So: a first
# make-test-pki.sh run gives the TLS files, the server starts on them with --port 0
# serving an empty directory, and a second run fills that directory with
# CRL_BASE=https://127.0.0.1:PORT (the server reads files at request time). The first
# run's TLS CA replaces the second's, so PKI_DIR/tls-ca.pem is the one the server uses.
#
# Exit: fetch_test's status; 77 (automake's "skip") when python3 or openssl is missing
# or fetch_test was not built (no cmocka). The server is stopped and the temporary
# directory removed on every exit.
#
# Environment: BUILDDIR (where fetch_test was built), SRCDIR (the source tree); both
# default to two levels up from this script.
set -u

here="$(cd "$(dirname "$0")/../.." && pwd)"
SRCDIR="${SRCDIR:-$here}"
BUILDDIR="${BUILDDIR:-$here}"
TEST="$BUILDDIR/tests/integration/fetch_test"
MKPKI="$SRCDIR/tools/pki/make-test-pki.sh"
SERVER="$SRCDIR/tests/integration/https_server.py"

for tool in python3 openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed"
        exit 77
    fi
done
if [ ! -x "$TEST" ]; then
    echo "SKIP: $TEST is not built (cmocka missing?)"
    exit 77
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sw-fetch.XXXXXX")" || exit 1
server_pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. TLS files for the server (the rest of this PKI is not used).
if ! "$MKPKI" "$work/tls" >"$work/pki-tls.log" 2>&1; then
    echo "FAIL: make-test-pki.sh (TLS files) failed:"
    cat "$work/pki-tls.log"
    exit 1
fi

# 2. The server, on a free port, serving the (still empty) PKI directory.
mkdir "$work/pki"
python3 "$SERVER" --dir "$work/pki" --cert "$work/tls/tls-server.pem" \
    --key "$work/tls/tls-server.key" --port 0 --log "$work/server.log" \
    >"$work/server.out" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 100); do
    port="$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$work/server.out")"
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "FAIL: https_server.py did not start:"
    cat "$work/server.out"
    exit 1
fi
base="https://127.0.0.1:$port"

# 3. The PKI whose CRL distribution point is this server.
if ! CRL_BASE="$base" "$MKPKI" "$work/pki" >"$work/pki.log" 2>&1; then
    echo "FAIL: make-test-pki.sh failed:"
    cat "$work/pki.log"
    exit 1
fi
cp "$work/tls/tls-ca.pem" "$work/tls/tls-server.pem" "$work/tls/tls-server.key" "$work/pki/"

echo "fetch.sh: server $base (pid $server_pid), PKI in $work/pki"
status=0
PKI_DIR="$work/pki" BASE_URL="$base" "$TEST" || status=$?
if [ "$status" -ne 0 ]; then
    echo "fetch.sh: fetch_test failed (exit $status); last server log lines:"
    tail -n 40 "$work/server.log"
fi
exit "$status"
