#!/usr/bin/env bash
# Embedding benchmark: embeddings per second for batches of 1, 16 and 256 random inputs of 64
# tokens on random-weight BERT encoders (bert-large: 335M parameters, F16; bert-1b: 1.2B, Q8_0),
# made once into a cache directory (about 2 GB) and reused. Usage: scripts/bench_embed.sh
# [THREADS] (default 2); CRIA_BENCH_CACHE (default ~/.cache/cria-bench) and CRIA_BIN (default
# build/cria) as for scripts/bench.sh.
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
for entry in bert-large:F16 bert-1b:Q8_0; do
    shape=${entry%%:*}
    type=${entry##*:}
    model="$cache/$shape-random-$type.gguf"
    if [[ ! -f "$model" ]]; then
        echo "bench: making $model"
        "$cria" make-model --shape "$shape" --type "$type" --output "$model"
    fi
    echo "== $shape $type"
    "$cria" embed --model "$model" -t "$threads" --bench 1 --bench 16 --bench 256 \
        --bench-tokens 64
done
