#!/usr/bin/env bash
# Builds cria and runs every test: the formatting check, the GGUF reader under sanitizers with a
# minute of fuzzing, then the unit, golden and end-to-end server tests through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check_format.sh
scripts/build.sh
scripts/fuzz.sh "${CRIA_FUZZ_SECONDS:-60}"
cd build && ctest --output-on-failure --timeout 900 -j "$(nproc)"
