"""Recomputes the log-likelihoods lm-evaluation-harness got from `gorae serve` with `gorae logits`
(log-softmax in float64 of the raw logits of the same token ids) and prints the largest
difference. Run by bench/server/lm_eval_run.sh after the harness, with that server still up.

  check_against_logits.py GORAE MODEL PORT SAMPLES.jsonl [DOCS]"""
import json
import math
import subprocess
import sys
import urllib.request


def tokenize(port, text):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/tokenize",
                                 json.dumps({"prompt": text, "add_special_tokens": True}).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["tokens"]


def main():
    gorae, model, port, samples = sys.argv[1:5]
    docs = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    worst, n = 0.0, 0
    with open(samples) as f:
        rows = [json.loads(line) for line in f][:docs]
    for row in rows:
        for args, resp in zip(row["arguments"].values(), row["resps"]):
            context, continuation = args["arg_0"], args["arg_1"]
            ids = tokenize(port, context + continuation)
            start = len(tokenize(port, context))
            out = subprocess.run([gorae, "logits", "--model", model, "--tokens", " ".join(map(str, ids))],
                                 capture_output=True, text=True, check=True).stdout
            logits = json.loads(out)["logits"]
            ll = 0.0
            for i in range(start, len(ids)):
                row_logits = logits[i - 1]
                m = max(row_logits)
                ll += row_logits[ids[i]] - m - math.log(sum(math.exp(x - m) for x in row_logits))
            harness = float(resp[0][0])
            worst = max(worst, abs(ll - harness))
            n += 1
            print(f"doc {row['doc_id']} {continuation!r:>14}: lm_eval {harness:10.5f}   gorae logits {ll:10.5f}")
    print(f"{n} choices: max |lm_eval - gorae logits| = {worst:.2e}")
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
