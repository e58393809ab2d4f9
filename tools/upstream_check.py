#!/usr/bin/env python3
"""The golden files against upstream code: Hugging Face transformers and TRL.

The goldens under tests/golden/ come from references written in this project (tools/deepseek_ref.py,
gqa_ref.py, grpo_ref.py): independent of the C++, not of our reading of the papers. This script
checks them against the upstream implementations people actually run:

(a) models: for each golden model directory, transformers' own LlamaForCausalLM /
    Qwen2ForCausalLM / DeepseekV2ForCausalLM / DeepseekV3ForCausalLM (native classes, no remote
    code) runs the golden's token ids in float64 (eager attention, eager experts); its logits are
    compared with the committed expected.json and with `gorae logits` (both `--mla naive` and
    `--mla absorbed` for DeepSeek).
(b) GRPO: TRL's GRPOTrainer._compute_loss, the function GRPOTrainer.compute_loss calls, run
    unbound on a stand-in trainer object holding only the attributes it reads, on the fixed
    inputs of tests/golden/rl/grpo_loss.json (tools/grpo_ref.py), gives the loss, the gradient
    with respect to the logits (autograd through TRL's code), the clip ratio and the KL metric;
    they are compared with the committed golden values.

Run with the venv of tools/setup_trl_venv.sh:

    bash tools/setup_trl_venv.sh
    /work/venv-trl/bin/python tools/upstream_check.py [--gorae build/src/cli/gorae] \
        [--out tests/golden/upstream/report.json] [--threads 1]

Exit status 1 when a comparison the report marks as expected to agree does not (see
"tolerance" per case). Never needed at build or test time; the report is committed.

Where transformers cannot take a golden directory as it is, the script says what it changed,
in the report ("adaptation"):
* v3_fp8_block: transformers' fp8 dequantization (FineGrainedFP8Config(dequantize=True), the
  path for CPUs) derives the block size as rows // scale_rows, which is wrong for weights whose
  sizes are not multiples of 128 (this golden has partial edge blocks: 192 columns, two scale
  columns, so it uses blocks of 96 and scales a quarter of the values with the wrong block's
  scale; the real V3's kv_a_proj_with_mqa (576 rows, 5 scale rows) is refused by it). So the
  script dequantizes with 128x128 blocks itself (ceil-div grid, as DeepSeek's weight_dequant),
  in float64, and loads that into the native DeepseekV3 model without quantization_config. The
  report also gives the figure for transformers' own dequantization.
* dense_only: DeepseekV3Config refuses n_routed_experts = null (strict dataclass fields); the
  same model is first_k_dense_replace = num_hidden_layers with placeholder MoE sizes (unused).
* v2_group_limited_f16_sharded: transformers' native DeepseekV2 differs from DeepSeek's own
  modeling_deepseek.py (the remote code the release ships) in two ways this golden exercises:
  it ignores moe_layer_freq (every layer from first_k_dense_replace on is MoE; the checkpoint's
  dense layers 1 and 3 then get random experts) and it ignores norm_topk_prob (always
  weights * routed_scaling_factor; DeepSeek's code normalises instead when norm_topk_prob). The
  report gives the native figure, and the figure with those two points patched to DeepSeek's
  code (dense MLPs in the layers with layer % moe_layer_freq != 0, weights / sum when
  norm_topk_prob).

Note on "float64": transformers computes the RoPE cos/sin tables, RMSNorm and the router logits
in float32 even when the model is float64 (`.float()` / `.to(torch.float32)` in those modules),
so its logits carry float32 rounding (about 1e-7 relative); the goldens are a float64 reference
rounded to float32. Agreement to ~1e-5 on logits of size 10-35 is therefore the expected level.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden", "models")

# Every golden model directory. The tolerance is on max |transformers - golden| and
# max |transformers - gorae|; argmax must agree at every position.
CASES = [
    "llama3_gqa_f32",
    "qwen2_gqa_bias_bf16",
    "v2lite_softmax_greedy_bf16",
    "v3_sigmoid_noaux_yarn",
    "v2_group_limited_f16_sharded",
    "v3_fp8_block",
    "dense_only",
    # the checkpoints behind llama.cpp's converter output (tools/llamacpp_gguf_fixtures.py); their
    # model.gguf also goes through gorae
    "../gguf/llamacpp_v3",
    "../gguf/llamacpp_v2lite",
]
TOL = 1e-4  # as tests/model_golden_test.cc
FP8_BLOCK = 128


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def max_abs(a, b):
    d = (torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)).abs()
    return float("inf") if not torch.isfinite(d).all() else float(d.max())


def same_argmax(a, b):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return int((a.argmax(-1) == b.argmax(-1)).sum())


def gorae_logits(gorae, model_dir, tokens, mla, threads):
    cmd = [gorae, "logits", "--model", model_dir, "--tokens", " ".join(map(str, tokens)), "--threads", str(threads)]
    if mla:
        cmd += ["--mla", mla]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()}")
    return torch.tensor(json.loads(out.stdout)["logits"], dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# (a) models through transformers
# ---------------------------------------------------------------------------------------------


def load_hf(model_dir, **kw):
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64, attn_implementation="eager",
                                             experts_implementation="eager", **kw)
    return m.double().eval()


def hf_forward(model, tokens):
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].double()


def read_safetensors(model_dir):
    from safetensors.torch import load_file
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for f in files:
        out.update(load_file(os.path.join(model_dir, f)))
    return out


def dequantized_copy(model_dir, tmp):
    """model_dir with its fp8 block weights dequantized in float64 (128x128 blocks, ceil-div grid,
    partial edge blocks), other tensors widened to float64, config without quantization_config."""
    from safetensors.torch import save_file
    sd = read_safetensors(model_dir)
    out = {}
    for name, w in sd.items():
        if name.endswith("_scale_inv"):
            continue
        if w.dtype == torch.float8_e4m3fn:
            s = sd[name + "_scale_inv"].to(torch.float64)
            full = s.repeat_interleave(FP8_BLOCK, 0).repeat_interleave(FP8_BLOCK, 1)[: w.shape[0], : w.shape[1]]
            out[name] = w.to(torch.float64) * full
        else:
            out[name] = w.to(torch.float64)
    save_file(out, os.path.join(tmp, "model.safetensors"))
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    cfg.pop("quantization_config", None)
    cfg["torch_dtype"] = "float64"
    json.dump(cfg, open(os.path.join(tmp, "config.json"), "w"), indent=2)
    return tmp


def dense_copy(model_dir, tmp):
    """dense_only with n_routed_experts etc. null -> all layers dense, placeholder MoE sizes."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    cfg.update(first_k_dense_replace=cfg["num_hidden_layers"], n_routed_experts=1, num_experts_per_tok=1,
               n_shared_experts=0, n_group=1, topk_group=1)
    json.dump(cfg, open(os.path.join(tmp, "config.json"), "w"), indent=2)
    os.symlink(os.path.join(model_dir, "model.safetensors"), os.path.join(tmp, "model.safetensors"))
    return tmp


