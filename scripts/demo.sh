#!/usr/bin/env bash
# Installs the dependencies, builds gorae, and runs `gorae demo` on its built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target gorae
./build/src/cli/gorae demo "$@"
