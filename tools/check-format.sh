#!/usr/bin/env bash
# tools/check-format.sh - fails when a C file does not match .clang-format (STYLE.md:
# "a .clang-format in the repo decides, and CI checks it"). Lists every offender and
# the command that fixes it; changes nothing itself.
#
# Usage: tools/check-format.sh [clang-format binary]   (default: $CLANG_FORMAT or clang-format)
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
cf="${1:-${CLANG_FORMAT:-clang-format}}"
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "check-format: $cf not found (apt-get install clang-format)" >&2
    exit 1
fi

dirs=()
for d in src tests tools filters; do
    [ -d "$d" ] && dirs+=("$d")
done
files=()
if [ ${#dirs[@]} -gt 0 ]; then
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
fi
if [ ${#files[@]} -eq 0 ]; then
    echo "check-format: no C files found"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done

if [ ${#bad[@]} -eq 0 ]; then
    echo "check-format: ${#files[@]} files match .clang-format ($("$cf" --version | sed 's/.*version //'))"
    exit 0
fi
echo "check-format: ${#bad[@]} of ${#files[@]} files do not match .clang-format:"
for f in "${bad[@]}"; do
    n="$("$cf" --dry-run "$f" 2>&1 | grep -c 'warning:' || true)"
    echo "  $f ($n places)"
done
echo "fix with: $cf -i ${bad[*]}"
echo "(see the first differences with: $cf ${bad[0]} | diff -u ${bad[0]} -)"
exit 1
