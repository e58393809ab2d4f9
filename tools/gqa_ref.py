#!/usr/bin/env python3
"""Float64 PyTorch reference of the Llama and Qwen2 architectures (the R1-Distill students), as
Hugging Face `transformers` defines them, and a generator of tiny golden checkpoints.

    /usr/bin/python3 tools/gqa_ref.py --out tests/golden/models      # (re)write the golden cases
    /usr/bin/python3 tools/gqa_ref.py --check                        # regenerate and compare
    /usr/bin/python3 tools/gqa_ref.py --model DIR --tokens "1 2 3"   # {"logits": [[...]]}

Semantics (transformers' LlamaForCausalLM / Qwen2ForCausalLM): RMSNorm -> q/k/v projections
(Qwen2: biases on q, k, v) -> RoPE in the rotate_half layout (pairs i, i + d/2) with optional
llama3 frequency scaling -> causal softmax attention where query head h uses K/V head
h // (heads / kv_heads) -> o_proj -> residual; RMSNorm -> down(silu(gate(x)) * up(x)) ->
residual; final norm; lm_head (or the embedding when tied). Reuses the safetensors and dtype
helpers of tools/deepseek_ref.py.
"""
import argparse
import filecmp
import json
import math
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_ref as ref  # noqa: E402

torch.set_default_dtype(torch.float64)


def inv_freq(cfg):
    d = cfg["head_dim"]
    f = 1.0 / (cfg.get("rope_theta", 10000.0) ** (np.arange(0, d, 2, dtype=np.float64) / d))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        smooth = (orig / wavelen - lo) / (hi - lo)
        scaled = np.where(wavelen > orig / lo, f / factor, f)
        mid = (wavelen >= orig / hi) & (wavelen <= orig / lo)
        f = np.where(mid, (1 - smooth) * f / factor + smooth * f, scaled)
    return torch.tensor(f)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def forward(cfg, W, tokens):
    T, H, KV, d = len(tokens), cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    rms = lambda x, w: x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w  # noqa: E731
    lin = lambda x, name: x @ W[name].T + (W[name[:-6] + "bias"] if name[:-6] + "bias" in W else 0)  # noqa: E731
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq(cfg)[None, :]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)  # (T, d)
    mask = torch.full((T, T), float("-inf")).triu(1)
    h = W["model.embed_tokens.weight"][tokens]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = rms(h, W[p + "input_layernorm.weight"])
        q = lin(x, p + "self_attn.q_proj.weight").view(T, H, d).transpose(0, 1)
        k = lin(x, p + "self_attn.k_proj.weight").view(T, KV, d).transpose(0, 1)
        v = lin(x, p + "self_attn.v_proj.weight").view(T, KV, d).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d) + mask, dim=-1) @ v
        h = h + lin(a.transpose(0, 1).reshape(T, H * d), p + "self_attn.o_proj.weight")
        x = rms(h, W[p + "post_attention_layernorm.weight"])
        g, u = x @ W[p + "mlp.gate_proj.weight"].T, x @ W[p + "mlp.up_proj.weight"].T
        h = h + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return rms(h, W["model.norm.weight"]) @ head.T


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    raw = ref.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return cfg, {n: torch.tensor(ref.decode(r, dt)) for n, (dt, r) in raw.items()}


# ---------------------------------------------------------------------------
# Golden cases: tiny random checkpoints and their logits.
# ---------------------------------------------------------------------------

