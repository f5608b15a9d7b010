#!/usr/bin/env bash
# Builds cria and runs every test: the formatting check; the Release build and all its tests
# through ctest (unit, golden, end-to-end); the same tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the threaded ones under ThreadSanitizer (scripts/sanitize.sh);
# then each fuzz target for CRIA_FUZZ_SECONDS (default 20) from its seed corpus (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check_format.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900 -j "$(nproc)")
scripts/sanitize.sh
scripts/fuzz.sh "${CRIA_FUZZ_SECONDS:-20}"
