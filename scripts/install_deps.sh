#!/usr/bin/env bash
# Installs everything gorae needs to build and test, from Debian packages (and PyPI for the
# optional Python reference tools). Safe to run again: installed packages are skipped.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config
  libopenblas-openmp-dev     # BLAS sgemm for the CPU kernels, sharing gorae's OpenMP threads
  nlohmann-json3-dev         # config.json, safetensors headers, CLI output
  libpcre2-dev               # tokenizer pre-tokenizer regexes
  libcpp-httplib-dev         # the OpenAI-compatible server
  libjs-marked node-dompurify libjs-highlight.js libjs-katex  # the chat page's libraries (compiled in)
  libcli11-dev libfmt-dev
  libopenmpi-dev openmpi-bin # data-parallel training under mpirun (src/dist/); iproute2 for the namespace hosts test
  iproute2
  libgtest-dev libgmock-dev libbenchmark-dev
  python3
)

missing=()
for p in "${BUILD_PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install_deps] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  echo "[install_deps] all Debian build packages present"
fi

# The server's tests drive `gorae serve` with the official OpenAI client and the chat page with
# headless Chromium (tests/server/). They skip (ctest "Skipped") when these are missing.
if ! python3 -c "import openai, prometheus_client, ollama" >/dev/null 2>&1; then
  echo "[install_deps] installing the openai, prometheus-client and ollama Python packages (server tests)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip
  fi
  # Pinned: the versions the server tests pass with (a fresh machine would otherwise get whatever
  # pip resolves that day).
  PY_TEST_PKGS=(openai==3.57.0 pydantic==2.13.4 prometheus-client==0.26.0 ollama==0.6.3 httpx==0.29.0)
  python3 -m pip install -q "${PY_TEST_PKGS[@]}" || python3 -m pip install -q --break-system-packages "${PY_TEST_PKGS[@]}"
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "[install_deps] installing chromium (server chat page test)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

# Optional (--py-tools): the PyTorch / Hugging Face reference tools in tools/ (not needed to build or test).
if [ "${1:-}" = "--py-tools" ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch python3-numpy
  python3 -m pip install -q tokenizers==0.23.3 transformers==5.24.0 jinja2==3.1.6
fi