CASES = {
    # R1-Distill-Qwen style: q/k/v biases, GQA 4:2, large rope theta, BF16, tied embeddings.
    "qwen2_gqa_bias_bf16": dict(model_type="qwen2", arch="Qwen2ForCausalLM", storage="BF16", seed=11,
                                heads=4, kv_heads=2, head_dim=16, tie=True, theta=1000000.0, rope_scaling=None),
    # R1-Distill-Llama style: GQA 4:1, llama3 rope scaling whose smooth band covers some frequencies.
    "llama3_gqa_f32": dict(model_type="llama", arch="LlamaForCausalLM", storage="F32", seed=12,
                           heads=4, kv_heads=1, head_dim=16, tie=False, theta=500000.0,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}
VOCAB, HIDDEN, INTER, LAYERS, TOKENS = 256, 64, 128, 2, 14


def make_case(name, spec, out_dir):
    rng = np.random.default_rng(spec["seed"])
    H, KV, d = spec["heads"], spec["kv_heads"], spec["head_dim"]
    cfg = {"architectures": [spec["arch"]], "model_type": spec["model_type"], "vocab_size": VOCAB,
           "hidden_size": HIDDEN, "intermediate_size": INTER, "num_hidden_layers": LAYERS,
           "num_attention_heads": H, "num_key_value_heads": KV, "head_dim": d, "hidden_act": "silu",
           "max_position_embeddings": 4096, "rope_theta": spec["theta"], "rope_scaling": spec["rope_scaling"],
           "rms_norm_eps": 1e-6, "tie_word_embeddings": spec["tie"], "bos_token_id": 0, "eos_token_id": 1}
    if spec["model_type"] == "llama":
        cfg["attention_bias"] = False
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for layer in range(LAYERS):
        p = f"model.layers.{layer}."
        shapes[p + "input_layernorm.weight"] = (HIDDEN,)
        shapes[p + "self_attn.q_proj.weight"] = (H * d, HIDDEN)
        shapes[p + "self_attn.k_proj.weight"] = (KV * d, HIDDEN)
        shapes[p + "self_attn.v_proj.weight"] = (KV * d, HIDDEN)
        if spec["model_type"] == "qwen2":
            shapes[p + "self_attn.q_proj.bias"] = (H * d,)
            shapes[p + "self_attn.k_proj.bias"] = (KV * d,)
            shapes[p + "self_attn.v_proj.bias"] = (KV * d,)
        shapes[p + "self_attn.o_proj.weight"] = (HIDDEN, H * d)
        shapes[p + "post_attention_layernorm.weight"] = (HIDDEN,)
        shapes[p + "mlp.gate_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.up_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.down_proj.weight"] = (HIDDEN, INTER)
    shapes["model.norm.weight"] = (HIDDEN,)
    if not spec["tie"]:
        shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    tensors = {}
    for n, shape in shapes.items():
        if n.endswith("norm.weight"):
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        elif n.endswith(".bias"):
            v = 0.5 * rng.standard_normal(shape)
        elif "embed" in n:
            v = rng.standard_normal(shape)
        else:
            v = rng.standard_normal(shape) * (1.5 / math.sqrt(shape[1]))
        tensors[n] = (spec["storage"], ref.encode(v.astype(np.float32), spec["storage"]))
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    ref.write_safetensors(os.path.join(case_dir, "model.safetensors"), tensors)
    with open(os.path.join(case_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tokens = [int(t) for t in rng.integers(2, VOCAB, TOKENS)]
    cfg2, W = load(case_dir)  # logits from what was stored, read back through the loader
    logits = forward(cfg2, W, tokens).numpy()
    top2 = np.sort(logits, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0] > 1e-3).all(), f"{name}: argmax margin too small; change the seed"
    rows = ["[" + ", ".join(ref.format_float32(v) for v in row) + "]" for row in logits]
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        f.write('{"tokens": [' + ", ".join(map(str, tokens)) + '],\n"logits": [\n' + ",\n".join(rows) + "\n]}\n")


def self_test():
    """llama3 scaling keeps short wavelengths, divides long ones, blends the band between."""
    cfg = {"head_dim": 16, "rope_theta": 500000.0, "rope_scaling": CASES["llama3_gqa_f32"]["rope_scaling"]}
    base = 1.0 / (500000.0 ** (np.arange(0, 16, 2) / 16))
    got = inv_freq(cfg).numpy()
    wl = 2 * math.pi / base
    assert np.allclose(got[wl < 16], base[wl < 16]) and np.allclose(got[wl > 64], base[wl > 64] / 8)
    band = (wl >= 16) & (wl <= 64)
    assert band.any(), "the smooth band must be exercised"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the golden cases here")
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with tests/golden/models")
    ap.add_argument("--model")
    ap.add_argument("--tokens")
    a = ap.parse_args()
    self_test()
    if a.model:
        cfg, W = load(a.model)
        print(ref.logits_json(forward(cfg, W, [int(t) for t in a.tokens.replace(",", " ").split()]).numpy()))
        return 0
    if a.check:
        committed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "models")
        with tempfile.TemporaryDirectory() as tmp:
            bad = []
            for name, spec in CASES.items():
                make_case(name, spec, tmp)
                for f in os.listdir(os.path.join(tmp, name)):
                    if not filecmp.cmp(os.path.join(tmp, name, f), os.path.join(committed, name, f), shallow=False):
                        bad.append(f"{name}/{f}")
            print("differs: " + ", ".join(bad) if bad else "golden GQA cases reproduce exactly")
            return 1 if bad else 0
    if not a.out:
        ap.error("give --out, --check or --model")
    for name, spec in CASES.items():
        make_case(name, spec, a.out)
        print(f"wrote {a.out}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
