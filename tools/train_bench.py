#!/usr/bin/env python3
"""Training throughput: gorae vs a PyTorch implementation of the same model and batch, in one run.

The PyTorch side is an eager float32 implementation of the same objective (tools/train_ref.py's
objective over tools/deepseek_ref.py's modules: MLA, DeepSeekMoE with top-k routing, MTP,
balance loss) with torch.optim.AdamW, on the same number of threads. Both sides run
`--steps` timed steps after one warm-up step on random tokens.

  /usr/bin/python3 tools/train_bench.py --bench build/bench/train/train_bench --preset small \\
      --layers 2 --batch 2 --seq 128 --steps 3 --threads 2
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_ref as ref  # noqa: E402
import train_ref  # noqa: E402

torch.set_default_dtype(torch.float32)


def torch_bench(cfg_raw, batch, seq, steps, threads):
    torch.set_num_threads(threads)
    cfg = ref.Config(cfg_raw)
    depth = cfg_raw.get("num_nextn_predict_layers", 0)
    rng = np.random.default_rng(0)
    W = {k: v.float().requires_grad_("e_score_correction_bias" not in k)
         for k, v in train_ref.make_weights(cfg, depth, rng).items()}
    params = [w for w in W.values() if w.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    # rope tables in float32 like everything else
    orig = ref.rope_cos_sin
    ref.rope_cos_sin = lambda c, n: tuple(t.float() for t in orig(c, n))
    mask = torch.ones(batch, seq)
    times = []
    for s in range(steps + 1):
        tokens = torch.from_numpy(rng.integers(0, cfg.vocab_size, size=(batch, seq + 1)))
        t0 = time.perf_counter()
        loss = train_ref.objective(cfg, W, tokens, mask, depth, 0.3, 1e-4)[0]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if s > 0:
            times.append(time.perf_counter() - t0)
    step_s = sum(times) / len(times)
    return {"engine": "pytorch", "torch": torch.__version__, "threads": threads, "step_s": step_s,
            "tokens_per_s": batch * seq / step_s, "loss": loss.item()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of the train_bench binary")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--mtp", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cfg_path = os.path.join(d, "config.json")
        out = subprocess.run([args.bench, "--preset", args.preset, "--layers", str(args.layers), "--batch",
                              str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps), "--mtp",
                              str(args.mtp), "--threads", str(args.threads), "--config-out", cfg_path],
                             check=True, capture_output=True, text=True).stdout
        g = json.loads(out)
        with open(cfg_path) as f:
            cfg_raw = json.load(f)
    p = torch_bench(cfg_raw, args.batch, args.seq, args.steps, args.threads)
    print(json.dumps(g))
    print(json.dumps(p))
    print(f"\n{'':10} {'tokens/s':>10} {'step s':>8}")
    print(f"{'gorae':10} {g['tokens_per_s']:10.1f} {g['step_s']:8.3f}   MFU {100 * g['mfu']:.1f}% of "
          f"{g['sgemm_peak_gflops']:.1f} GFLOP/s sgemm; fwd {g['forward_s']:.3f} s, bwd {g['backward_s']:.3f} s, "
          f"AdamW {g['optimizer_s']:.3f} s")
    print(f"{'pytorch':10} {p['tokens_per_s']:10.1f} {p['step_s']:8.3f}")
    print(f"gorae / pytorch: {g['tokens_per_s'] / p['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