def patch_v2_as_deepseek_code(model, model_dir):
    """Makes transformers' native DeepseekV2 follow DeepSeek's modeling_deepseek.py on the two points
    it leaves out: moe_layer_freq (dense MLP where layer % freq != 0) and norm_topk_prob."""
    from transformers.models.deepseek_v2 import modeling_deepseek_v2 as mv2
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    freq, first = cfg.get("moe_layer_freq", 1), cfg.get("first_k_dense_replace", 0)
    sd = read_safetensors(model_dir)
    changed = []
    for i, layer in enumerate(model.model.layers):
        if i >= first and i % freq != 0:
            mlp = mv2.DeepseekV2MLP(model.config).double()
            for p in ("gate_proj", "up_proj", "down_proj"):
                getattr(mlp, p).weight.data.copy_(sd[f"model.layers.{i}.mlp.{p}.weight"].to(torch.float64))
            layer.mlp = mlp
            changed.append(i)
    if cfg.get("norm_topk_prob") and cfg.get("num_experts_per_tok", 1) > 1:
        for layer in model.model.layers:
            gate = getattr(layer.mlp, "gate", None)
            if isinstance(gate, mv2.DeepseekV2TopkRouter):
                native = gate.forward

                def forward(hidden_states, native=native):
                    logits, w, idx = native(hidden_states)  # w = softmax score * routed_scaling_factor
                    return logits, w / (w.sum(-1, keepdim=True) + 1e-20), idx  # = score / sum(score)

                gate.forward = forward
    return changed


