#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, AddressSanitizer and UndefinedBehaviorSanitizer (in
# build-asan, the build scripts/sanitize.sh tests) and runs each from its seed corpus for the
# given number of seconds (default 20): the GGUF reader, the template engines, JSON Schema to
# grammar, the request handling of /v1/chat/completions and the Modelfile parser.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(gguf chat_template json_schema http_request modelfile)
fi
scripts/sanitize.sh --configure-only
cmake --build build-asan --target "${targets[@]/%/_fuzz}" --parallel "$(nproc)"
for target in "${targets[@]}"; do
    work=$(mktemp -d)
    cp tests/fuzz/corpus/"$target"/* "$work/"
    echo "fuzz: $target for ${seconds} s"
    # Crashes are written to the work directory and make the run fail.
    if ! build-asan/tests/fuzz/"$target"_fuzz -max_total_time="$seconds" -max_len=8192 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" \
        "$work" >"$work/log" 2>&1; then
        tail -n 60 "$work/log"
        echo "fuzz: $target failed; the input is in $work" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$work/log" | tail -n 2
    rm -rf "$work"
done
