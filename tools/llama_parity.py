#!/usr/bin/env python3
"""gorae against llama.cpp on the same GGUF file: logits at every position, and tokenizer ids.

    LLAMA_CPP_LIB_PATH=/work/llama.cpp-build/bin python3 tools/llama_parity.py \
        --model /work/models/Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf [--chat "What is 347 + 589?"] \
        [--prompt TEXT] [--gorae build/src/cli/gorae] [--prefill N] [--tokenizer-gguf FILE ...] \
        [--out report.json]

Logits: the prompt (a user message rendered with the GGUF's own chat template, or --prompt raw
text) is tokenized by llama.cpp (llama-cpp-python over the libllama.so that
tools/build_llama_cpp.sh builds); llama.cpp evaluates it in one batch with logits for every
position (logits_all); `gorae logits --model FILE.gguf --tokens IDS` does the same (one pass, or
--prefill N: N tokens in one pass, then one token at a time through the KV cache). Per position:
top-1 equal, max |diff|, the top-1 - top-2 gap of each side where the top-1s differ, and whether
one side's top-1 is in the other's top 5. Both engines quantize activations to 8 bits for the
quantized matmuls, in different orders, so equality is not expected: the report says how close.

Tokenizer: for each GGUF in --tokenizer-gguf (default: --model) and each test string, llama.cpp's
ids (special tokens parsed, no BOS added) beside `gorae tokenizer encode --model FILE.gguf`'s, when
gorae can read a GGUF tokenizer (reported as unavailable otherwise).

Exit status: 0 when every position's top-1 agrees or differs only where llama.cpp's own top-1/top-2
gap is below --tie-gap (a near tie), and every tokenizer comparison that ran matched.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fetch_gguf  # noqa: E402  (GGUF header reader)

TOKENIZER_TEXTS = [
    "Hello world",
    "What is 347 + 589?",
    "  leading spaces, trailing spaces   ",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "Numbers 1234567890 and 3.14159, dates 2026-11-22.",
    "Ünïcödé: naïve café, 東京タワー, 고래, Здравствуй, emoji 🐋🤖",
    "<think>\nLet me compute 12 * 13.\n</think>\n\n**156**",
    "tabs\tand\nnewlines\r\n\r\nmixed   \n  \n",
    "I'm can't won't they're we've y'all",
    "<|im_start|>user\nWhat is 12 * 13?<|im_end|>\n<|im_start|>assistant\n",
    "<｜begin▁of▁sentence｜><｜User｜>What is 347 + 589?<｜Assistant｜><think>\n",
]


def read_header(path):
    with open(path, "rb") as f:
        return fetch_gguf.parse_header(lambda n: (f.seek(0), f.read(n))[1])


def render_chat(header, user, system=None):
    """The GGUF's tokenizer.chat_template rendered with one user message and the assistant prompt."""
    import jinja2
    tmpl = header.kv.get("tokenizer.chat_template")
    if not isinstance(tmpl, str):
        raise SystemExit("the GGUF has no tokenizer.chat_template: use --prompt")
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])

    def raise_exception(msg):
        raise jinja2.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return env.from_string(tmpl), messages


def llama_vocab(path):
    """llama.cpp's tokenizer alone (the model loaded with vocab_only: no weights, no context)."""
    import llama_cpp
    from llama_cpp import _internals
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    return _internals.LlamaModel(path_model=path, params=params, verbose=False)


def llama_model(path, n_ctx, threads, kv_f32):
    """The model with logits for every position; flash attention off; KV cache f16 (llama.cpp's
    default) or f32 (as gorae keeps it)."""
    from llama_cpp import Llama
    kv = {"type_k": 0, "type_v": 0} if kv_f32 else {}  # GGML_TYPE_F32
    return Llama(model_path=path, logits_all=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads,
                 n_threads_batch=threads, flash_attn=False, verbose=False, **kv)


