#!/usr/bin/env bash
# Release build of cria into build/ (the executable is build/cria).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${CRIA_CMAKE_ARGS:-} >/dev/null
cmake --build build --parallel "$(nproc)"
