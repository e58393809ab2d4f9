"""Time to first token of each turn of a conversation, with gorae serve's prompt cache and
without it (--no-prompt-cache), on the same model, machine and messages.

A chat of --turns turns (a system prompt of about --system-words words, user messages of about
--user-words, answers of exactly --answer-tokens tokens via ignore_eos, greedy) is sent through
/v1/chat/completions, streamed; each turn's request carries the whole conversation so far, as a
chat client sends it. Measured per turn: time to the first streamed token, the prompt tokens and
how many of them came from the cache (usage.prompt_tokens_details.cached_tokens). Both servers
must give the same answers (checked; the cache changes no token).

  python3 bench/server/prompt_cache_bench.py --gorae build/src/cli/gorae --model FILE.gguf|DIR

Only 127.0.0.1 is used. Output: a table, and one JSON line per run."""
import argparse
import http.client
import json
import subprocess
import sys
import time

WORDS = ("the whale swims under a grey sea while gulls call over the harbour and the boats "
         "come home with nets full of silver fish at dusk").split()


def words(n, shift):
    return " ".join(WORDS[(shift + k) % len(WORDS)] for k in range(n))


def start_server(args, extra):
    cmd = [args.gorae, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", "0", "--ctx", str(args.ctx),
           "--parallel", str(args.parallel), "--threads", str(args.threads), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on http://127.0.0.1:" not in line:
        proc.kill()
        raise RuntimeError(f"gorae serve did not start: {line!r}")
    return proc, int(line.strip().rsplit(":", 1)[1])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def turn(port, messages, answer_tokens):
    """One streamed chat request; returns (ttft_s, total_s, answer, usage)."""
    body = {"model": "m", "messages": messages, "max_tokens": answer_tokens, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1200)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft, answer, usage = None, "", None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            usage = chunk["usage"]
        for ch in chunk.get("choices", []):
            piece = ch.get("delta", {}).get("content") or ""
            if piece and ttft is None:
                ttft = time.perf_counter() - t0
            answer += piece
    total = time.perf_counter() - t0
    conn.close()
    return ttft if ttft is not None else total, total, answer, usage


def conversation(args, port):
    messages = [{"role": "system", "content": words(args.system_words, 0)}]
    rows = []
    for k in range(args.turns):
        messages.append({"role": "user", "content": words(args.user_words, 7 * (k + 1))})
        ttft, total, answer, usage = turn(port, messages, args.answer_tokens)
        rows.append({"turn": k + 1, "ttft_s": ttft, "total_s": total, "prompt_tokens": usage["prompt_tokens"],
                     "cached_tokens": usage["prompt_tokens_details"]["cached_tokens"], "answer": answer})
        messages.append({"role": "assistant", "content": answer})
    return rows


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "?")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gorae", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--system-words", type=int, default=300)
    ap.add_argument("--user-words", type=int, default=40)
    ap.add_argument("--answer-tokens", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    runs = {}
    for name, extra in (("cache", []), ("no-cache", ["--no-prompt-cache"])):
        proc, port = start_server(args, extra)
        try:
            turn(port, [{"role": "user", "content": "warm up"}], 2)  # page the weights in first
            runs[name] = conversation(args, port)
        finally:
            stop(proc)
        print(json.dumps({"run": name, "cpu": cpu_model(), "model": args.model,
                          "turns": [{k: v for k, v in r.items() if k != "answer"} for r in runs[name]]}), flush=True)

    same = [a["answer"] for a in runs["cache"]] == [b["answer"] for b in runs["no-cache"]]
    print(f"\nCPU: {cpu_model()}; model {args.model}; {args.threads} threads; answers identical: {same}")
    print(f"{'turn':>4} {'prompt':>7} {'cached':>7} {'TTFT cache':>11} {'TTFT none':>10} {'speedup':>8}")
    for a, b in zip(runs["cache"], runs["no-cache"]):
        print(f"{a['turn']:>4} {a['prompt_tokens']:>7} {a['cached_tokens']:>7} {a['ttft_s']:>10.3f}s "
              f"{b['ttft_s']:>9.3f}s {b['ttft_s'] / a['ttft_s']:>7.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
