#!/usr/bin/env python3
"""Float64 PyTorch autograd reference of gorae's training objective, and its golden files.

Builds on tools/deepseek_ref.py (the forward reference the inference engine is tested
against): the same attention, router, experts and norms, plus what training adds:

  * a batch of B sequences with a loss mask on the targets;
  * multi-token prediction (DeepSeek-V3 sec. 2.2): D sequential modules, module k on positions
    t < T - k: h_k = block(eh_proj [enorm(embed(x[t+k])) | hnorm(h_{k-1}[t])]), loss on
    x[t+k+1] through shared_head.norm and the shared output head; tensors named as the V3
    release stores them (model.layers.{L+k}.*);
  * the sequence-wise balance loss alpha * sum_i f_i P_i (f from the top-k choice, no gradient;
    P the mean normalised score), averaged over sequences and summed over MoE blocks.

loss = CE_main + lambda / D * sum_k CE_k + balance, each CE the mean over unmasked targets.

`python3 tools/train_ref.py --write tests/golden/train` regenerates every case: a model dir
(config.json + model.safetensors, F32), batch.json (tokens, mask, knobs, reference losses) and
grads.safetensors (d loss / d parameter for every trained tensor, F32). Deterministic.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_ref as ref  # noqa: E402

torch.set_default_dtype(torch.float64)


def block(h, W, layer, cfg, cos, sin, trace):
    """One decoder block on one sequence (T, hidden)."""
    eps, p = cfg.rms_norm_eps, f"model.layers.{layer}."
    h = h + ref.attention(ref.rms_norm(h, W[p + "input_layernorm.weight"], eps), W, p + "self_attn.", cfg, cos, sin)
    x = ref.rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
    if cfg.is_moe_layer(layer):
        return h + ref.moe(x, W, p + "mlp.", cfg, trace)
    return h + ref.mlp(x, W, p + "mlp.")


def balance_loss(info, cfg):
    """alpha-free V3 sequence-wise balance loss of one sequence's routing record."""
    scores, idx = info["scores"], info["idx"]
    T, E = scores.shape
    K = cfg.num_experts_per_tok
    counts = torch.zeros(E)
    counts.index_add_(0, idx.reshape(-1), torch.ones(idx.numel()))
    f = (E / (K * T)) * counts  # no gradient: a count
    P = (scores / scores.sum(-1, keepdim=True)).mean(0)
    return (f * P).sum()


def routing_margin(info, cfg):
    """Smallest gap at a top-k (or group) boundary: a float32 engine must choose the same."""
    gaps = []
    masked = info["masked"].detach()
    vals = masked.sort(dim=-1, descending=True).values
    K = cfg.num_experts_per_tok
    finite = torch.isfinite(vals[:, K]) if K < vals.shape[1] else torch.zeros(vals.shape[0], dtype=torch.bool)
    if K < vals.shape[1]:
        gaps.append(torch.where(finite, vals[:, K - 1] - vals[:, K], torch.full_like(vals[:, 0], 1e9)).min().item())
    if info["group_scores"] is not None and cfg.topk_group < cfg.n_group:
        g = info["group_scores"].detach().sort(dim=-1, descending=True).values
        gaps.append((g[:, cfg.topk_group - 1] - g[:, cfg.topk_group]).min().item())
    return min(gaps) if gaps else 1e9


