#!/usr/bin/env bash
# Builds llama.cpp (the copy vendored in PyPI's llama-cpp-python source package) for CPU, as the
# peer gorae's GGUF path is compared with (tools/llama_parity.py, tools/gguf_bench.py).
#
#   tools/build_llama_cpp.sh [--src DIR] [--build DIR] [--jobs N] [--no-python]
#
# 1. pip download --no-deps --no-binary :all: llama-cpp-python   (the sdist: bindings + llama.cpp)
# 2. cmake Release, CPU only, GGML_NATIVE=ON, shared libs, no curl; builds llama-bench, llama-completion, llama-server,
#    llama-simple, llama-tokenize and libllama.so into --build (default /work/llama.cpp-build).
# 3. pip install of the same sdist with LLAMA_BUILD=OFF (nothing compiled twice): the Python
#    bindings load the libllama.so built in step 2 through LLAMA_CPP_LIB_PATH=BUILD/bin.
#
# Nice 10, -j2 by default: the machine is shared. Takes ~15-25 min on 2 cores. Idempotent: a
# finished build is only re-linked; the sdist is not fetched again.
set -euo pipefail

SRC=/work/llama.cpp-src
BUILD=/work/llama.cpp-build
JOBS=2
PYTHON_BINDINGS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --no-python) PYTHON_BINDINGS=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build_llama_cpp.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}

mkdir -p "$SRC"
sdist=$(ls "$SRC"/llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$sdist" ]]; then
  echo "== pip download llama-cpp-python (source) into $SRC"
  "$PY" -m pip download --no-deps --no-binary :all: --no-cache-dir -d "$SRC" llama-cpp-python
  sdist=$(ls "$SRC"/llama_cpp_python-*.tar.gz | sort -V | tail -1)
fi
pkg_dir="$SRC/$(basename "$sdist" .tar.gz)"
if [[ ! -d "$pkg_dir/vendor/llama.cpp" ]]; then
  echo "== unpack $sdist"
  tar -xzf "$sdist" -C "$SRC"
fi
LLAMA="$pkg_dir/vendor/llama.cpp"
[[ -f "$LLAMA/CMakeLists.txt" ]] || { echo "no llama.cpp in $pkg_dir/vendor" >&2; exit 1; }
echo "== llama.cpp from $(basename "$pkg_dir") -> $BUILD"

nice -n 10 cmake -S "$LLAMA" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=ON \
  -DGGML_NATIVE=ON \
  -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON

# Only the targets the comparison needs (the full tree has ~80 programs).
want=(llama llama-bench llama-completion llama-simple llama-tokenize llama-server)
have=$(ninja -C "$BUILD" -t targets all | sed 's/:.*//')
targets=()
for t in "${want[@]}"; do
  if grep -qx "$t" <<<"$have"; then targets+=("$t"); else echo "   (no target $t in this llama.cpp)"; fi
done
time nice -n 10 ninja -C "$BUILD" -j "$JOBS" "${targets[@]}"
echo "== built:"; ls -la "$BUILD"/bin/ | grep -E "llama|\.so" || true
"$BUILD/bin/llama-bench" --help >/dev/null 2>&1 && echo "   llama-bench runs"

if [[ $PYTHON_BINDINGS == 1 ]]; then
  echo "== pip install llama-cpp-python bindings from $sdist (LLAMA_BUILD=OFF; uses $BUILD/bin/libllama.so)"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF -DMTMD_BUILD=OFF" nice -n 10 "$PY" -m pip install --no-cache-dir \
    --force-reinstall --no-deps "$sdist"
  "$PY" -m pip install --no-cache-dir "typing-extensions>=4.5.0" "numpy>=1.20.0" "diskcache>=5.6.1" "jinja2>=2.11.3"
  LLAMA_CPP_LIB_PATH="$BUILD/bin" "$PY" -c "import llama_cpp; print('   llama_cpp', llama_cpp.__version__, 'loads', '$BUILD/bin/libllama.so')"
  echo "   use it with: LLAMA_CPP_LIB_PATH=$BUILD/bin $PY ..."
fi
