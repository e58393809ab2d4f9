#!/usr/bin/env python3
"""Independent float64 reference of the DeepSeek-V2 / V2-Lite / V3 forward pass.

This is the "truth" the C++ engine (gorae) is tested against. It reads a model
directory in the Hugging Face layout (config.json + model.safetensors, or shards
listed in model.safetensors.index.json) with F32 / BF16 / F16 / F8_E4M3 (block
scaled) tensors, and computes next-token logits for a prompt.

Written from the DeepSeek-V2/V3 papers, the HF `modeling_deepseek.py` semantics
and the official DeepSeek-V3 `inference/model.py`; see tools/README.md for the
points where those sources disagree and which way this file goes.

Two forward passes live here on purpose:
  * `forward`       - whole prompt at once in torch, laid out like HF's code
                      (de-interleaving RoPE + rotate_half, explicit K/V per head).
  * `forward_naive` - numpy, one token at a time with a latent KV cache and
                      "absorbed" MLA attention, interleaved complex RoPE and
                      routing by plain sorting (like the official V3 code).
Both must agree to ~1e-12; tools/make_golden_models.py checks that.

Usage:
  /usr/bin/python3 tools/deepseek_ref.py --model DIR --tokens "1 2 3"
prints {"logits": [[...], ...]} (one row of vocab_size floats per position).
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# ---------------------------------------------------------------------------
# Storage dtypes. torch 1.13 has no float8 and we want bit-exact control over
# rounding anyway, so all encoders/decoders are plain numpy.
# ---------------------------------------------------------------------------


def _fp8_e4m3fn_values():
    """Value of every e4m3fn code (1 sign, 4 exponent bits bias 7, 3 mantissa
    bits, subnormals, no infinities, S.1111.111 is NaN)."""
    codes = np.arange(256)
    exp = (codes >> 3) & 0xF
    man = (codes & 0x7).astype(np.float64)
    mag = np.where(exp == 0, man / 8.0 * 2.0 ** -6, (1.0 + man / 8.0) * 2.0 ** (exp - 7.0))
    vals = np.where(codes & 0x80, -mag, mag)
    vals[(codes & 0x7F) == 0x7F] = np.nan
    return vals


FP8_E4M3_VALUES = _fp8_e4m3fn_values()
FP8_E4M3_MAX = 448.0  # code 0x7e


def fp8_e4m3_decode(codes):
    return FP8_E4M3_VALUES[np.asarray(codes, dtype=np.uint8)]


def fp8_e4m3_encode(x):
    """Round to nearest e4m3fn, ties to even. Magnitudes above 448 saturate to
    448 (the format has no infinity and the next step up would be NaN)."""
    x = np.asarray(x, dtype=np.float64)
    mags = FP8_E4M3_VALUES[:0x7F]  # codes 0..126: all finite magnitudes, ascending
    a = np.minimum(np.abs(x), FP8_E4M3_MAX)
    hi = np.clip(np.searchsorted(mags, a, side="left"), 1, 0x7E)  # mags[hi-1] < a <= mags[hi]
    lo = hi - 1
    # Compare 2a with lo+hi instead of the two distances: both sides are exact in
    # float64, so true ties are detected and go to the even code (mantissa LSB 0).
    twice, mid = 2.0 * a, mags[lo] + mags[hi]
    code = np.where(twice < mid, lo, np.where(twice > mid, hi, np.where(lo % 2 == 0, lo, hi)))
    code = np.where(np.isnan(x), 0x7F, code)
    code = code | np.where(np.signbit(x), 0x80, 0)
    return code.astype(np.uint8)


def bf16_encode(x):
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(np.asarray(x, dtype=np.float32)), np.uint16(0x7FC0), r).astype(np.uint16)


def bf16_decode(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# dtype name in the safetensors header -> numpy dtype of the raw stored words.
RAW_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F8_E4M3": np.dtype("u1"),
}


def encode(values, dtype):
    """float32 array -> raw words of `dtype` (the bytes that go into the file)."""
    values = np.asarray(values, dtype=np.float32)
    if dtype == "F32":
        return values.astype("<f4")
    if dtype == "F16":
        return values.astype("<f2")  # numpy's float->half is round-to-nearest-even
    if dtype == "BF16":
        return bf16_encode(values)
    if dtype == "F8_E4M3":
        return fp8_e4m3_encode(values)
    raise ValueError(f"unsupported dtype {dtype}")


def decode(raw, dtype):
    """Raw stored words -> exact float64 values."""
    if dtype in ("F32", "F16"):
        return raw.astype(np.float64)
    if dtype == "BF16":
        return bf16_decode(raw).astype(np.float64)
    if dtype == "F8_E4M3":
        return fp8_e4m3_decode(raw)
    raise ValueError(f"unsupported dtype {dtype}")


# ---------------------------------------------------------------------------
# safetensors (no `safetensors` package on this system).
# ---------------------------------------------------------------------------


def write_safetensors(path, tensors):
    """tensors: ordered {name: (dtype, raw ndarray)}. Data is laid out in the
    given order; the header is space-padded so the data starts 8-aligned."""
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, raw) in tensors.items():
        assert raw.dtype == RAW_DTYPES[dtype], (name, raw.dtype, dtype)
        header[name] = {"dtype": dtype, "shape": list(raw.shape), "data_offsets": [offset, offset + raw.nbytes]}
        offset += raw.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for dtype, raw in tensors.values():
            f.write(np.ascontiguousarray(raw).tobytes())


def read_safetensors(path):
    """-> {name: (dtype, raw ndarray)}, validating offsets against shapes."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = info["dtype"], info["shape"]
        begin, end = info["data_offsets"]
        raw_dtype = RAW_DTYPES[dtype]
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * raw_dtype.itemsize or base + end > len(data):
            raise ValueError(f"{path}: bad data_offsets for {name}")
        out[name] = (dtype, np.frombuffer(data, dtype=raw_dtype, count=count, offset=base + begin).reshape(shape))
    return out