def prompt_text(llm, header, args):
    if args.prompt is not None:
        return args.prompt
    tmpl, messages = render_chat(header, args.chat, args.system)
    bos = llm.detokenize([llm.token_bos()], special=True).decode() if llm.token_bos() >= 0 else ""
    eos = llm.detokenize([llm.token_eos()], special=True).decode() if llm.token_eos() >= 0 else ""
    text = tmpl.render(messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
    return text + args.assistant_prefix


def gorae_logits(gorae, model, ids, prefill, threads):
    cmd = [gorae, "logits", "--model", model, "--tokens", " ".join(map(str, ids))]
    if prefill is not None:
        cmd += ["--prefill", str(prefill)]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed: {r.stderr.decode()[-2000:]}")
    out = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
    return out, time.time() - t0


def gorae_encode(gorae, model, text):
    """gorae's ids for text from the GGUF's tokenizer, or (None, why) when gorae cannot."""
    r = subprocess.run([gorae, "tokenizer", "encode", "--model", model], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        return None, r.stderr.decode().strip()[-300:]
    return json.loads(r.stdout), ""


GGUF_PY = "/work/llama.cpp-src/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py"


def q8_blocks(x, block=256):
    """x rounded as both engines round matmul inputs for K-quant weights: int8 per block of 256
    (Q8_K: scale = max|x| / 127)."""
    shp = x.shape
    b = x.reshape(-1, block)
    d = np.abs(b).max(-1, keepdims=True) / 127.0
    return (np.round(b / np.where(d == 0, 1, d)) * d).reshape(shp)


def reference_logits(path, tokens, act_q8=False):
    """A float64 numpy forward pass of a llama/qwen2 GGUF on its dequantized weights (gguf-py's
    dequantizers), with unquantized activations: what both engines approximate. Layer by layer, so
    memory stays at one layer's weights in float64 (plus the output matrix in row chunks)."""
    if os.path.isdir(GGUF_PY):
        sys.path.insert(0, GGUF_PY)
    import gguf
    from gguf.quants import dequantize
    r = gguf.GGUFReader(path)
    arch = str(bytes(r.fields["general.architecture"].parts[-1]), "utf-8")
    if arch not in ("qwen2", "llama"):
        raise SystemExit(f"--reference: architecture {arch} not supported (qwen2, llama)")

    def kv(key, default=None):
        f = r.fields.get(f"{arch}.{key}")
        return default if f is None else f.parts[-1][0].item()

    T = {t.name: t for t in r.tensors}

    def w(name, rows=None):  # (out, in) or (n,), float64
        t = T[name]
        return dequantize(np.asarray(t.data if rows is None else t.data[rows]), t.tensor_type).astype(np.float64)

    H, KV = kv("attention.head_count"), kv("attention.head_count_kv")
    D = kv("embedding_length")
    hd = kv("attention.key_length", D // H)
    eps, theta = kv("attention.layer_norm_rms_epsilon"), kv("rope.freq_base", 10000.0)
    L = kv("block_count")
    n = len(tokens)

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g

    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    if "rope_freqs.weight" in T:
        inv = inv / w("rope_freqs.weight")
    ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]  # (n, hd/2)
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x):  # (n, heads, hd); qwen2: halves (NEOX); llama in GGUF: interleaved pairs
        c, s_ = cos[:, None, :], sin[:, None, :]
        if arch == "qwen2":
            a, b = x[..., : hd // 2], x[..., hd // 2:]
            return np.concatenate([a * c - b * s_, a * s_ + b * c], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * c - b * s_, a * s_ + b * c
        return out

    def lin(x, name):
        y = (q8_blocks(x) if act_q8 else x) @ w(name + ".weight").T
        return y + w(name + ".bias") if name + ".bias" in T else y

    x = w("token_embd.weight", rows=np.array(tokens))
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(L):
        b = f"blk.{l}."
        h = rms(x, w(b + "attn_norm.weight"))
        q = rope(lin(h, b + "attn_q").reshape(n, H, hd))
        k = rope(lin(h, b + "attn_k").reshape(n, KV, hd))
        v = lin(h, b + "attn_v").reshape(n, KV, hd)
        rep = H // KV
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", att, v).reshape(n, H * hd)
        x = x + lin(o, b + "attn_output")
        h = rms(x, w(b + "ffn_norm.weight"))
        g = lin(h, b + "ffn_gate")
        x = x + lin(g / (1 + np.exp(-g)) * lin(h, b + "ffn_up"), b + "ffn_down")
    x = rms(x, w("output_norm.weight"))
    head = "output.weight" if "output.weight" in T else "token_embd.weight"
    V = T[head].data.shape[0]
    logits = np.empty((n, V))
    for r0 in range(0, V, 16384):
        rows = np.arange(r0, min(V, r0 + 16384))
        logits[:, rows] = (q8_blocks(x) if act_q8 else x) @ w(head, rows=rows).T
    return logits


def compare_logits(ref, got, tokens, detok, tie_gap):
    rows, worst = [], 0.0
    for t in range(len(tokens)):
        a, b = ref[t], got[t]
        ia, ib = np.argsort(-a)[:5], np.argsort(-b)[:5]
        diff = float(np.max(np.abs(a - b)))
        worst = max(worst, diff)
        row = {"pos": t, "token": int(tokens[t]), "text": detok(tokens[t]), "top1_equal": bool(ia[0] == ib[0]),
               "max_abs_diff": round(diff, 5), "llama_top1": int(ia[0]), "gorae_top1": int(ib[0]),
               "llama_top1_logit": round(float(a[ia[0]]), 4),
               "mean_abs_diff": round(float(np.mean(np.abs(a - b))), 5),
               "top5_overlap": len(set(ia.tolist()) & set(ib.tolist()))}
        if ia[0] != ib[0]:
            row["llama_gap_top1_top2"] = round(float(a[ia[0]] - a[ia[1]]), 5)
            row["gorae_gap_top1_top2"] = round(float(b[ib[0]] - b[ib[1]]), 5)
            row["llama_logit_of_gorae_top1"] = round(float(a[ib[0]]), 4)
            row["near_tie"] = row["llama_gap_top1_top2"] < tie_gap
            row["cross_top5"] = bool(ib[0] in ia and ia[0] in ib)
        rows.append(row)
    return rows, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="GGUF file both engines load")
    ap.add_argument("--chat", default="What is 347 + 589?", help="user message rendered with the chat template")
    ap.add_argument("--system", help="system message for --chat")
    ap.add_argument("--assistant-prefix", default="", help="text appended after the rendered template")
    ap.add_argument("--prompt", help="raw prompt text instead of --chat (special tokens are parsed)")
    ap.add_argument("--tokens", help="token ids (\"1 2 3\") given to both engines instead of a prompt: for files "
                                     "without a vocabulary (tokenizer.ggml.model 'none', `gorae convert --no-tokenizer`)")
    ap.add_argument("--gorae", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "cli", "gorae"))
    ap.add_argument("--prefill", type=int, help="gorae: first N tokens in one pass, the rest one at a time")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kv-f32", action="store_true", help="llama.cpp keeps its KV cache in f32 (default f16)")
    ap.add_argument("--tie-gap", type=float, default=0.5, help="a top-1 difference counts as a near tie below this gap")
    ap.add_argument("--tokenizer-gguf", nargs="*", help="GGUF files whose tokenizers are compared (default: --model)")
    ap.add_argument("--no-logits", action="store_true", help="tokenizer comparison only")
    ap.add_argument("--gorae-tokenizer",
                    help="gorae encodes with this directory's tokenizer.json instead of the GGUF (e.g. the one "
                         "`gorae convert --model FILE.gguf --out DIR` writes, the same GGUF reader)")
    ap.add_argument("--reference", action="store_true",
                    help="also a float64 numpy forward on the dequantized weights (llama/qwen2): each engine's error")
    ap.add_argument("--reference-q8", action="store_true",
                    help="the reference rounds matmul inputs to int8 blocks of 256 as the engines do")
    ap.add_argument("--out", help="write the JSON report here")
    args = ap.parse_args()

    import llama_cpp
    header = read_header(args.model)
    report = {"model": os.path.abspath(args.model), "name": header.kv.get("general.name"),
              "architecture": header.kv.get("general.architecture"), "file_type": header.kv.get("general.file_type"),
              "llama_cpp_python": llama_cpp.__version__, "gorae": os.path.abspath(args.gorae)}
    ok = True

    if not args.no_logits:
        if args.tokens:
            tokens = [int(t) for t in args.tokens.replace(",", " ").split()]
            text = None
            detok = str
        else:
            voc = llama_vocab(args.model)
            text = prompt_text(voc, header, args)
            tokens = list(voc.tokenize(text.encode(), add_bos=False, special=True))
            detok = lambda i: voc.detokenize([i], special=True).decode("utf-8", "replace")  # noqa: E731
        print(f"prompt ({len(tokens)} tokens): {text!r}")
        print(f"ids: {' '.join(map(str, tokens))}")
        llm = llama_model(args.model, n_ctx=max(len(tokens), 32), threads=args.threads, kv_f32=args.kv_f32)
        t0 = time.time()
        llm.eval(tokens)
        ref = np.array(llm.scores[:len(tokens)], dtype=np.float64)
        t_llama = time.time() - t0
        del llm
        got, t_gorae = gorae_logits(args.gorae, args.model, tokens, args.prefill, args.threads)
        if got.shape != ref.shape:
            raise SystemExit(f"shape mismatch: llama.cpp {ref.shape}, gorae {got.shape}")
        rows, worst = compare_logits(ref, got, tokens, detok, args.tie_gap)
        if args.reference:
            t0 = time.time()
            exact = reference_logits(args.model, tokens, act_q8=args.reference_q8)
            top = exact.argmax(-1)
            report["reference"] = {"seconds": round(time.time() - t0, 1), "activations_q8": args.reference_q8}
            for name, m in (("llama.cpp", ref), ("gorae", got)):
                e = np.abs(m - exact)
                report["reference"][name] = {
                    "max_abs_err": round(float(e.max()), 5), "mean_abs_err": round(float(e.mean()), 5),
                    "rms_err": round(float(np.sqrt(np.mean(e * e))), 5),
                    "top1_equal_reference": int((m.argmax(-1) == top).sum()),
                    "max_abs_err_per_pos": [round(float(x), 4) for x in e.max(-1)]}
        n_eq = sum(r["top1_equal"] for r in rows)
        bad = [r for r in rows if not r["top1_equal"] and not r["near_tie"]]
        ok &= not bad
        report["prompt"] = text
        report["tokens"] = tokens
        report["gorae_prefill"] = args.prefill
        report["llama_kv_cache"] = "f32" if args.kv_f32 else "f16"
        report["logits"] = {"positions": len(rows), "top1_equal": n_eq, "max_abs_diff": round(worst, 5),
                            "max_abs_logit": round(float(np.max(np.abs(ref))), 3),
                            "mean_abs_diff": round(float(np.mean(np.abs(ref - got))), 5),
                            "differ_not_near_tie": len(bad), "seconds_llama": round(t_llama, 2),
                            "seconds_gorae": round(t_gorae, 2), "rows": rows}
        print(f"\n{'pos':>4} {'token':>7} {'text':14} {'top1':5} {'max|d|':>8} {'mean|d|':>8} {'top5':>4}  gaps where top-1 differs")
        for r in rows:
            extra = ""
            if not r["top1_equal"]:
                extra = (f"llama {r['llama_top1']} (gap {r['llama_gap_top1_top2']}) vs gorae {r['gorae_top1']} "
                         f"(gap {r['gorae_gap_top1_top2']}){'  near tie' if r['near_tie'] else '  DIFFERS'}")
            print(f"{r['pos']:>4} {r['token']:>7} {json.dumps(r['text'])[:14]:14} {'yes' if r['top1_equal'] else 'NO':5} "
                  f"{r['max_abs_diff']:8.4f} {r['mean_abs_diff']:8.4f} {r['top5_overlap']:>4}  {extra}")
        print(f"\ntop-1 equal at {n_eq}/{len(rows)} positions; max |diff| {worst:.4f} on logits up to "
              f"{report['logits']['max_abs_logit']}; mean |diff| {report['logits']['mean_abs_diff']}")

    if "reference" in report:
        print(f"\nagainst a float64 forward on the dequantized weights ({report['reference']['seconds']} s):")
        for name in ("llama.cpp", "gorae"):
            e = report["reference"][name]
            print(f"  {name:9s}: max |err| {e['max_abs_err']:.4f}, mean |err| {e['mean_abs_err']:.4f}, "
                  f"rms {e['rms_err']:.4f}, top-1 = reference at {e['top1_equal_reference']}/{len(report['tokens'])}")

    tok_files = args.tokenizer_gguf if args.tokenizer_gguf else [args.model]
    # A file without a vocabulary has no tokenizer to compare.
    tok_files = [p for p in tok_files if read_header(p).kv.get("tokenizer.ggml.model") != "none"]
    report["tokenizer"] = []
    for path in tok_files:
        voc = llama_vocab(path)
        entry = {"file": os.path.abspath(path), "gorae_tokenizer": args.gorae_tokenizer or path, "cases": []}
        for text in TOKENIZER_TEXTS + ([report["prompt"]] if report.get("prompt") else []):
            ref = list(voc.tokenize(text.encode(), add_bos=False, special=True))
            got, why = gorae_encode(args.gorae, args.gorae_tokenizer or path, text)
            case = {"text": text, "llama": ref, "gorae": got, "equal": got == ref if got is not None else None}
            if got is None:
                case["gorae_error"] = why
            entry["cases"].append(case)
        ran = [c for c in entry["cases"] if c["equal"] is not None]
        entry["equal"] = sum(c["equal"] for c in ran)
        entry["compared"] = len(ran)
        # Every case must have been compared and equal: a case gorae could not encode is a failure,
        # and a file with no case compared at all is one too (not a vacuous pass).
        ok &= bool(ran) and len(ran) == len(entry["cases"]) and all(c["equal"] for c in ran)
        msg = (f"{entry['equal']}/{len(ran)} texts give the same ids" if ran else
               f"gorae cannot encode with it yet: {entry['cases'][0].get('gorae_error', '')[:200]}")
        print(f"tokenizer {os.path.basename(path)}: {msg}")
        for c in ran:
            if not c["equal"]:
                print(f"  DIFFERS {c['text']!r}\n    llama {c['llama']}\n    gorae {c['gorae']}")
        report["tokenizer"].append(entry)

    report["ok"] = bool(ok)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        print(f"report: {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
