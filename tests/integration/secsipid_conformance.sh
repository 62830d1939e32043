#!/usr/bin/env bash
# secsipid_conformance.sh - the libsecsipid drop-in (src/compat) against the Go library.
#
# secsipid_conformance.c is compiled once against Debian's /usr/include/secsipid.h and
# linked with -lsecsipid, then run twice over the same ~100 calls: on the Go library
# (libsecsipid1), and on ours (LD_LIBRARY_PATH=$BUILDDIR/src/compat/.libs). Every return
# code must be the same, except the calls in DIFF below, where ours must give the value
# README.md ("libsecsipid drop-in") documents. Then each library checks what the other
# signed, a few calls that crash the Go library run alone, and ours runs the fork and
# many-threads tests. The certificates come from the test STI PKI served over HTTPS
# (serve_test_pki) and over plain HTTP (python3 -m http.server), both on 127.0.0.1.
#
# Skips (77) when libsecsipid-dev, python3 or a C compiler is missing, or when the
# drop-in was not built (--disable-libsecsipid).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
OURS="$BUILDDIR/src/compat/.libs"
CC="${CC:-cc}"

SKIP_HINT="apt-get install libsecsipid-dev" skip_without python3 openssl "$CC"
if [ ! -r /usr/include/secsipid.h ]; then
    echo "SKIP: /usr/include/secsipid.h missing (apt-get install libsecsipid-dev)"
    exit 77
fi
if [ ! -e "$OURS/libsecsipid.so.1" ]; then
    echo "SKIP: $OURS/libsecsipid.so.1 not built (--disable-libsecsipid?)"
    exit 77
fi
make_workdir secsipid
serve_test_pki
# The Go library's HTTP client and ours both trust SSL_CERT_FILE.
export SSL_CERT_FILE="$work/tls/tls-ca.pem"
export BASE="$base"

# A plain-HTTP server for the http:// x5u case (the compat fetch policy allows it).
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/pki" 0 >"$work/http.out" 2>&1 &
bg_pids+=($!)
waitfor 10 grep -q 'port [0-9]' "$work/http.out" || { nok "http.server did not start"; finish; }
httpbase="http://127.0.0.1:$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.out" | head -1)"

# Sanitizer builds: the program must carry the same runtime as our library.
san=()
if ldd "$OURS/libsecsipid.so.1" | grep -q libasan; then
    san=(-fsanitize=address,undefined)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0:verify_asan_link_order=0"
fi
prog="$work/conformance"
if ! "$CC" -std=gnu11 -O1 -g "${san[@]}" -I/usr/include -o "$prog" \
    "$SRCDIR/tests/integration/secsipid_conformance.c" -lsecsipid -ldl -pthread 2>"$work/cc.err"; then
    nok "compiling secsipid_conformance.c: $(head -5 "$work/cc.err")"
    finish
fi
ok "compiled once against /usr/include/secsipid.h"