def check_model(case, gorae, threads):
    d = os.path.normpath(os.path.join(GOLDEN, case))
    ex = json.load(open(os.path.join(d, "expected.json")))
    tokens, golden = ex["tokens"], torch.tensor(ex["logits"], dtype=torch.float64)
    cfg = json.load(open(os.path.join(d, "config.json")))
    deepseek = cfg["model_type"].startswith("deepseek")
    r = {"case": os.path.relpath(d, os.path.join(ROOT, "tests", "golden")), "model_type": cfg["model_type"], "positions": len(tokens)}
    tmp = tempfile.mkdtemp(prefix="upstream_")
    try:
        variants = {}
        if case == "v3_fp8_block":
            from transformers import FineGrainedFP8Config
            own = load_hf(d, quantization_config=FineGrainedFP8Config(dequantize=True))
            lo = hf_forward(own, tokens)
            r["transformers_fp8_dequantize"] = {
                "max_abs_vs_golden": max_abs(lo, golden), "same_argmax_vs_golden": same_argmax(lo, golden),
                "note": "transformers' own FineGrainedFP8Config(dequantize=True): block = rows // scale_rows "
                        "(96 here), not 128; disagrees by design of that code, not compared"}
            r["adaptation"] = "fp8 blocks dequantized by this script (128x128, float64), no quantization_config"
            variants["native"] = load_hf(dequantized_copy(d, tmp))
        elif case == "dense_only":
            r["adaptation"] = "n_routed_experts null -> first_k_dense_replace = num_hidden_layers (same model)"
            variants["native"] = load_hf(dense_copy(d, tmp))
        elif case == "v2_group_limited_f16_sharded":
            variants["native_unpatched"] = load_hf(d)
            m = load_hf(d)
            changed = patch_v2_as_deepseek_code(m, d)
            r["adaptation"] = (f"native DeepseekV2 patched to DeepSeek's modeling_deepseek.py: dense MLPs in layers "
                               f"{changed} (moe_layer_freq {cfg['moe_layer_freq']}), routing weights normalised "
                               f"(norm_topk_prob true, so no routed_scaling_factor)")
            variants["native"] = m
        else:
            variants["native"] = load_hf(d)
        r["transformers_class"] = type(variants["native"]).__name__
        for name, m in variants.items():
            lo = hf_forward(m, tokens)
            v = {"max_abs_vs_golden": max_abs(lo, golden), "same_argmax_vs_golden": same_argmax(lo, golden)}
            if name == "native":
                gguf = os.path.join(d, "model.gguf")
                sources = [("", d)] + ([("gguf_", gguf)] if os.path.exists(gguf) else [])
                for (prefix, src), mla in [(s, m) for s in sources for m in (["naive", "absorbed"] if deepseek else [None])]:
                    g = gorae_logits(gorae, src, tokens, mla, threads)
                    key = prefix + (f"gorae_{mla}" if mla else "gorae")
                    v[f"max_abs_vs_{key}"] = max_abs(lo, g)
                    v[f"same_argmax_vs_{key}"] = same_argmax(lo, g)
                    v[f"{key}_max_abs_vs_golden"] = max_abs(g, golden)
                v["max_abs_logit"] = float(golden.abs().max())
            r[f"transformers_{name}"] = v
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    native = r["transformers_native"]
    diffs = [v for k, v in native.items() if k.startswith("max_abs_vs")]
    argmaxes = [v for k, v in native.items() if k.startswith("same_argmax")]
    r["tolerance"] = TOL
    r["agrees"] = max(diffs) < TOL and all(a == len(tokens) for a in argmaxes)
    return r


