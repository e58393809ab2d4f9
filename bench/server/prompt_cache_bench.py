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
import json
import sys

from chat_stream import cpu_model, start_gorae, stop, stream_chat

WORDS = ("the whale swims under a grey sea while gulls call over the harbour and the boats "
         "come home with nets full of silver fish at dusk").split()


def words(n, shift):
    return " ".join(WORDS[(shift + k) % len(WORDS)] for k in range(n))


def turn(port, messages, answer_tokens):
    """One streamed chat request; returns (ttft_s, total_s, answer, usage)."""
    r = stream_chat(port, {"model": "m", "messages": messages, "max_tokens": answer_tokens, "temperature": 0,
                           "ignore_eos": True})
    return r["ttft_s"], r["total_s"], r["text"], r["usage"]


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
        proc, port = start_gorae(args.gorae, args.model, args.ctx, args.parallel, args.threads, extra)
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
