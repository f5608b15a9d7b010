#!/usr/bin/env bash
# Checks that every C++ source is formatted by clang-format (.clang-format); lists the files
# that are not and exits non-zero. `clang-format -i FILE` fixes one.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "check_format: clang-format is missing (scripts/setup.sh installs it)" >&2
    exit 1
fi
mapfile -t files < <(git ls-files -- 'src/*.cpp' 'src/*.h' 'src/*.inl' 'apps/*.cpp' 'apps/*.h' \
    'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'bench/*.h')
# One run over all files; each violation is reported as "FILE:LINE:COL: error: ...".
if ! report=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
    echo "check_format: not clang-formatted:" >&2
    grep -oE '^[^:]+:[0-9]+' <<<"$report" | cut -d: -f1 | sort -u >&2
    exit 1
fi
echo "check_format: ${#files[@]} files formatted"