# ---------------------------------------------------------------------------------------------
# (b) GRPO loss through TRL
# ---------------------------------------------------------------------------------------------


class _Accelerator:
    """What _compute_loss asks of accelerate's Accelerator, for one process."""
    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x

    def autocast(self):
        import contextlib
        return contextlib.nullcontext()


def trl_advantages(rewards, G, scale):
    """TRL 1.16 GRPOTrainer._generate_and_score_completions, multi_objective_aggregation
    "sum_then_normalize" (the default), one reward function, copied with TRL's own nanstd:
    the code is inline there and cannot be called on its own."""
    from trl.trainer.utils import nanstd
    mean = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    if scale in ("group", "none"):
        std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean
    if scale != "none":
        adv = adv / (std + 1e-4)
    return adv


def trl_grpo_run(c, adv):
    """GRPOTrainer._compute_loss on one golden case with the given advantages -> (loss, d loss / d logits,
    metrics)."""
    from collections import defaultdict
    from trl import GRPOTrainer
    from trl.trainer.utils import entropy_from_logits, selective_log_softmax

    S = len(c["rewards"])
    L, V, T = c["max_completion_length"], c["vocab"], c["temperature"]
    logits = torch.tensor(c["logits"], dtype=torch.float64).view(S, L, V).requires_grad_(True)
    tokens = torch.tensor(c["tokens"]).view(S, L)
    mask = (torch.arange(L)[None, :] < torch.tensor(c["lengths"])[:, None]).long()

    # TRL divides the logits by the temperature before its log-softmax (the `temperature` it gives
    # the model's fused head and its reference path); these are its own utilities.
    def per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep, **kw):
        z = logits / T
        return selective_log_softmax(z, tokens), entropy_from_logits(z), None

    args = types.SimpleNamespace(delta=None, use_bias_correction_kl=False, steps_per_generation=1)
    trainer = types.SimpleNamespace(
        _get_per_token_logps_and_entropies=per_token_logps_and_entropies,
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, importance_sampling_level="token",
        beta=c["beta"], loss_type=c["loss_type"], epsilon_low=c["eps_low"], epsilon_high=c["eps_high"],
        args=args, use_vllm=False, vllm_importance_sampling_correction=False, model=types.SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1, max_completion_length=L, accelerator=_Accelerator(),
        _entropy_bonus_enabled=False, aux_loss_enabled=False, _metrics={"train": defaultdict(list)})
    inputs = {
        "prompt_ids": torch.zeros(S, 0, dtype=torch.long), "prompt_mask": torch.zeros(S, 0, dtype=torch.long),
        "completion_ids": tokens, "completion_mask": mask, "advantages": adv,
        "old_per_token_logps": torch.tensor(c["old_logp"], dtype=torch.float64).view(S, L),
        "ref_per_token_logps": torch.tensor(c["ref_logp"], dtype=torch.float64).view(S, L),
        # one process, one micro-batch: the tokens of the whole generation batch
        "num_items_in_batch": mask.sum(),
    }
    loss = GRPOTrainer._compute_loss(trainer, None, inputs)
    loss.backward()
    return loss.item(), logits.grad.reshape(-1), trainer._metrics["train"]


