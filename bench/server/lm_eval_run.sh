#!/usr/bin/env bash
# lm-evaluation-harness as a real client of `gorae serve`: its `local-completions` model scores
# the multiple-choice task in bench/server/lm_eval/ (log-likelihood of each choice: token ids,
# echo, logprobs) and tokenizes through the server's /tokenize and /detokenize
# (tokenizer_backend=remote), so no Hugging Face download is needed.
#
#   bash bench/server/lm_eval_run.sh GORAE MODEL [LM_EVAL]
#
# Then the harness's log-likelihoods of the first CHECK_DOCS (default 4) questions are recomputed
# with `gorae logits` (check_against_logits.py). LM_EVAL: the lm_eval command (default: lm_eval on PATH). It needs torch; it is not part of the
# test command: `python3 -m venv V && V/bin/pip install torch lm_eval[api]`.
set -euo pipefail
gorae=$(realpath "$1")
model=$(realpath "$2")
lm_eval=${3:-lm_eval}
here=$(cd "$(dirname "$0")/lm_eval" && pwd)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$gorae" serve --model "$model" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 600); do
  grep -q "listening on" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cd "$here"  # the task's data_files are relative to it
out=$(mktemp -d)
HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 "$lm_eval" --model local-completions \
  --model_args "base_url=http://127.0.0.1:$port/v1/completions,model=gorae,tokenizer_backend=remote,num_concurrent=1,max_retries=1" \
  --include_path . --tasks gorae_code_mc --log_samples --output_path "$out"
# The harness's numbers against `gorae logits` for the same tokens.
python3 check_against_logits.py "$gorae" "$model" "$port" "$(ls "$out"/*/samples_*.jsonl)" "${CHECK_DOCS:-4}"
rm -rf "$out"
