#!/usr/bin/env bash
# Installs what cria needs to build and test on Debian 12: compilers and libraries from Debian's
# packages (and Chromium, in which the chat page is tested, and tmux, the terminal in which
# `cria run` is), the chat page's npm packages (web/,
# bundled into the binary at build time) and the JavaScript test clients from npm. Safe to run
# again; asks nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    build-essential cmake ninja-build pkg-config git clang clang-format libclang-rt-14-dev
    nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libutf8proc-dev libssl-dev
    libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev libedit-dev chromium tmux
)
# Node.js may come from elsewhere than Debian (its npm then conflicts with Debian's): install the
# Debian packages only when the commands are missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The chat page's packages (marked, DOMPurify, esbuild), which the build bundles, and the
# end-to-end test clients (the official openai and ollama npm packages, playwright-core).
for dir in web tests/e2e; do
    if [[ -f $dir/package-lock.json ]]; then
        if [[ ! -d $dir/node_modules ]] || [[ $dir/package-lock.json -nt $dir/node_modules ]]; then
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        fi
    fi
done
echo "setup: done"
