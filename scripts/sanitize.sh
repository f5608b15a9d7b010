#!/usr/bin/env bash
# The whole test suite again under sanitizers, with assertions on:
#  - build-asan: clang, AddressSanitizer + UndefinedBehaviorSanitizer, -O1 -g, every test
#    (unit, golden, end-to-end: the server the e2e tests start is the sanitized binary);
#  - build-tsan: clang, ThreadSanitizer, the tests of the threaded parts (thread pool, scheduler,
#    embedder, model manager, server generation, the HTTP layer).
# Usage: scripts/sanitize.sh [--configure-only | asan | tsan]  (default: both suites)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
jobs=$(nproc)

# Warnings are errors in the GCC build (CRIA_WERROR); clang's own extra warnings here are not.
configure() {  # DIR SANITIZERS [EXTRA CMAKE ARGS]
    local dir=$1 sanitizers=$2
    shift 2
    CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" "-DCMAKE_C_FLAGS_DEBUG=-O1 -g" \
        -DCRIA_SANITIZE="$sanitizers" "$@" ${CRIA_CMAKE_ARGS:-} -DCRIA_WERROR=OFF >/dev/null
}

configure build-asan address,undefined -DCRIA_FUZZ=ON
[[ $mode == --configure-only ]] && exit 0

if [[ $mode == all || $mode == asan ]]; then
    cmake --build build-asan --parallel "$jobs"
    # Leaks are reported too; every error stops the process with a report.
    (cd build-asan && CRIA_E2E_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure --timeout 1800 -j "$jobs")
fi

if [[ $mode == all || $mode == tsan ]]; then
    configure build-tsan thread
    tsan_tests=(core_test engine_test server_generation_test server_ollama_model_manager_test
        server_http_test server_connection_test)
    cmake --build build-tsan --target "${tsan_tests[@]}" --parallel "$jobs"
    for t in "${tsan_tests[@]}"; do
        bin=$(find build-tsan/tests -name "$t" -type f -perm -u+x | head -n 1)
        echo "tsan: $t"
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$bin" --gtest_brief=1
    done
fi
