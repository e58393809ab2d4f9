#!/usr/bin/env bash
# gorae against llama.cpp on a real quantized GGUF model: top-1 at every position of a chat prompt
# must be equal, except where llama.cpp's own top-1/top-2 gap is a near tie (< 0.5), and the
# tokenizer ids must match on tools/llama_parity.py's texts (it does the comparison and sets the
# exit status). Takes about a minute and 1 GB of /tmp for the 0.5B file.
#
#   tests/llama_cpp/argmax_parity_test.sh GORAE_BINARY
#
# Needs what is not part of the build, so it exits 77 (ctest: skipped) naming what is missing:
# - the model: GORAE_PARITY_GGUF, default /work/models/Qwen2.5-Coder-0.5B-Instruct.gguf
#   (python3 tools/fetch_gguf.py qwen2.5-coder-0.5b-instruct --out /work/models; 491 MB);
# - llama.cpp: LLAMA_CPP_LIB_PATH, default /work/llama.cpp-build/bin, with libllama.so, and the
#   llama_cpp Python bindings (tools/build_llama_cpp.sh builds both, ~15-25 min on 2 cores).
set -uo pipefail
skip() { echo "SKIP: $*"; exit 77; }
here=$(cd "$(dirname "$0")/../.." && pwd)
gorae=${1:-$here/build/src/cli/gorae}
model=${GORAE_PARITY_GGUF:-/work/models/Qwen2.5-Coder-0.5B-Instruct.gguf}
lib=${LLAMA_CPP_LIB_PATH:-/work/llama.cpp-build/bin}
py=${PYTHON:-python3}

[[ -x $gorae ]] || skip "no gorae binary at $gorae"
[[ -f $model ]] || skip "no model at $model (python3 tools/fetch_gguf.py qwen2.5-coder-0.5b-instruct --out /work/models, or set GORAE_PARITY_GGUF)"
[[ -f $lib/libllama.so ]] || skip "no libllama.so in $lib (tools/build_llama_cpp.sh, or set LLAMA_CPP_LIB_PATH)"
LLAMA_CPP_LIB_PATH=$lib "$py" -c "import llama_cpp, numpy, jinja2" 2>/dev/null ||
  skip "$py cannot import llama_cpp (with LLAMA_CPP_LIB_PATH=$lib), numpy and jinja2 (tools/build_llama_cpp.sh installs them)"

out=$(mktemp /tmp/gorae_llama_parity_XXXXXX.json)
# `gorae tokenizer encode` reads a directory's tokenizer.json: the one `gorae convert` writes from
# the GGUF's own tokenizer (the weights it writes beside it are removed again).
tok=$(mktemp -d /tmp/gorae_llama_parity_tok_XXXXXX)
trap 'rm -rf "$out" "$tok"' EXIT
"$gorae" convert --model "$model" --out "$tok/dir" >/dev/null || { echo "gorae convert --model $model failed"; exit 1; }
rm -f "$tok"/dir/*.safetensors
LLAMA_CPP_LIB_PATH=$lib "$py" "$here/tools/llama_parity.py" --model "$model" --gorae "$gorae" --tie-gap 0.5 \
  --gorae-tokenizer "$tok/dir" --out "$out"
rc=$?
"$py" - "$out" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
l = r.get("logits", {})
print(f"summary: top-1 equal {l.get('top1_equal')}/{l.get('positions')}, differing beyond a near tie "
      f"{l.get('differ_not_near_tie')}, max |diff| {l.get('max_abs_diff')}")
PY
exit $rc
