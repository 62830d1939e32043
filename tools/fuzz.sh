#!/bin/sh
# fuzz.sh - builds and runs the libFuzzer targets: fuzz_identity (the Identity header
# parser and verifier) and fuzz_tnauth (the TNAuthList reader and the certificate loader,
# what an x5u host sends us).
#
#   tools/fuzz.sh [SECONDS]        (default 60, for each target)
#
# Compiles src/lib/*.c directly with each fuzzer (no autotools needed) into build-fuzz/,
# runs it over a copy of its seeds tests/fuzz/corpus/NAME/ (the committed seeds stay as
# they are; new inputs land in build-fuzz/corpus/NAME/), and exits non-zero when a target
# finds a crash, a leak or undefined behaviour. The crashing input is left in
# build-fuzz/artifacts/. Both targets run even when the first one fails.
# Needs clang with libFuzzer (Debian 12: clang-14, libclang-rt-14-dev), libssl-dev,
# libjansson-dev and libcurl4-openssl-dev. CC=clang-15 tools/fuzz.sh picks another compiler.
# fuzz_sip (the SIP message layer: framing, parsing, header readers, splicing) is built
# from src/sip/*.c alone and needs libosip2-dev (-losipparser2); fuzz_stir (stir_verify()
# on whole SIP requests: several Identity headers, div, compact form, hostile numbers)
# from the library and src/sip's readers; fuzz_http (the REST API's handlers) from those
# and src/http/api.c, pub.c. fuzz_tap (the TAP's packet decoder: link types, IP, fragments,
# TCP reassembly, and HEP packets; seeds made by tests/fuzz/mkcorpus_tap.py) from
# src/tap/decode.c, hep.c, packet.c and src/sip's framing (zlib1g-dev: -lz). fuzz_pcapng
# (the TAP's capture-file reader: its pcapng parser, gzip detection, libpcap for classic
# pcap) from src/tap/source.c and packet.c, and needs libpcap-dev and zlib1g-dev.
set -eu

seconds=${1:-60}
case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-fuzz
cc=${CC:-clang}
mkdir -p "$build/artifacts"

