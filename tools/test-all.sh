#!/usr/bin/env bash
# tools/test-all.sh - sets up a Debian 12 machine and runs every test stirwire has.
#
# Stages, in order; the first failure stops the run with a message saying which:
#   deps        tools/deps.sh (apt-get, needs root or sudo, skipped when all present)
#   bootstrap   autoreconf -fi
#   build       out-of-tree build in build/ with --enable-werror, then make check
#   asan        a second build in build-asan/ with --enable-sanitizers, make check (without
#               the interop-only scripts: see asan_skip)
#   format      tools/check-format.sh
#   fuzz        tools/fuzz.sh 8 (every libFuzzer target, 8 s each: eight targets, and CI
#               stays inside 20 minutes with the deb stage)
#   distcheck   make distcheck in build/ (the tarball builds, installs, uninstalls and cleans;
#               its tests are not run again)
#   deb         tests/packaging/deb.sh: the Debian packages build from a clean copy, install,
#               run (stirwired from its unit's ExecStart), and are purged; needs root,
#               skipped with a message otherwise
# A failing make check prints the logs of the tests that failed. Takes a few minutes on
# two cores. Set JOBS to change make's parallelism (default 2).
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
jobs="${JOBS:-2}"
t_all=$SECONDS
stage=""
t_stage=$SECONDS

banner() {
    stage="$1"
    t_stage=$SECONDS
    printf '\n==== %s: %s\n' "$1" "$2"
}
done_stage() {
    printf '==== %s: ok (%ds)\n' "$stage" $((SECONDS - t_stage))
}
die() {
    printf '\n==== FAILED in stage "%s" after %ds: %s\n' "$stage" $((SECONDS - t_stage)) "$*" >&2
    stage="" # reported; the EXIT trap is for failures nobody caught
    exit 1
}
on_exit() { # a failure that die() did not report (set -e, a signal)
    local rc=$?
    if [ $rc -ne 0 ] && [ -n "$stage" ]; then
        printf '\n==== FAILED in stage "%s" (exit %d)\n' "$stage" $rc >&2
    fi
}
trap on_exit EXIT

# Prints the log of every test of build tree $1 whose result is not PASS/SKIP/XFAIL.
show_failed_logs() {
    local trs log
    while IFS= read -r trs; do
        if grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
            log="${trs%.trs}.log"
            printf '\n---- %s\n' "${log#"$top"/}" >&2
            cat "$log" >&2 2>/dev/null || echo "(no log)" >&2
        fi
    done < <(find "$1" -name '*.trs' | sort)
    [ -f "$1/test-suite.log" ] && printf '\n(summary: %s)\n' "${1#"$top"/}/test-suite.log" >&2
    return 0
}

# configure + make + make check in build tree $1 with configure options $2...
build_and_check() {
    local dir="$1"
    shift
    mkdir -p "$dir"
    if ! (cd "$dir" && "$top/configure" -q "$@"); then
        tail -n 30 "$dir/config.log" >&2 2>/dev/null || true
        die "configure $* failed in $dir (end of config.log above)"
    fi
    make -C "$dir" -s -j"$jobs" || die "make failed in $dir"
    if ! make -C "$dir" -s -j"$jobs" check ${CHECK_TESTS:+TESTS="$CHECK_TESTS"}; then
        show_failed_logs "$dir"
        die "make check failed in $dir (logs above)"
    fi
}

banner deps "installing Debian packages (tools/deps.sh)"
"$top/tools/deps.sh" || die "tools/deps.sh could not install the packages"
done_stage

banner bootstrap "autoreconf -fi"
# Out-of-tree builds need a source tree that is not configured in place.
if [ -f "$top/config.status" ]; then
    echo "the source tree is configured in place; running make distclean there first"
    make -C "$top" -s distclean >/dev/null 2>&1 || rm -f "$top/config.status"
fi
autoreconf -fi >/dev/null 2>"$top/autoreconf.log" || {
    cat "$top/autoreconf.log" >&2
    die "autoreconf failed"
}
rm -f "$top/autoreconf.log"
done_stage

banner build "build/ with --enable-werror, make check"
build_and_check "$top/build" --enable-werror
done_stage

banner asan "build-asan/ with --enable-sanitizers (ASan + UBSan), make check"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Every test but the scripts whose subject is a peer's behaviour (secsipidx's, Kamailio's
# dispatcher, promtool, the test PKI maker, sngrep and Chromium for the TAP) or mostly
# waiting (verify_slow.sh's 5 s certificate, next_hops.sh's TTLs and health checks): what
# they run of ours, the others run too (park.sh parks, tap_pcap.sh and tap_live.sh run
# the TAP), and leaving them out keeps CI inside 20 minutes.
asan_skip=" tests/integration/pki_selftest.sh tests/integration/secsipidx_interop.sh \
tests/integration/secsipidx_cli.sh tests/integration/http_secsipidx.sh \
tests/integration/dispatcher.sh tests/integration/metrics.sh \
tests/integration/tap_capture.sh tests/integration/tap_hep.sh \
tests/integration/verify_slow.sh tests/integration/next_hops.sh "
CHECK_TESTS=""
for t in $(make -C "$top/build" -s --no-print-directory print-tests); do
    case "$asan_skip" in *" $t "*) ;; *) CHECK_TESTS="$CHECK_TESTS $t" ;; esac
done
export CHECK_TESTS
build_and_check "$top/build-asan" --enable-sanitizers
unset CHECK_TESTS
unset ASAN_OPTIONS UBSAN_OPTIONS
done_stage

banner format "tools/check-format.sh"
"$top/tools/check-format.sh" || die "C files do not match .clang-format (list above)"
done_stage

banner fuzz "tools/fuzz.sh 8"
if [ -x "$top/tools/fuzz.sh" ] || [ -f "$top/tools/fuzz.sh" ]; then
    bash "$top/tools/fuzz.sh" 8 || die "fuzzing found a problem (output above)"
else
    echo "tools/fuzz.sh does not exist yet; nothing to fuzz"
fi
done_stage

banner distcheck "make distcheck in build/"
# distcheck is chatty even with -s (libtool install lines): keep its output in a log.
# The tarball is built, installed, uninstalled and cleaned as distcheck does, but its
# "make check" builds and runs nothing (check_PROGRAMS and TESTS empty): every test already
# ran twice above, from the same sources (plain and sanitizer builds), and CI has a
# 20-minute budget. What this stage catches is a file missing from the tarball.
if ! make -C "$top/build" -s -j"$jobs" distcheck TESTS= check_PROGRAMS= \
    >"$top/build/distcheck.out" 2>&1; then
    tail -n 60 "$top/build/distcheck.out" >&2
    for d in "$top"/build/stirwire-*/_build/sub; do
        [ -d "$d" ] && show_failed_logs "$d"
    done
    die "make distcheck failed (end of build/distcheck.out above)"
fi
grep -A1 'archives ready for distribution' "$top/build/distcheck.out" | tail -n 1 |
    sed 's/^/tarball: build\//' || true
done_stage

banner deb "tests/packaging/deb.sh (dpkg-buildpackage, install, run, purge)"
# The tests already ran: the package build skips them (DEB_BUILD_OPTIONS=nocheck).
rc=0
JOBS="$jobs" bash "$top/tests/packaging/deb.sh" || rc=$?
if [ $rc -eq 77 ]; then
    echo "deb: skipped (not root; CI runs it as root)"
elif [ $rc -ne 0 ]; then
    die "the Debian packages failed (FAIL lines above)"
fi
done_stage

stage=""
printf '\nALL TESTS PASSED (%ds)\n' $((SECONDS - t_all))
