"""The cost of structured outputs: decode tokens/s of gorae serve with a JSON schema (and with
json_object) against the same requests unconstrained, on one server, one after the other.

Each request streams a chat answer (greedy, --tokens at most); decode speed is the completion
tokens after the first divided by the time after the first. The constrained answers are also
checked: each must parse as JSON (and the schema's required keys be there).

  python3 bench/server/structured_bench.py --gorae build/src/cli/gorae --model FILE.gguf|DIR

Only 127.0.0.1 is used. Output: a table and one JSON line per mode."""
import argparse
import json
import statistics
import sys

from chat_stream import cpu_model, start_gorae, stop, stream_chat

SCHEMA = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 40},
                         "age": {"type": "integer", "minimum": 0, "maximum": 150},
                         "city": {"type": "string", "maxLength": 40},
                         "languages": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 5},
                         "bio": {"type": "string", "maxLength": 200}},
          "required": ["name", "age", "city", "languages", "bio"]}
PROMPTS = ["Describe a fictional software engineer as a JSON object with name, age, city, languages and a short bio.",
           "Give me a JSON record for a made-up data scientist: name, age, city, languages and bio.",
           "Invent a person who maintains an open-source compiler. Answer in JSON: name, age, city, languages, bio."]


def stream(port, body):
    """(text, completion tokens, ttft_s, decode_s) of one streamed chat request."""
    r = stream_chat(port, body)
    return r["text"], r["usage"]["completion_tokens"], r["ttft_s"], r["decode_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gorae", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    proc, port = start_gorae(args.gorae, args.model, 1024, 1, args.threads)
    modes = {"free": None, "json_object": {"type": "json_object"},
             "json_schema": {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}}
    rows = {m: [] for m in modes}
    try:
        stream(port, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})  # warm up
        for _ in range(args.rounds):
            for prompt in PROMPTS:
                for mode, fmt in modes.items():  # interleaved, so that drift hits every mode alike
                    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": args.tokens,
                            "temperature": 0}
                    if fmt:
                        body["response_format"] = fmt
                    text, tokens, ttft, decode = stream(port, body)
                    ok = None
                    if fmt:
                        try:
                            doc = json.loads(text)
                            ok = isinstance(doc, dict) and (mode != "json_schema" or all(k in doc for k in SCHEMA["required"]))
                        except json.JSONDecodeError:
                            ok = False
                    rows[mode].append({"tokens": tokens, "ttft_s": ttft, "decode_s": decode,
                                       "tok_s": (tokens - 1) / decode if decode > 0 and tokens > 1 else 0.0, "valid": ok})
    finally:
        stop(proc)
    base = statistics.median(r["tok_s"] for r in rows["free"])
    print(f"CPU: {cpu_model()}; model {args.model}; {args.threads} threads; greedy, up to {args.tokens} tokens")
    print(f"{'mode':>12} {'requests':>8} {'tokens':>7} {'decode tok/s':>13} {'vs free':>8} {'valid':>6}")
    for mode, rs in rows.items():
        speed = statistics.median(r["tok_s"] for r in rs)
        valid = "-" if mode == "free" else f"{sum(bool(r['valid']) for r in rs)}/{len(rs)}"
        print(f"{mode:>12} {len(rs):>8} {statistics.median(r['tokens'] for r in rs):>7.0f} {speed:>13.2f} "
              f"{speed / base:>7.3f}x {valid:>6}")
        print(json.dumps({"mode": mode, "cpu": cpu_model(), "median_tok_s": speed, "requests": rs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
