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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
TEST="$BUILDDIR/tests/integration/fetch_test"

skip_without python3 openssl
if [ ! -x "$TEST" ]; then
    echo "SKIP: $TEST is not built (cmocka missing?)"
    exit 77
fi
make_workdir fetch

# The two PKIs and the server (serve_test_pki in lib.sh); then the server's TLS files go
# into PKI_DIR, where fetch_test looks for them.
serve_test_pki
cp "$work/tls/tls-ca.pem" "$work/tls/tls-server.pem" "$work/tls/tls-server.key" "$work/pki/"
# The first PKI is a whole STI PKI too, with another root, whose CRL distribution point
# is https://127.0.0.1:1, a port where nothing listens: served as deadcrl-*, it gives a
# certificate whose CRL cannot be fetched (SW_OPT_CRL_UNREACHABLE) and a second root for
# the trust-reset test. Its own inter.crl (listing its revoked.pem) is a CRL file there.
for f in sp-chain.pem revoked-chain.pem root.pem inter.crl; do
    cp "$work/tls/$f" "$work/pki/deadcrl-$f"
done
if ! openssl x509 -in "$work/tls/sp.pem" -noout -ext crlDistributionPoints |
    grep -q 'https://127.0.0.1:1/inter.crl'; then
    echo "fetch.sh: $work/tls/sp.pem does not have the CRL DP https://127.0.0.1:1/inter.crl"
    exit 1
fi

echo "fetch.sh: server $base (pid $server_pid), PKI in $work/pki"
status=0
PKI_DIR="$work/pki" BASE_URL="$base" "$TEST" || status=$?
if [ "$status" -ne 0 ]; then
    echo "fetch.sh: fetch_test failed (exit $status); last server log lines:"
    tail -n 40 "$work/server.log"
fi
exit "$status"
