#!/usr/bin/env python3
"""Data parallelism on this machine, measured side by side in one run.

  python3 bench/dist/dp_bench.py --gorae build/src/cli/gorae --probe build/bench/dist/mpi_probe

Runs the same pretraining steps (the `small` preset, a few layers) as
  A. one process with 2 threads,
  B. mpirun -np 2, one thread per rank (ZeRO 0),
  C. as B with --zero 1,
and reads each run's metrics.jsonl: tokens/s, the gradient bytes each rank sends per step, the
time its buckets were in flight and how much of it the backward did not hide. A plain MPI probe
(bench/dist/mpi_probe.cc) measures point-to-point and all-reduce bandwidth for the same message
size in the same run. Last, a projection for DeepSeek-V3's real shapes: all-to-all bytes per token
with and without node-limited routing, and gradient bytes per step. Prints Markdown tables.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

MPIRUN = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r


def metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarise(ms):
    steady = ms[1:] if len(ms) > 1 else ms  # step 1 warms up (allocations, page faults)
    row = {"tokens_per_s": statistics.median(m["tokens_per_s"] for m in steady)}
    if "comm" in steady[0]:
        row["bytes"] = steady[0]["comm"]["bytes"]
        row["comm_s"] = statistics.median(m["comm"]["seconds"] for m in steady)
        row["exposed_s"] = statistics.median(m["comm"]["exposed_seconds"] for m in steady)
        row["optimizer_s"] = statistics.median(m["comm"]["optimizer_seconds"] for m in steady)
        row["a2a_bytes"] = statistics.median(m["comm"].get("all_to_all_bytes", 0) for m in steady)
        row["a2a_s"] = statistics.median(m["comm"].get("all_to_all_seconds", 0.0) for m in steady)
    row["step_s"] = statistics.median(m["tokens"] / len(ms) for m in ms) / row["tokens_per_s"]
    return row


def v3_projection():
    """DeepSeek-V3 (config.json of the release) traffic, per token and per step."""
    hidden, moe_inter, experts, top_k, layers, dense = 7168, 2048, 256, 8, 61, 3
    nodes, node_limit = 8, 4  # 64-way EP over 8 nodes; each token to at most 4 nodes (V3 report 2.1.2)
    moe_layers = layers - dense
    fp8_dispatch = hidden + hidden // 128 * 4  # FP8 activations + one fp32 scale per 128 (V3 report 3.3)
    bf16_combine = hidden * 2
    rows = []
    for name, reach in (("any node (top-8 may span 8 nodes)", min(top_k, nodes)), ("node-limited, M = 4", node_limit)):
        rows.append((name, reach, reach * fp8_dispatch, reach * bf16_combine,
                     moe_layers * reach * (fp8_dispatch + bf16_combine)))
    routed = moe_layers * experts * 3 * hidden * moe_inter
    total = 671e9
    return rows, routed, total - routed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gorae", default="build/src/cli/gorae")
    ap.add_argument("--probe", default="build/bench/dist/mpi_probe")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    gorae = os.path.abspath(a.gorae)
    cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="dp_bench_")
    corpus, tok = os.path.join(tmp, "corpus.jsonl"), os.path.join(tmp, "tok")
    run([gorae, "tasks", "--task", "arithmetic,linear", "--split", "train", "--n", "2000", "--format", "text", "--out", corpus])
    run([gorae, "tokenizer", "train", "--data", corpus, "--vocab-size", "2000", "--out", tok, "--no-progress"])
    base = ["pretrain", "--config", a.preset, "--layers", str(a.layers), "--tokenizer", tok, "--data", corpus,
            "--batch", str(a.batch), "--seq", str(a.seq), "--steps", str(a.steps), "--eval-every", "1000",
            "--save-every", "1000", "--no-progress"]
    runs = {}
    for name, prefix, extra in (("1 process x 2 threads", [], ["--threads", "2"]),
                                ("2 ranks x 1 thread", MPIRUN + ["-np", "2"], ["--threads", "1"]),
                                ("2 ranks x 1 thread, ZeRO-1", MPIRUN + ["-np", "2"], ["--threads", "1", "--zero", "1"]),
                                ("2 ranks x 1 thread, expert parallel 2", MPIRUN + ["-np", "2"],
                                 ["--threads", "1", "--expert-parallel", "2"])):
        out = os.path.join(tmp, f"run{len(runs)}")
        run(prefix + [gorae] + base + extra + ["--out", out])
        runs[name] = summarise(metrics(out))
    grad_bytes = runs["2 ranks x 1 thread"]["bytes"]
    probe = json.loads(run(MPIRUN + ["-np", "2", a.probe, str(grad_bytes), "5"]).stdout.strip().splitlines()[-1])

    print(f"Machine: {cpu}, {os.cpu_count()} cores. `{a.preset}` preset, {a.layers} layers, batch {a.batch} x {a.seq} "
          f"tokens, {a.steps} steps (medians of steps 2..{a.steps}).\n")
    print("| run | tokens/s | vs 1 process | step s | gradient MB sent per rank | all-reduce in flight s | "
          "exposed after backward s | hidden | ZeRO all-gather s | all-to-all MB sent per rank | all-to-all s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ref = runs["1 process x 2 threads"]["tokens_per_s"]
    for name, r in runs.items():
        if "bytes" in r:
            hidden = 1 - r["exposed_s"] / r["comm_s"] if r["comm_s"] > 0 else 0.0
            a2a = f"{r['a2a_bytes'] / 1e6:.1f} | {r['a2a_s']:.3f}" if r["a2a_bytes"] else "- | -"
            comm = (f"{r['bytes'] / 1e6:.1f} | {r['comm_s']:.3f} | {r['exposed_s']:.3f} | {100 * hidden:.0f}% | "
                    f"{r['optimizer_s']:.3f} | {a2a}")
        else:
            comm = "- | - | - | - | - | - | -"
        print(f"| {name} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / ref:.2f}x | {r['step_s']:.3f} | {comm} |")
    r = runs["2 ranks x 1 thread"]
    busbw = grad_bytes / r["comm_s"] / 1e9 if r["comm_s"] > 0 else 0.0  # 2 ranks: busbw = algbw x 2(n-1)/n = algbw
    print(f"\nTransport, same message size ({grad_bytes / 1e6:.1f} MB), same run: MPI point-to-point "
          f"{probe['p2p_gb_per_s']:.2f} GB/s; MPI_Allreduce bus bandwidth {probe['allreduce_busbw_gb_per_s']:.2f} GB/s "
          f"({probe['allreduce_seconds']:.3f} s); gorae's bucketed all-reduce during the backward: {busbw:.2f} GB/s "
          f"(in flight {r['comm_s']:.3f} s, while both cores also compute).\n")
    rows, routed, replicated = v3_projection()
    print("DeepSeek-V3 projection (hidden 7168, 58 MoE layers, top-8 of 256 experts, 8 nodes):\n")
    print("| routing | nodes a token reaches | dispatch bytes/token/layer (FP8) | combine bytes/token/layer (BF16) | "
          "all-to-all bytes/token, all layers |")
    print("|---|---|---|---|---|")
    for name, reach, d, c, total in rows:
        print(f"| {name} | {reach} | {d:,} | {c:,} | {total / 1e6:.2f} MB |")
    print(f"\nGradients per step: the {replicated / 1e9:.1f}B replicated (non-routed-expert) parameters are all-reduced "
          f"over data parallelism ({replicated * 4 / 1e9:.0f} GB in fp32, {replicated * 2 / 1e9:.0f} GB in BF16); the "
          f"{routed / 1e9:.0f}B routed-expert parameters are reduced only among the ranks that hold the same experts.")


if __name__ == "__main__":
    main()