# The library needs jansson and libcrypto; libcurl and libssl since it fetches x5u (the
# verifier's fetch thread also needs -pthread).
pkgs="jansson libcrypto"
if grep -qE '#include [<"]curl/' "$top"/src/lib/*.[ch]; then pkgs="$pkgs libcurl"; fi
if grep -qE '#include [<"]openssl/ssl.h' "$top"/src/lib/*.[ch]; then pkgs="$pkgs libssl"; fi
# shellcheck disable=SC2086  # the package list is meant to be split
libs=$(pkg-config --cflags --libs $pkgs)

# build NAME: tests/fuzz/NAME.c with the whole library into build-fuzz/NAME.
build() {
    echo "fuzz.sh: building $1" >&2
    # shellcheck disable=SC2086  # pkg-config output is meant to be split
    "$cc" -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$top/src/lib" \
        "$top"/src/lib/*.c "$top/tests/fuzz/$1.c" \
        $libs -pthread \
        -o "$build/$1"
}

# run NAME SEEDS MAX_LEN: fuzzes for $seconds s; 0 when nothing was found.
run() {
    mkdir -p "$build/corpus/$2"
    cp "$top/tests/fuzz/corpus/$2"/* "$build/corpus/$2/"
    echo "fuzz.sh: running $1 for $seconds s" >&2
    (cd "$build" && "./$1" -max_len="$3" -max_total_time="$seconds" \
        -artifact_prefix="$build/artifacts/$1-" -print_final_stats=1 "corpus/$2")
}

build fuzz_identity
build fuzz_tnauth
echo "fuzz.sh: building fuzz_sip" >&2
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    "$top"/src/sip/sipmsg.c "$top"/src/sip/splice.c "$top"/src/sip/framing.c \
    "$top/tests/fuzz/fuzz_sip.c" -losipparser2 -o "$build/fuzz_sip"

echo "fuzz.sh: building fuzz_proxy" >&2
# shellcheck disable=SC2086  # pkg-config output is meant to be split
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top/src/lib" "$top"/src/lib/*.c "$top"/src/sip/*.c "$top"/src/core/*.c \
    "$top"/filters/registry.c "$top"/filters/sign.c "$top"/filters/strip.c \
    "$top"/filters/verify.c "$top"/filters/verstat.c "$top"/filters/audit.c \
    "$top/src/daemon/conffile.c" "$top/src/proxy/proxy.c" \
    "$top/tests/fuzz/fuzz_proxy.c" $libs $(pkg-config --cflags --libs libconfig libcares) \
    -losipparser2 -lresolv -pthread -o "$build/fuzz_proxy"

# fuzz_tap: the TAP's packet decoder (links, IP, fragments, UDP, TCP reassembly, framing);
# framing.c needs sipmsg.c's sip_nul_quoted(), hence libosip2
echo "fuzz.sh: building fuzz_tap" >&2
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    "$top"/src/tap/decode.c "$top"/src/tap/hep.c "$top"/src/tap/packet.c "$top"/src/core/addr.c \
    "$top"/src/sip/framing.c "$top"/src/sip/sipmsg.c "$top/tests/fuzz/fuzz_tap.c" \
    -losipparser2 -lz -o "$build/fuzz_tap"

# fuzz_stir: stir_verify() on whole requests, the library and src/sip's readers under it
echo "fuzz.sh: building fuzz_stir" >&2
# shellcheck disable=SC2086  # pkg-config output is meant to be split
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top/src/lib" "$top"/src/lib/*.c "$top"/src/sip/sipmsg.c "$top"/src/sip/fields.c \
    "$top"/src/sip/stir.c "$top/tests/fuzz/fuzz_stir.c" $libs -losipparser2 -pthread \
    -o "$build/fuzz_stir"

# fuzz_http: the REST API's handlers (src/http/api.c, pub.c) on bodies and /v1/pub/ paths
echo "fuzz.sh: building fuzz_http" >&2
# shellcheck disable=SC2086  # pkg-config output is meant to be split
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top/src/lib" "$top"/src/lib/*.c "$top"/src/sip/sipmsg.c "$top"/src/sip/fields.c \
    "$top"/src/sip/stir.c "$top"/src/http/api.c "$top"/src/http/pub.c \
    "$top/tests/fuzz/fuzz_http.c" $libs -losipparser2 -pthread -o "$build/fuzz_http"

# fuzz_pcapng: the TAP's capture-file reader (src/tap/source.c), each input a whole file
echo "fuzz.sh: building fuzz_pcapng" >&2
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    "$top"/src/tap/source.c "$top"/src/tap/packet.c "$top/tests/fuzz/fuzz_pcapng.c" \
    -lpcap -lz -o "$build/fuzz_pcapng"

failed=
run fuzz_http http 16384 || failed="$failed fuzz_http"
run fuzz_identity identity 10000 || failed="$failed fuzz_identity"
run fuzz_stir stir 8192 || failed="$failed fuzz_stir"
run fuzz_tnauth tnauth 8192 || failed="$failed fuzz_tnauth"
run fuzz_sip sip 8192 || failed="$failed fuzz_sip"
run fuzz_tap tap 16384 || failed="$failed fuzz_tap"
run fuzz_pcapng pcapng 65536 || failed="$failed fuzz_pcapng"
# fuzz_proxy's seeds are the SIP ones, each behind a first byte that picks source and transport
run_proxy() {
    mkdir -p "$build/corpus/proxy"
    for f in "$top"/tests/fuzz/corpus/sip/*; do
        for b in 0 1 2 128; do
            { printf "\\$(printf '%03o' "$b")"; cat "$f"; } >"$build/corpus/proxy/$b-${f##*/}"
        done
    done
    echo "fuzz.sh: running fuzz_proxy for $seconds s" >&2
    (cd "$build" && ./fuzz_proxy -max_len=8192 -max_total_time="$seconds" \
        -artifact_prefix="$build/artifacts/fuzz_proxy-" -print_final_stats=1 corpus/proxy)
}
run_proxy || failed="$failed fuzz_proxy"
if [ -n "$failed" ]; then
    echo "fuzz.sh: failed:$failed; see $build/artifacts/" >&2
    exit 1
fi
echo "fuzz.sh: no crash in $seconds s per target" >&2