def read_checkpoint_raw(model_dir):
    """All tensors of a model dir, single file or sharded via the index."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        tensors.update(read_safetensors(os.path.join(model_dir, name)))
    return tensors


def dequantize_blocks(values, scale_inv, block):
    """fp8 value * scale_inv[r // block_r][c // block_c] (the name notwithstanding,
    `weight_scale_inv` is the multiplier that restores the real weight)."""
    rows, cols = values.shape
    br, bc = block
    expect = (-(-rows // br), -(-cols // bc))
    if tuple(scale_inv.shape) != expect:
        raise ValueError(f"scale_inv shape {scale_inv.shape} != {expect} for weight {values.shape}")
    full = np.repeat(np.repeat(scale_inv, br, axis=0), bc, axis=1)[:rows, :cols]
    return values * full


def load_weights(model_dir, config):
    """-> {name: float64 torch tensor} holding exactly the stored values
    (fp8 weights already multiplied by their block scales)."""
    raw = read_checkpoint_raw(model_dir)
    block = (config.raw.get("quantization_config") or {}).get("weight_block_size", [128, 128])
    weights = {}
    for name, (dtype, data) in raw.items():
        if name.endswith("_scale_inv"):
            continue
        values = decode(data, dtype)
        if dtype == "F8_E4M3":
            scale_name = name + "_scale_inv"
            if scale_name not in raw:
                raise ValueError(f"fp8 tensor {name} has no {scale_name}")
            scale_dtype, scale_raw = raw[scale_name]
            values = dequantize_blocks(values, decode(scale_raw, scale_dtype), block)
        weights[name] = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))
    return weights


# ---------------------------------------------------------------------------
# Config.
# ---------------------------------------------------------------------------


class Config:
    """The config.json fields the forward pass uses. Defaults follow HF's
    DeepseekV2Config / DeepseekV3Config where a key is missing or null; null
    q_lora_rank / n_routed_experts keep their meaning (plain q_proj / dense)."""

    def __init__(self, raw):
        self.raw = raw
        v3 = raw["model_type"] == "deepseek_v3"

        def get(key, default=None):
            value = raw.get(key)
            return default if value is None else value

        self.model_type = raw["model_type"]
        self.vocab_size = raw["vocab_size"]
        self.hidden_size = raw["hidden_size"]
        self.num_layers = raw["num_hidden_layers"]
        self.num_heads = raw["num_attention_heads"]
        self.intermediate_size = raw["intermediate_size"]
        self.moe_intermediate_size = get("moe_intermediate_size")
        self.q_lora_rank = raw.get("q_lora_rank")
        self.kv_lora_rank = raw["kv_lora_rank"]
        self.qk_nope_head_dim = raw["qk_nope_head_dim"]
        self.qk_rope_head_dim = raw["qk_rope_head_dim"]
        self.v_head_dim = raw["v_head_dim"]
        self.rope_theta = float(get("rope_theta", 10000.0))
        self.rope_scaling = raw.get("rope_scaling")
        self.rms_norm_eps = float(get("rms_norm_eps", 1e-6))
        self.n_routed_experts = raw.get("n_routed_experts")
        self.n_shared_experts = get("n_shared_experts", 0)
        self.num_experts_per_tok = get("num_experts_per_tok")
        self.first_k_dense_replace = get("first_k_dense_replace", 0)
        self.moe_layer_freq = get("moe_layer_freq", 1)
        self.n_group = get("n_group", 1)
        self.topk_group = get("topk_group", 1)
        self.topk_method = get("topk_method", "noaux_tc" if v3 else "greedy")
        self.scoring_func = get("scoring_func", "sigmoid" if v3 else "softmax")
        self.norm_topk_prob = get("norm_topk_prob", False)
        self.routed_scaling_factor = float(get("routed_scaling_factor", 2.5 if v3 else 1.0))
        self.tie_word_embeddings = get("tie_word_embeddings", False)

    def is_moe_layer(self, layer):
        return (bool(self.n_routed_experts) and layer >= self.first_k_dense_replace
                and layer % self.moe_layer_freq == 0)


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return Config(json.load(f))


# ---------------------------------------------------------------------------
# RoPE / YaRN.
# ---------------------------------------------------------------------------


def yarn_get_mscale(scale, mscale):
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def yarn_correction_range(cfg):
    """(low, high) dimension-pair indices between which YaRN blends from
    extrapolated (original) to interpolated (divided by factor) frequencies."""
    rs, d, base = cfg.rope_scaling, cfg.qk_rope_head_dim, cfg.rope_theta
    orig = rs["original_max_position_embeddings"]

    def corr_dim(rotations):
        return d * math.log(orig / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(corr_dim(rs.get("beta_fast", 32))), 0)
    high = min(math.ceil(corr_dim(rs.get("beta_slow", 1))), d - 1)
    return low, high


def yarn_ramp(low, high, n):
    if low == high:
        high += 0.001  # avoid 0/0, as HF does
    return torch.clamp((torch.arange(n, dtype=torch.float64) - low) / (high - low), 0, 1)


def rope_inv_freq(cfg):
    """-> (inv_freq[d/2], cos/sin multiplier)."""
    d = cfg.qk_rope_head_dim
    freq_extra = 1.0 / cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    rs = cfg.rope_scaling
    if not rs:
        return freq_extra, 1.0
    if rs.get("type", rs.get("rope_type")) != "yarn":
        raise ValueError(f"unsupported rope_scaling {rs}")
    factor = rs["factor"]
    extrapolate = 1.0 - yarn_ramp(*yarn_correction_range(cfg), d // 2)  # 1 = keep original freq
    inv_freq = (freq_extra / factor) * (1 - extrapolate) + freq_extra * extrapolate
    mscale = yarn_get_mscale(factor, rs.get("mscale", 1)) / yarn_get_mscale(factor, rs.get("mscale_all_dim", 0))
    return inv_freq, mscale


def softmax_scale(cfg):
    scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    rs = cfg.rope_scaling
    if rs and rs.get("mscale_all_dim", 0):
        m = yarn_get_mscale(rs["factor"], rs["mscale_all_dim"])
        scale *= m * m
    return scale


def rope_cos_sin(cfg, num_positions):
    """HF-style tables of width d: cat(freqs, freqs), scaled by the YaRN mscale."""
    inv_freq, mscale = rope_inv_freq(cfg)
    freqs = torch.outer(torch.arange(num_positions, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos() * mscale, emb.sin() * mscale


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope_hf(x, cos, sin):
    """x: (..., T, d). The checkpoint stores rope dims as interleaved pairs;
    HF de-interleaves them ([x0,x2,..,x1,x3,..]) and then uses rotate_half.
    Q and K get the same permutation, so dot products are unaffected."""
    d = x.shape[-1]
    x = x.reshape(*x.shape[:-1], d // 2, 2).transpose(-1, -2).reshape(x.shape)
    return x * cos + rotate_half(x) * sin


# ---------------------------------------------------------------------------
# Forward pass (torch, float64, whole prompt at once).
# ---------------------------------------------------------------------------


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def linear(x, w):
    return x @ w.T  # HF Linear weights are (out_features, in_features)


def mlp(x, W, prefix):
    gate = linear(x, W[prefix + "gate_proj.weight"])
    return linear(torch.nn.functional.silu(gate) * linear(x, W[prefix + "up_proj.weight"]),
                  W[prefix + "down_proj.weight"])


def attention(x, W, prefix, cfg, cos, sin):
    """Multi-head latent attention in its plain (non-absorbed) form."""
    T, H = x.shape[0], cfg.num_heads
    dn, dr, dv, eps = cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim, cfg.rms_norm_eps
    if cfg.q_lora_rank is None:
        q = linear(x, W[prefix + "q_proj.weight"])
    else:
        q_a = rms_norm(linear(x, W[prefix + "q_a_proj.weight"]), W[prefix + "q_a_layernorm.weight"], eps)
        q = linear(q_a, W[prefix + "q_b_proj.weight"])
    q_nope, q_pe = q.view(T, H, dn + dr).transpose(0, 1).split([dn, dr], dim=-1)

    c_kv, k_pe = linear(x, W[prefix + "kv_a_proj_with_mqa.weight"]).split([cfg.kv_lora_rank, dr], dim=-1)
    kv = linear(rms_norm(c_kv, W[prefix + "kv_a_layernorm.weight"], eps), W[prefix + "kv_b_proj.weight"])
    k_nope, v = kv.view(T, H, dn + dv).transpose(0, 1).split([dn, dv], dim=-1)

    q_pe = apply_rope_hf(q_pe, cos, sin)
    k_pe = apply_rope_hf(k_pe.unsqueeze(0), cos, sin).expand(H, T, dr)  # one rope key shared by all heads
    q_full = torch.cat([q_nope, q_pe], dim=-1)
    k_full = torch.cat([k_nope, k_pe], dim=-1)

    scores = q_full @ k_full.transpose(-1, -2) * softmax_scale(cfg)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    probs = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    out = (probs @ v).transpose(0, 1).reshape(T, H * dv)
    return linear(out, W[prefix + "o_proj.weight"])


def route(x, W, prefix, cfg):
    """-> (expert indices (T,k), weights (T,k), trace dict for margin checks)."""
    logits = linear(x, W[prefix + "gate.weight"])
    if cfg.scoring_func == "softmax":
        scores = torch.softmax(logits, dim=-1)
    elif cfg.scoring_func == "sigmoid":
        scores = torch.sigmoid(logits)
    else:
        raise ValueError(f"unsupported scoring_func {cfg.scoring_func}")

    T, E = scores.shape
    choice, group_scores = scores, None
    if cfg.topk_method == "noaux_tc":
        # The bias only steers which experts are picked, never their weights.
        choice = scores + W[prefix + "gate.e_score_correction_bias"]
        group_scores = choice.view(T, cfg.n_group, -1).topk(2, dim=-1).values.sum(-1)
    elif cfg.topk_method == "group_limited_greedy":
        group_scores = choice.view(T, cfg.n_group, -1).amax(-1)
    elif cfg.topk_method != "greedy":
        raise ValueError(f"unsupported topk_method {cfg.topk_method}")

    masked = choice
    if group_scores is not None:
        kept = group_scores.topk(cfg.topk_group, dim=-1).indices
        group_keep = torch.zeros(T, cfg.n_group, dtype=torch.bool).scatter_(1, kept, True)
        expert_keep = group_keep.repeat_interleave(E // cfg.n_group, dim=1)
        # -inf like the official V3 code (HF fills 0.0; same result unless every
        # kept expert scores <= 0, which the golden generator rules out).
        masked = choice.masked_fill(~expert_keep, float("-inf"))

    idx = masked.topk(cfg.num_experts_per_tok, dim=-1).indices
    weights = scores.gather(1, idx)
    normalized = cfg.num_experts_per_tok > 1 and cfg.norm_topk_prob
    if normalized:
        weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
    # HF's V2 code scales only in the not-normalised branch; V3 always scales.
    if cfg.model_type == "deepseek_v3" or not normalized:
        weights = weights * cfg.routed_scaling_factor
    trace = {"scores": scores, "choice": choice, "masked": masked, "group_scores": group_scores, "idx": idx}
    return idx, weights, trace


def moe(x, W, prefix, cfg, trace=None):
    idx, weights, info = route(x, W, prefix, cfg)
    if trace is not None:
        trace.append(info)
    out = torch.zeros_like(x)
    for e in range(cfg.n_routed_experts):
        token, slot = (idx == e).nonzero(as_tuple=True)
        if token.numel():
            y = mlp(x[token], W, f"{prefix}experts.{e}.") * weights[token, slot].unsqueeze(-1)
            out.index_add_(0, token, y)
    if cfg.n_shared_experts:
        out = out + mlp(x, W, prefix + "shared_experts.")
    return out


def forward(cfg, W, tokens, trace=None):
    """-> float64 logits (T, vocab). `trace`, if a list, receives one routing
    record per MoE layer (in layer order)."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    eps = cfg.rms_norm_eps
    h = W["model.embed_tokens.weight"][tokens]
    cos, sin = rope_cos_sin(cfg, len(tokens))
    for layer in range(cfg.num_layers):
        p = f"model.layers.{layer}."
        h = h + attention(rms_norm(h, W[p + "input_layernorm.weight"], eps), W, p + "self_attn.", cfg, cos, sin)
        x = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        h = h + (moe(x, W, p + "mlp.", cfg, trace) if cfg.is_moe_layer(layer) else mlp(x, W, p + "mlp."))
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.tie_word_embeddings else W["lm_head.weight"]
    return linear(h, head)


