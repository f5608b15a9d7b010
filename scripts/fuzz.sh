#!/usr/bin/env bash
# Builds the GGUF reader's fuzz target with clang, libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs it for the given number of seconds (default 60).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCRIA_FUZZ=ON -DCRIA_SANITIZE=address,undefined >/dev/null
cmake --build build-fuzz --target gguf_fuzz gguf_test --parallel "$(nproc)"
# The reader's unit tests, malformed files included, under both sanitizers.
build-fuzz/tests/gguf/gguf_test --gtest_brief=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/gguf/* "$work/"
build-fuzz/tests/fuzz/gguf_fuzz -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work" 2>&1 | tail -n 12