def trl_grpo_case(c):
    ex = c["expected"]
    rewards = torch.tensor(c["rewards"], dtype=torch.float64)
    adv = trl_advantages(rewards, c["group"], c["scale_rewards"])
    out = {"case": c["name"], "loss_type": c["loss_type"], "scale_rewards": c["scale_rewards"], "beta": c["beta"],
           "golden_loss": ex["loss"], "max_abs_diff_advantages": max_abs(adv, ex["advantages"])}
    # 1. The loss on the golden's own advantages: TRL's loss formula alone.
    loss, grad, m = trl_grpo_run(c, torch.tensor(ex["advantages"], dtype=torch.float64))
    out["given_advantages"] = {"trl_loss": loss, "abs_diff_loss": abs(loss - ex["loss"]),
                               "max_abs_diff_grad_logits": max_abs(grad, ex["grad_logits"])}
    # 2. End to end from the rewards through TRL's advantages.
    loss, grad, m = trl_grpo_run(c, adv)
    out["trl_advantages"] = {"trl_loss": loss, "abs_diff_loss": abs(loss - ex["loss"]),
                             "max_abs_diff_grad_logits": max_abs(grad, ex["grad_logits"])}
    # TRL's metrics are float32 (mask.sum().float(), is_clipped.float()).
    out["abs_diff_clip_fraction"] = abs(m["clip_ratio/region_mean"][0] - ex["clip_fraction"])
    if c["beta"] != 0:
        out["abs_diff_kl_mean"] = abs(m["kl"][0] - ex["kl_mean"])
    out["tolerance"] = {"given_advantages": 1e-12, "advantages_and_end_to_end": 1e-6, "metrics_float32": 1e-6}
    g, e = out["given_advantages"], out["trl_advantages"]
    out["agrees"] = (max(g["abs_diff_loss"], g["max_abs_diff_grad_logits"]) < 1e-12
                     and max(out["max_abs_diff_advantages"], e["abs_diff_loss"], e["max_abs_diff_grad_logits"]) < 1e-6
                     and max(out["abs_diff_clip_fraction"], out.get("abs_diff_kl_mean", 0.0)) < 1e-6)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gorae", default=os.path.join(ROOT, "build", "src", "cli", "gorae"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "upstream", "report.json"))
    ap.add_argument("--threads", type=int, default=1, help="torch and gorae threads")
    ap.add_argument("--cases", nargs="*", default=CASES)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import transformers
    import trl

    report = {
        "generated_by": "tools/upstream_check.py",
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "trl": trl.__version__, "numpy": np.__version__},
        "gorae": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip(),
        "models": [], "grpo": [],
    }
    ok = True
    for case in args.cases:
        r = check_model(case, args.gorae, args.threads)
        ok &= r["agrees"]
        n = r["transformers_native"]
        print(f"{r['case']}: {r['transformers_class']} vs golden {n['max_abs_vs_golden']:.2e}, " +
              ", ".join(f"vs {k[11:]} {v:.2e}" for k, v in n.items() if k.startswith("max_abs_vs_") and "gorae" in k) +
              (f"  [{r['adaptation']}]" if "adaptation" in r else "") + ("" if r["agrees"] else "  DISAGREES"))
        report["models"].append(r)
    golden = json.load(open(os.path.join(ROOT, "tests", "golden", "rl", "grpo_loss.json")))
    for c in golden["cases"]:
        r = trl_grpo_case(c)
        ok &= r["agrees"]
        g, e = r["given_advantages"], r["trl_advantages"]
        print(f"grpo {r['case']}: golden advantages: loss {g['abs_diff_loss']:.1e} grad {g['max_abs_diff_grad_logits']:.1e}; "
              f"TRL advantages {r['max_abs_diff_advantages']:.1e}: loss {e['abs_diff_loss']:.1e} grad "
              f"{e['max_abs_diff_grad_logits']:.1e}; clip {r['abs_diff_clip_fraction']:.1e}"
              + ("" if r["agrees"] else "  DISAGREES"))
        report["grpo"].append(r)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        f.write(json.dumps(report, indent=1, sort_keys=False) + "\n")
    os.replace(args.out + ".tmp", args.out)
    print("wrote", os.path.relpath(args.out, ROOT), "" if ok else "(some comparisons disagree)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
