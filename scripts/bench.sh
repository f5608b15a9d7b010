#!/usr/bin/env bash
# Generation and prompt-processing benchmark on random-weight models with the shape of Llama 3.2
# 1B in Q4_K_M, Q8_0 and Q4_0. The models are made once into a cache directory (about 3 GB in
# all) and reused. Usage: scripts/bench.sh [THREADS] (default 2); the environment may set
# CRIA_BENCH_CACHE (default ~/.cache/cria-bench), CRIA_BIN (default build/cria), CRIA_BENCH_ARGS
# (extra arguments for cria bench, e.g. "-r 3").
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
cria=${CRIA_BIN:-build/cria}
cache=${CRIA_BENCH_CACHE:-$HOME/.cache/cria-bench}
if [[ ! -x "$cria" ]]; then
    echo "bench: $cria not found; run scripts/build.sh first" >&2
    exit 1
fi
mkdir -p "$cache"
for type in Q4_K_M Q8_0 Q4_0; do
    model="$cache/llama3.2-1b-random-$type.gguf"
    if [[ ! -f "$model" ]]; then
        echo "bench: making $model"
        "$cria" make-model --shape llama3.2-1b --type "$type" --output "$model"
    fi
done
for type in Q4_K_M Q8_0 Q4_0; do
    echo "== $type"
    # shellcheck disable=SC2086
    "$cria" bench --model "$cache/llama3.2-1b-random-$type.gguf" -p 512 -n 128 -t "$threads" \
        ${CRIA_BENCH_ARGS:-}
done