# ---------------------------------------------------------------------------
# Second forward pass: numpy, one token at a time, written independently of
# the one above (different RoPE formulation, absorbed attention, scalar YaRN,
# routing by sorting) so that a shared mistake is unlikely.
# ---------------------------------------------------------------------------


def _naive_inv_freq(cfg):
    """Scalar re-derivation of YaRN: per frequency pair i, blend the original
    frequency with frequency/factor using a ramp between the correction dims."""
    d, base, rs = cfg.qk_rope_head_dim, cfg.rope_theta, cfg.rope_scaling
    original = [base ** (-(2.0 * i) / d) for i in range(d // 2)]
    if not rs:
        return np.array(original), 1.0
    factor, orig_ctx = rs["factor"], rs["original_max_position_embeddings"]
    dim_for = lambda rot: d * math.log(orig_ctx / (2 * math.pi * rot)) / (2 * math.log(base))
    low = max(math.floor(dim_for(rs.get("beta_fast", 32))), 0)
    high = min(math.ceil(dim_for(rs.get("beta_slow", 1))), d - 1)
    span = (high - low) if high != low else 0.001
    inv = []
    for i, f in enumerate(original):
        interp = min(max((i - low) / span, 0.0), 1.0)  # 0 -> original, 1 -> divided by factor
        inv.append(f * (1 - interp) + (f / factor) * interp)
    m = lambda s: 1.0 if factor <= 1 else 0.1 * s * math.log(factor) + 1.0
    return np.array(inv), m(rs.get("mscale", 1)) / m(rs.get("mscale_all_dim", 0))


def _naive_rope(x, pos, inv_freq, mscale):
    """Rotate interleaved pairs (x[2i], x[2i+1]) as complex numbers."""
    z = (x[0::2] + 1j * x[1::2]) * (mscale * np.exp(1j * pos * inv_freq))
    out = np.empty_like(x)
    out[0::2], out[1::2] = z.real, z.imag
    return out


def _naive_rms(x, w, eps):
    return x / math.sqrt(float(np.dot(x, x)) / len(x) + eps) * w


def _naive_mlp(x, W, p):
    g = W[p + "gate_proj.weight"] @ x
    return W[p + "down_proj.weight"] @ (g / (1 + np.exp(-g)) * (W[p + "up_proj.weight"] @ x))


def _naive_route(x, W, p, cfg):
    logits = W[p + "gate.weight"] @ x
    if cfg.scoring_func == "softmax":
        e = np.exp(logits - logits.max())
        scores = e / e.sum()
    else:
        scores = 1 / (1 + np.exp(-logits))
    E = len(scores)
    choice = list(scores)
    if cfg.topk_method == "noaux_tc":
        choice = list(scores + W[p + "gate.e_score_correction_bias"])
    allowed = list(range(E))
    if cfg.topk_method in ("noaux_tc", "group_limited_greedy"):
        per = E // cfg.n_group
        group_score = []
        for g in range(cfg.n_group):
            members = sorted(choice[g * per:(g + 1) * per], reverse=True)
            group_score.append(members[0] + members[1] if cfg.topk_method == "noaux_tc" else members[0])
        kept = sorted(range(cfg.n_group), key=lambda g: -group_score[g])[:cfg.topk_group]
        allowed = [e for e in range(E) if e // per in kept]
    chosen = sorted(allowed, key=lambda e: -choice[e])[:cfg.num_experts_per_tok]
    weights = [scores[e] for e in chosen]
    if cfg.num_experts_per_tok > 1 and cfg.norm_topk_prob:
        total = sum(weights) + 1e-20
        weights = [w / total for w in weights]
        if cfg.model_type == "deepseek_v3":
            weights = [w * cfg.routed_scaling_factor for w in weights]
    else:
        weights = [w * cfg.routed_scaling_factor for w in weights]
    return chosen, weights


def _naive_attention(x, W, p, cfg, pos, cache, inv_freq, mscale):
    """Absorbed MLA: queries are projected into the kv_lora latent space, so the
    cache holds only the normalised latent and the roped shared key."""
    H, dn, dr, dv, r = (cfg.num_heads, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim,
                        cfg.kv_lora_rank)
    eps = cfg.rms_norm_eps
    if cfg.q_lora_rank is None:
        q = W[p + "q_proj.weight"] @ x
    else:
        q = W[p + "q_b_proj.weight"] @ _naive_rms(W[p + "q_a_proj.weight"] @ x, W[p + "q_a_layernorm.weight"], eps)
    kv_a = W[p + "kv_a_proj_with_mqa.weight"] @ x
    cache.append((_naive_rms(kv_a[:r], W[p + "kv_a_layernorm.weight"], eps),
                  _naive_rope(kv_a[r:], pos, inv_freq, mscale)))
    latents = np.stack([c for c, _ in cache])
    rope_keys = np.stack([k for _, k in cache])
    kv_b = W[p + "kv_b_proj.weight"].reshape(H, dn + dv, r)
    scale = softmax_scale(cfg)
    heads = []
    for h in range(H):
        qh = q[h * (dn + dr):(h + 1) * (dn + dr)]
        q_latent = kv_b[h, :dn].T @ qh[:dn]
        s = (latents @ q_latent + rope_keys @ _naive_rope(qh[dn:], pos, inv_freq, mscale)) * scale
        prob = np.exp(s - s.max())
        prob /= prob.sum()
        heads.append(kv_b[h, dn:] @ (prob @ latents))
    return W[p + "o_proj.weight"] @ np.concatenate(heads)


def forward_naive(cfg, W, tokens):
    W = {k: v.numpy() for k, v in W.items()}
    inv_freq, mscale = _naive_inv_freq(cfg)
    eps = cfg.rms_norm_eps
    caches = [[] for _ in range(cfg.num_layers)]
    head = W["model.embed_tokens.weight"] if cfg.tie_word_embeddings else W["lm_head.weight"]
    rows = []
    for pos, tok in enumerate(tokens):
        h = W["model.embed_tokens.weight"][tok].copy()
        for layer in range(cfg.num_layers):
            p = f"model.layers.{layer}."
            h = h + _naive_attention(_naive_rms(h, W[p + "input_layernorm.weight"], eps), W, p + "self_attn.",
                                     cfg, pos, caches[layer], inv_freq, mscale)
            x = _naive_rms(h, W[p + "post_attention_layernorm.weight"], eps)
            if cfg.is_moe_layer(layer):
                chosen, weights = _naive_route(x, W, p + "mlp.", cfg)
                y = sum(w * _naive_mlp(x, W, f"{p}mlp.experts.{e}.") for e, w in zip(chosen, weights))
                if cfg.n_shared_experts:
                    y = y + _naive_mlp(x, W, p + "mlp.shared_experts.")
            else:
                y = _naive_mlp(x, W, p + "mlp.")
            h = h + y
        rows.append(head @ _naive_rms(h, W["model.norm.weight"], eps))
    return np.stack(rows)


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def format_float32(value):
    """Shortest text that parses back to the same float32 (numpy's repr)."""
    return str(np.float32(value))


def logits_json(logits):
    rows = ["[" + ", ".join(format_float32(v) for v in row) + "]" for row in np.asarray(logits)]
    return '{"logits": [\n' + ",\n".join(rows) + "\n]}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory (config.json + safetensors)")
    ap.add_argument("--tokens", required=True, help='token ids, e.g. "1 2 3" (commas also accepted)')
    ap.add_argument("--naive", action="store_true", help="use the per-token numpy forward instead")
    args = ap.parse_args(argv)
    tokens = [int(t) for t in args.tokens.replace(",", " ").split()]
    cfg = load_config(args.model)
    W = load_weights(args.model, cfg)
    if any(t < 0 or t >= cfg.vocab_size for t in tokens) or not tokens:
        ap.error(f"tokens must be non-empty and in [0, {cfg.vocab_size})")
    logits = forward_naive(cfg, W, tokens) if args.naive else forward(cfg, W, tokens).numpy()
    print(logits_json(logits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
