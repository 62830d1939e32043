# shellcheck shell=bash disable=SC2154  # top and bench are set by the script that sources this
# tools/bench/common.sh - sourced by tools/bench/crypto, verify and proxy (bash; not run
# on its own). Needs $top (the source tree) and $bench (the calling script's name, for
# messages) to be set first.

# bench_builddir: sets BUILDDIR to the configured build tree as an absolute path, so that
# it stays right after a script changes directory. BUILDDIR may be given relative to the
# current directory (BUILDDIR=build tools/bench/proxy); unset, it is the source tree when
# that is configured in place, else build/.
bench_builddir() {
    if [ -z "${BUILDDIR:-}" ]; then
        if [ -f "$top/Makefile" ]; then
            BUILDDIR="$top"
        else
            BUILDDIR="$top/build"
        fi
    fi
    if [ ! -f "$BUILDDIR/Makefile" ]; then
        echo "$bench: $BUILDDIR is not a configured build tree; run ./configure (or" >&2
        echo "        tools/quickstart.sh) first, or set BUILDDIR to one" >&2
        exit 1
    fi
    BUILDDIR="$(cd "$BUILDDIR" && pwd)"
}

# bench_make TARGET...: brings the programs a benchmark runs up to date in BUILDDIR (they
# are built on demand: make bench; make clean or make distclean removes them). A no-op when
# they are current, so the figures are always those of the source as it is.
bench_make() {
    make -s -C "$BUILDDIR" "$@" >&2 || {
        echo "$bench: could not build $* in $BUILDDIR" >&2
        exit 1
    }
}

# median FORMAT: the median of the numbers on stdin (separated by blanks or newlines; words
# such as n/a are left out), printed with printf FORMAT; with an even count, the mean of
# the two middle ones; n/a when there is no number (not a failure under set -o pipefail).
median() {
    tr ' ' '\n' | { grep -E '^-?[0-9]' || true; } | sort -g | awk -v f="$1" '{a[NR] = $1}
        END {
            if (NR == 0) { print "n/a"; exit }
            m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            printf f "\n", m
        }'
}

# ratio A B: A/B with two decimals, n/a when B is not a positive number.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f\n", a / b; else print "n/a" }'
}

# value KEY TEXT: the value of the "KEY: value" line in TEXT.
value() {
    awk -F': *' -v k="$1" '$1 == k {print $2; exit}' <<<"$2"
}
