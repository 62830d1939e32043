#!/bin/sh
# fuzz.sh - builds and runs the libFuzzer target for the Identity header parser.
#
#   tools/fuzz.sh [SECONDS]        (default 60)
#
# Compiles src/lib/*.c directly with the fuzzer (no autotools needed) into build-fuzz/,
# runs it over a copy of tests/fuzz/corpus/identity/ (the committed seeds stay as they
# are; new inputs land in build-fuzz/corpus/), and exits non-zero when it finds a crash,
# a leak or undefined behaviour. The crashing input is left in build-fuzz/artifacts/.
# Needs clang with libFuzzer (Debian 12: clang-14, libclang-rt-14-dev), libssl-dev and
# libjansson-dev. CC=clang-15 tools/fuzz.sh picks another compiler.
set -eu

seconds=${1:-60}
case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-fuzz
cc=${CC:-clang}
mkdir -p "$build/corpus" "$build/artifacts"

# The library needs jansson and libcrypto; libcurl and libssl only once it fetches x5u.
pkgs="jansson libcrypto"
if grep -qE '#include [<"]curl/' "$top"/src/lib/*.[ch]; then pkgs="$pkgs libcurl"; fi
if grep -qE '#include [<"]openssl/ssl.h' "$top"/src/lib/*.[ch]; then pkgs="$pkgs libssl"; fi

# shellcheck disable=SC2046,SC2086  # the package list and pkg-config output are meant to be split
"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top/src/lib" \
    "$top"/src/lib/*.c "$top/tests/fuzz/fuzz_identity.c" \
    $(pkg-config --cflags --libs $pkgs) -lpthread \
    -o "$build/fuzz_identity"

cp "$top"/tests/fuzz/corpus/identity/* "$build/corpus/"

echo "fuzz.sh: running fuzz_identity for $seconds s" >&2
status=0
(cd "$build" && ./fuzz_identity -max_len=10000 -max_total_time="$seconds" \
    -artifact_prefix="$build/artifacts/" -print_final_stats=1 corpus) || status=$?
if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: the fuzzer failed (exit $status); see $build/artifacts/" >&2
    exit 1
fi
echo "fuzz.sh: no crash in $seconds s" >&2