def objective(cfg, W, tokens, mask, depth, lam, alpha):
    """-> (loss, ce, [mtp ce], balance, min routing margin). tokens (B, T+1), mask (B, T)."""
    B, T1 = tokens.shape
    T, L, eps = T1 - 1, cfg.num_layers, cfg.rms_norm_eps
    cos, sin = ref.rope_cos_sin(cfg, T)
    head = W["model.embed_tokens.weight"] if cfg.tie_word_embeddings else W["lm_head.weight"]
    ce_sum, mtp_sums, bal, margin = 0.0, [0.0] * depth, 0.0, 1e9
    for b in range(B):
        trace = []
        h = W["model.embed_tokens.weight"][tokens[b, :T]]
        for layer in range(L):
            h = block(h, W, layer, cfg, cos, sin, trace)
        logits = ref.linear(ref.rms_norm(h, W["model.norm.weight"], eps), head)
        ce = torch.nn.functional.cross_entropy(logits, tokens[b, 1:], reduction="none")
        ce_sum = ce_sum + (ce * mask[b]).sum()
        prev = h
        for k in range(1, depth + 1):
            p = f"model.layers.{L + k - 1}."
            Tk = T - k
            emb = W["model.embed_tokens.weight"][tokens[b, k:k + Tk]]
            cat = torch.cat([ref.rms_norm(emb, W[p + "enorm.weight"], eps),
                             ref.rms_norm(prev[:Tk], W[p + "hnorm.weight"], eps)], dim=-1)
            hk = block(ref.linear(cat, W[p + "eh_proj.weight"]), W, L + k - 1, cfg, cos[:Tk], sin[:Tk], trace)
            lk = ref.linear(ref.rms_norm(hk, W[p + "shared_head.norm.weight"], eps), head)
            cek = torch.nn.functional.cross_entropy(lk, tokens[b, k + 1:k + 1 + Tk], reduction="none")
            mtp_sums[k - 1] = mtp_sums[k - 1] + (cek * mask[b, k:k + Tk]).sum()
            prev = hk
        for info in trace:
            bal = bal + alpha * balance_loss(info, cfg) / B
            margin = min(margin, routing_margin(info, cfg))
    ce = ce_sum / mask.sum()
    mtp = [mtp_sums[k - 1] / mask[:, k:].sum() for k in range(1, depth + 1)]
    loss = ce + bal + (lam / depth) * sum(mtp) if depth else ce + bal
    return loss, ce, mtp, bal, margin


# ---------------------------------------------------------------------------
# Golden cases.
# ---------------------------------------------------------------------------

BASE = {
    "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24, "moe_intermediate_size": 8,
    "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 64,
    "kv_lora_rank": 8, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4, "v_head_dim": 6, "rope_theta": 10000.0,
    "attention_bias": False, "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2,
    "first_k_dense_replace": 1, "moe_layer_freq": 1, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
}

