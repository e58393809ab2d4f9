#!/usr/bin/env python3
"""gorae beside llama.cpp on one GGUF file: prompt processing and generation tokens/s, peak RSS.

    python3 tools/gguf_bench.py --model /work/models/Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf \
        [--pp 128] [--tg 32] [--threads 2] [--runs 3] [--gorae build/src/cli/gorae] \
        [--llama-bench /work/llama.cpp-build/bin/llama-bench] [--out bench.json] [--markdown]

One run of this script alternates the two engines --runs times (gorae, llama.cpp, gorae, ...) so
that both see the same load on a shared machine, and reports the median of each figure:

- gorae: `gorae bench --model FILE.gguf --prompt PP --gen TG --threads T --json` (a prefill of PP
  random token ids, then TG greedy decode steps after them; the machine's read bandwidth measured
  in the same process). Its decode bytes per token (weights in the file's own types + KV cache)
  over the step time is the bandwidth fraction.
- llama.cpp: `llama-bench -m FILE.gguf -p PP -n TG -d 0,PP -t T -r 1 -o json` (pp: PP tokens in one
  batch; tg: TG tokens one at a time, at depth 0 and at depth PP: the second is the one that matches
  gorae's decode, which runs after its prompt).
- peak RSS of each process from `/usr/bin/time -v` (the mapped weights count once they are read);
  for gorae from `gorae generate --tokens (PP ids) --max-tokens TG` (the same work; its tok/s are
  kept too), since gorae bench's own bandwidth probe allocates 1 GiB.
- load average before and after.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stdout, stderr, peak RSS in bytes, wall seconds)."""
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wall = time.time() - t0
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{err[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return r.stdout.decode(errors="replace"), err, int(m.group(1)) * 1024 if m else 0, wall


def run_gorae(a):
    cmd = [a.gorae, "bench", "--model", a.model, "--prompt", str(a.pp), "--gen", str(a.tg), "--threads",
           str(a.threads), "--json"]
    out, _, _, wall = timed(cmd)
    j = json.loads(out)
    row = j["rows"][0]
    # Peak RSS from a plain generate run of the same work: gorae bench's own bandwidth probe
    # allocates 1 GiB, which would count in its peak.
    ids = " ".join(str((i * 7919 + 13) % a.vocab) for i in range(a.pp))
    gen = [a.gorae, "generate", "--model", a.model, "--tokens", ids, "--max-tokens", str(a.tg), "--ignore-eos",
           "--temperature", "0", "--threads", str(a.threads)]
    _, err, rss, _ = timed(gen)
    m = re.search(r"prompt \d+ tokens in [\d.]+ s \(([\d.]+) tok/s\), \d+ new tokens \(([\d.]+) tok/s\)", err)
    return {"pp_tok_s": row["prefill_tok_s"], "tg_tok_s": row["decode_tok_s"], "decode_gbs": row["decode_gbs"],
            "read_bandwidth_gbs": j["read_bandwidth_gbs"], "sgemm_gflops": j["sgemm_gflops"],
            "decode_bytes_per_token": row["decode_gbs"] * 1e9 / row["decode_tok_s"],
            "weight_bytes_per_param": row.get("weight_bytes_per_param"), "peak_rss": rss, "wall_s": wall,
            "generate_pp_tok_s": float(m.group(1)) if m else None, "generate_tg_tok_s": float(m.group(2)) if m else None}


def run_llama(a):
    cmd = [a.llama_bench, "-m", a.model, "-p", str(a.pp), "-n", str(a.tg), "-d", f"0,{a.pp}", "-t", str(a.threads),
           "-r", "1", "-o", "json"]
    out, _, rss, wall = timed(cmd)
    res = {"peak_rss": rss, "wall_s": wall}
    for t in json.loads(out):
        if t["n_prompt"] > 0 and t["n_gen"] == 0 and t["n_depth"] == 0:
            res["pp_tok_s"] = t["avg_ts"]
        elif t["n_gen"] > 0 and t["n_prompt"] == 0:
            res["tg_tok_s" if t["n_depth"] == 0 else "tg_at_depth_tok_s"] = t["avg_ts"]
        res.setdefault("build", f"{t.get('build_commit', '?')} ({t.get('build_number', '?')})")
        res.setdefault("cpu_info", t.get("cpu_info"))
    return res


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def machine():
    info = {"platform": platform.platform(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu"] = m.group(1).strip() if m else "?"
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1)) / 2**20, 1)
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--pp", type=int, default=128, help="prompt tokens")
    ap.add_argument("--tg", type=int, default=32, help="generated tokens")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="alternating runs of each engine (medians reported)")
    ap.add_argument("--gorae", default=os.path.join(HERE, "..", "build", "src", "cli", "gorae"))
    ap.add_argument("--llama-bench", default="/work/llama.cpp-build/bin/llama-bench")
    ap.add_argument("--out", help="write the JSON results here")
    ap.add_argument("--markdown", action="store_true", help="print the markdown table for docs/gguf.md")
    a = ap.parse_args()

    size = os.path.getsize(a.model)
    sys.path.insert(0, HERE)
    import fetch_gguf
    with open(a.model, "rb") as f:
        head = fetch_gguf.parse_header(lambda n: (f.seek(0), f.read(n))[1])
    a.vocab = next(t[1][1] for t in head.tensors if t[0] == "token_embd.weight")
    load_before = os.getloadavg()
    g_runs, l_runs = [], []
    for i in range(a.runs):
        g_runs.append(run_gorae(a))
        print(f"run {i + 1}/{a.runs} gorae: pp {g_runs[-1]['pp_tok_s']:.2f} tok/s, tg {g_runs[-1]['tg_tok_s']:.2f} tok/s",
              file=sys.stderr)
        l_runs.append(run_llama(a))
        print(f"run {i + 1}/{a.runs} llama.cpp: pp {l_runs[-1].get('pp_tok_s', 0):.2f} tok/s, tg "
              f"{l_runs[-1].get('tg_tok_s', 0):.2f} tok/s (at depth {a.pp}: {l_runs[-1].get('tg_at_depth_tok_s', 0):.2f})",
              file=sys.stderr)
    load_after = os.getloadavg()

    g = {k: median_of(g_runs, k) for k in g_runs[0]}
    g["peak_rss"] = max(r["peak_rss"] for r in g_runs)
    l = {k: median_of(l_runs, k) for k in ("pp_tok_s", "tg_tok_s", "tg_at_depth_tok_s", "wall_s")}
    l["peak_rss"] = max(r["peak_rss"] for r in l_runs)
    l["build"] = l_runs[0].get("build")
    bw = g["read_bandwidth_gbs"]
    bpt = g["decode_bytes_per_token"]
    res = {"model": os.path.abspath(a.model), "model_bytes": size, "pp": a.pp, "tg": a.tg, "threads": a.threads,
           "runs": a.runs, "machine": machine(), "loadavg_before": load_before, "loadavg_after": load_after,
           "gorae": g, "llama_cpp": l, "gorae_runs": g_runs, "llama_cpp_runs": l_runs,
           "decode_bytes_per_token": bpt, "read_bandwidth_gbs": bw,
           "gorae_tg_frac_bandwidth": g["tg_tok_s"] * bpt / 1e9 / bw,
           "llama_tg_at_depth_frac_bandwidth": (l["tg_at_depth_tok_s"] or 0) * bpt / 1e9 / bw,
           "ratio_pp": g["pp_tok_s"] / l["pp_tok_s"], "ratio_tg": g["tg_tok_s"] / (l["tg_at_depth_tok_s"] or l["tg_tok_s"])}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)

    mib = lambda b: f"{b / 2**20:,.0f} MiB"  # noqa: E731
    name = os.path.basename(a.model)
    lines = [
        f"| engine | pp{a.pp} tok/s | tg{a.tg} tok/s (after {a.pp}-token prompt) | tg{a.tg} tok/s (empty context) | "
        f"decode GB/s (% of {bw:.1f} GB/s read) | peak RSS |",
        "|---|---|---|---|---|---|",
        f"| gorae | {g['pp_tok_s']:.1f} | {g['tg_tok_s']:.2f} | - | {g['tg_tok_s'] * bpt / 1e9:.2f} "
        f"({100 * res['gorae_tg_frac_bandwidth']:.0f}%) | {mib(g['peak_rss'])} |",
        f"| llama.cpp | {l['pp_tok_s']:.1f} | {l['tg_at_depth_tok_s']:.2f} | {l['tg_tok_s']:.2f} | "
        f"{l['tg_at_depth_tok_s'] * bpt / 1e9:.2f} ({100 * res['llama_tg_at_depth_frac_bandwidth']:.0f}%) | "
        f"{mib(l['peak_rss'])} |",
        f"| gorae / llama.cpp | {res['ratio_pp']:.2f}x | {res['ratio_tg']:.2f}x | | | |",
    ]
    print(f"\n{name}: {size / 1e9:.2f} GB; {a.threads} threads; medians of {a.runs} alternating runs; "
          f"decode reads {bpt / 1e6:.0f} MB per token (gorae's count: weights in their stored types + fp32 KV cache)")
    print(f"machine: {res['machine'].get('cpu')}, {res['machine']['cores']} cores, {res['machine'].get('mem_gib')} GiB; "
          f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f}; llama.cpp build {l['build']}\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