go_lib() { "$prog" "$@"; }
# In a sanitizer build, runs on ours look for leaks too (the Go library's runs do not: its
# runtime's memory is not ours to judge). A leak report makes the program exit non-zero,
# which fails the check of that run.
our_lib() {
    if [ ${#san[@]} -gt 0 ]; then
        ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1" LD_LIBRARY_PATH="$OURS" "$prog" "$@"
    else
        LD_LIBRARY_PATH="$OURS" "$prog" "$@"
    fi
}

# Prove which library each run loads.
if LD_LIBRARY_PATH="$OURS" ldd "$prog" | grep -q "$OURS/libsecsipid.so.1"; then
    ok "LD_LIBRARY_PATH run loads ours: $OURS/libsecsipid.so.1"
else
    nok "LD_LIBRARY_PATH run does not load ours: $(LD_LIBRARY_PATH="$OURS" ldd "$prog" | grep secsipid)"
fi
ldd "$prog" | grep -q "$OURS" && nok "plain run loads ours, not Go's"

mkdir -p "$work/go" "$work/sw"
for d in go sw; do openssl pkey -in "$work/pki/sp.key" -pubout -out "$work/$d/sp.pub" 2>/dev/null; done
# shellcheck disable=SC2154  # base is set by serve_test_pki
go_lib calls "$work/pki" "$base" "$httpbase" "$work/go" >"$work/go.txt" 2>"$work/go.err"
echo "# Go run: exit $?, $(wc -l <"$work/go.txt") results"
our_lib calls "$work/pki" "$base" "$httpbase" "$work/sw" >"$work/sw.txt" 2>"$work/sw.err"
rc=$?
[ "$rc" -eq 0 ] && ok "our run: exit 0, $(wc -l <"$work/sw.txt") results" ||
    nok "our run: exit $rc: $(tail -3 "$work/sw.err")"

# Where the Go library is wrong, ours gives this (README.md, "libsecsipid drop-in").
declare -A DIFF=(
    [checkfull_future_3600]=-232              # Go accepts any future iat; ours allows FutureSkew (60 s)
    [checkfull_url_refused_expired_token]=-232 # ours checks the token before fetching
    [optV_x5u]=0                              # Go's OptSetV forgets x5u
    [optV_CertVerify_not_a_number]=-1         # Go sets 0 for "abc"
    [checkpk_p384]=-114                       # Go verifies with a P-384 key and says -251
)

same=0
differ=0
while read -r name gorc; do
    swrc="$(awk -v n="$name" '$1 == n { print $2; exit }' "$work/sw.txt")"
    if [ -z "$swrc" ]; then
        nok "$name: Go $gorc, ours missing"
    elif [ -n "${DIFF[$name]+x}" ]; then
        differ=$((differ + 1))
        if [ "$swrc" = "${DIFF[$name]}" ]; then
            ok "$name: ours $swrc as documented (Go $gorc)"
        else
            nok "$name: ours $swrc, documented ${DIFF[$name]} (Go $gorc)"
        fi
    elif [ "$swrc" = "$gorc" ]; then
        same=$((same + 1))
        ok "$name: both $gorc"
    else
        nok "$name: Go $gorc, ours $swrc"
    fi
done <"$work/go.txt"
# The calls only ours has (1.3 functions absent from Debian's 1.2.0 Go library).
declare -A ONLY_OURS=([signjsonpk_ok]=394 [optGetN_CacheExpires]=1234 [optGetN_Unknown]=-1)
for name in "${!ONLY_OURS[@]}"; do
    swrc="$(awk -v n="$name" '$1 == n { print $2; exit }' "$work/sw.txt")"
    if [ "$swrc" = "${ONLY_OURS[$name]}" ]; then ok "$name (1.3): $swrc"; else nok "$name (1.3): '$swrc', want ${ONLY_OURS[$name]}"; fi
done
echo "# conformance: $same identical, $differ documented differences"

# Each checks what the other signed.
our_lib xcheck "$work/pki" "$work/go" >"$work/x-sw.txt" 2>&1
go_lib xcheck "$work/pki" "$work/sw" >"$work/x-go.txt" 2>&1
for f in x-sw x-go; do
    n="$(wc -l <"$work/$f.txt")"
    if [ "$n" -ge 8 ] && ! awk '$2 != 0 { exit 1 }' "$work/$f.txt"; then
        nok "$f: $(grep -v ' 0$' "$work/$f.txt" | head -3)"
    elif [ "$n" -ge 8 ]; then
        ok "$f: all $n cross checks pass ($([ $f = x-sw ] && echo "ours verifies Go's" || echo "Go verifies ours"))"
    else
        nok "$f: only $n results: $(head -3 "$work/$f.txt")"
    fi
done

# Calls that take the Go library (and its host) down: ours answers -1.
for c in optV_no_equals check_negative_length checkpk_negative_key_length; do
    go_lib one "$c" >"$work/one-go.txt" 2>&1
    gorc=$?
    out="$(our_lib one "$c" 2>&1)"
    if [ "$out" = "$c -1" ]; then
        ok "$c: ours -1 (Go: exit $gorc$(grep -q '^panic' "$work/one-go.txt" && echo ', a Go panic'))"
    else
        nok "$c: ours '$out'"
    fi
done

# Fork and threads, on ours (and on Go's for the record: not asserted).
out="$(our_lib fork "$work/pki" 2>&1)"
[ "$out" = "fork ok" ] && ok "fork: both processes sign and verify (ours)" || nok "fork: $out"
out="$(our_lib threads "$work/pki" 16 2>&1)"
case "$out" in "threads ok"*) ok "$out (ours)" ;; *) nok "threads: $out" ;; esac
out="$(BASE="$base" timeout 5 "$prog" fork "$work/pki" 2>&1 | tail -1)"
echo "# Go library after fork: ${out:-no answer (hang or crash)}"

finish