CASES = {
    # V3: low-rank q, YaRN, sigmoid + noaux_tc with groups, renormalised and scaled weights,
    # two MTP modules, balance loss, a loss mask with holes.
    "v3_mtp": dict(BASE, model_type="deepseek_v3", q_lora_rank=12, n_group=2, topk_group=1, topk_method="noaux_tc",
                   scoring_func="sigmoid", norm_topk_prob=True, routed_scaling_factor=2.5, num_nextn_predict_layers=2,
                   rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                                 "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.8}),
    # V2-Lite: plain q, softmax + greedy, unnormalised weights, tied embedding, no MTP.
    "v2_plain": dict(BASE, model_type="deepseek_v2", q_lora_rank=None, n_group=1, topk_group=1, topk_method="greedy",
                     scoring_func="softmax", norm_topk_prob=False, routed_scaling_factor=1.0,
                     num_nextn_predict_layers=0, tie_word_embeddings=True, rope_scaling=None),
}
KNOBS = {"v3_mtp": {"mtp_lambda": 0.3, "balance_alpha": 0.1}, "v2_plain": {"mtp_lambda": 0.3, "balance_alpha": 0.05}}
B, T = 2, 8


def tensor_shapes(cfg, depth):
    """Every parameter's name and shape (the same table as src/model/weights.cc + MTP)."""
    c, D, H = cfg, cfg.hidden_size, cfg.num_heads
    qk = c.qk_nope_head_dim + c.qk_rope_head_dim
    out = [("model.embed_tokens.weight", (c.vocab_size, D))]

    def mlp(p, inter):
        return [(p + "gate_proj.weight", (inter, D)), (p + "up_proj.weight", (inter, D)), (p + "down_proj.weight", (D, inter))]

    for layer in range(c.num_layers + depth):
        p = f"model.layers.{layer}."
        if layer >= c.num_layers:
            out += [(p + "enorm.weight", (D,)), (p + "hnorm.weight", (D,)), (p + "eh_proj.weight", (D, 2 * D)),
                    (p + "shared_head.norm.weight", (D,))]
        out.append((p + "input_layernorm.weight", (D,)))
        a = p + "self_attn."
        if c.q_lora_rank is None:
            out.append((a + "q_proj.weight", (H * qk, D)))
        else:
            out += [(a + "q_a_proj.weight", (c.q_lora_rank, D)), (a + "q_a_layernorm.weight", (c.q_lora_rank,)),
                    (a + "q_b_proj.weight", (H * qk, c.q_lora_rank))]
        out += [(a + "kv_a_proj_with_mqa.weight", (c.kv_lora_rank + c.qk_rope_head_dim, D)),
                (a + "kv_a_layernorm.weight", (c.kv_lora_rank,)),
                (a + "kv_b_proj.weight", (H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank)),
                (a + "o_proj.weight", (D, H * c.v_head_dim)), (p + "post_attention_layernorm.weight", (D,))]
        if c.is_moe_layer(layer):
            m = p + "mlp."
            out.append((m + "gate.weight", (c.n_routed_experts, D)))
            if c.topk_method == "noaux_tc":
                out.append((m + "gate.e_score_correction_bias", (c.n_routed_experts,)))
            for e in range(c.n_routed_experts):
                out += mlp(f"{m}experts.{e}.", c.moe_intermediate_size)
            if c.n_shared_experts:
                out += mlp(m + "shared_experts.", c.moe_intermediate_size * c.n_shared_experts)
        else:
            out += mlp(p + "mlp.", c.intermediate_size)
    out.append(("model.norm.weight", (D,)))
    if not c.tie_word_embeddings:
        out.append(("lm_head.weight", (c.vocab_size, D)))
    return out


def make_weights(cfg, depth, rng):
    W = {}
    for name, shape in tensor_shapes(cfg, depth):
        if len(shape) == 2:
            std = 1.0 if name == "model.embed_tokens.weight" else 1.0 / math.sqrt(shape[1])
            v = rng.uniform(-math.sqrt(3) * std, math.sqrt(3) * std, size=shape)
        elif "e_score_correction_bias" in name:
            v = rng.uniform(-0.1, 0.1, size=shape)
        else:
            v = 1.0 + rng.uniform(-0.2, 0.2, size=shape)
        W[name] = torch.from_numpy(v.astype(np.float32).astype(np.float64))
    return W


def write_case(out_dir, name):
    raw = CASES[name]
    cfg = ref.Config(raw)
    depth = raw["num_nextn_predict_layers"]
    knobs = KNOBS[name]
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        W = make_weights(cfg, depth, rng)
        tokens = torch.from_numpy(rng.integers(0, cfg.vocab_size, size=(B, T + 1)))
        mask = torch.ones(B, T)
        mask[0, 2] = mask[1, 5] = mask[1, 6] = 0.0
        for w in W.values():
            w.requires_grad_(True)
        loss, ce, mtp, bal, margin = objective(cfg, W, tokens, mask, depth, knobs["mtp_lambda"], knobs["balance_alpha"])
        if margin > 1e-3:
            break
    else:
        raise RuntimeError("no seed with clear routing margins")
    loss.backward()

    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(raw, f, indent=1)
    tensors = {n: ("F32", w.detach().numpy().astype("<f4")) for n, w in W.items()}
    for k in range(depth):  # the V3 release also stores the shared embedding and head per MTP layer
        p = f"model.layers.{cfg.num_layers + k}."
        tensors[p + "embed_tokens.weight"] = tensors["model.embed_tokens.weight"]
        head = "model.embed_tokens.weight" if cfg.tie_word_embeddings else "lm_head.weight"
        tensors[p + "shared_head.head.weight"] = tensors[head]
    ref.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    grads = {n: ("F32", w.grad.numpy().astype("<f4")) for n, w in W.items()
             if "e_score_correction_bias" not in n}
    ref.write_safetensors(os.path.join(d, "grads.safetensors"), grads)
    batch = {"B": B, "T": T, "tokens": tokens.reshape(-1).tolist(), "mask": mask.reshape(-1).tolist(),
             "mtp_lambda": knobs["mtp_lambda"], "balance_alpha": knobs["balance_alpha"],
             "loss": loss.item(), "ce": ce.item(), "mtp": [m.item() for m in mtp], "balance": float(bal),
             "routing_margin": margin, "seed": 1000 + seed}
    with open(os.path.join(d, "batch.json"), "w") as f:
        json.dump(batch, f, indent=1)
    print(f"{name}: loss {loss.item():.6f} ce {ce.item():.6f} mtp {[round(m.item(), 6) for m in mtp]} "
          f"balance {float(bal):.6f} margin {margin:.2e} -> {d}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", required=True, help="output folder (tests/golden/train)")
    args = ap.parse_args(argv)
    for name in CASES:
        write_case(args.write, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
