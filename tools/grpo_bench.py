#!/usr/bin/env python3
"""GRPO steps of gorae against TRL's GRPOTrainer: same model, same prompts, same settings.

Both sides train the same Hugging Face-layout DeepSeek-V3 checkpoint (the directory gorae writes;
HF's DeepseekV3ForCausalLM logits are checked against `gorae logits` first) on the same
"What is a + b?" problems, rendered with the model's chat template, with the same P prompts x G
completions per step, max new tokens M, temperature, beta, epsilon, loss type, learning rate,
AdamW settings, thread count and OpenMP spin policy. Each repeat runs warm-up steps (dropped) and
timed steps; the sides alternate. The report gives, over all timed steps, the median and the
best step of each figure, and tokens/s, since two sampling runs generate different lengths.

    # the TRL side needs torch + trl (tools/setup_trl_venv.sh); the gorae side only the binary
    /work/venv-trl/bin/python tools/grpo_bench.py --make-model /tmp/grpo-model --gorae build/src/cli/gorae \
        --prompts 8 --group 8 --max-new-tokens 128 --steps 3 --warmup 1 --threads 1 --repeats 3 \
        [--json FILE] [--doc docs/r1.md --doc-tag NAME]

What is timed (seconds, one optimizer step each):
  TRL    rollout  = GRPOTrainer._generate_single_turn (model.generate on the P*G sequences)
         score    = the rest of _generate_and_score_completions (rewards, reference log-probs,
                    advantages)
         update   = the rest of the step: loss forward + backward + clipping + AdamW
         step     = callback on_step_begin .. on_step_end
  gorae  rollout_s, update_s, step_s from OUT/metrics.jsonl (rollout_s: prompt encoding and
         sampling; update_s: reference log-probs, loss forward + backward, AdamW; the rewards
         fall between them); score = step - rollout - update.
  The table's "update" is step - rollout on both sides.

--side trl|gorae|both; --doc FILE --doc-tag NAME writes the report between NAME's markers in the
`## GRPO speed: gorae vs TRL` section of FILE (creating the file, the section or the block; the
rest of the file is left as it is); --from-json re-renders a saved run.
"""

import argparse
import json
import os
import platform
import random
import resource
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

SECTION = "## GRPO speed: gorae vs TRL"


# ---------------------------------------------------------------------------------------------
# Problems and the verifier (the same rule as gorae's tasks: the last <answer>...</answer> after
# </think>, else the last \boxed{...}; reward = correct + 0.1 * R1 format)

def make_problems(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        out.append({"task": "arithmetic", "prompt": f"What is {a} + {b}?", "answer": str(a + b)})
    return out


def extract_answer(text):
    tail = text.split("</think>")[-1] if "</think>" in text else text
    found = re.findall(r"<answer>(.*?)</answer>", tail, flags=re.S)
    if found:
        return found[-1].strip()
    found = re.findall(r"\\boxed\{([^{}]*)\}", tail)
    return found[-1].strip() if found else None


def parse_int(text):
    if text is None:
        return None
    t = text.strip().rstrip(".").replace(",", "")
    t = re.sub(r"^x\s*=\s*", "", t)
    return int(t) if re.fullmatch(r"[+-]?\d{1,18}", t) else None


def has_r1_format(text):
    return re.fullmatch(r"\s*<think>.*?</think>\s*(<answer>.*?</answer>|\\boxed\{.*\})\s*", text, flags=re.S) is not None


def completion_text(c):
    return c[0]["content"] if isinstance(c, list) else c


def accuracy_reward(completions, answer, **kwargs):
    out = []
    for c, a in zip(completions, answer):
        got = parse_int(extract_answer(completion_text(c)))
        out.append(1.0 if got is not None and got == int(a) else 0.0)
    return out


def format_reward(completions, **kwargs):
    return [0.1 if has_r1_format(completion_text(c)) else 0.0 for c in completions]


# ---------------------------------------------------------------------------------------------
# Machine facts

def cpu_model():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or "unknown CPU"
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']}, model {info['model']}"
        name += ", Zen 4)" if (info["cpu family"], info["model"]) in (("25", "17"), ("25", "97")) else ")"
    return name


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------------
# The model: a 512-token BPE and a briefly pretrained `tiny` DeepSeek-V3 (gorae writes it)

def make_model(args):
    """Writes ROOT/tokenizer and ROOT/pretrain (the model is ROOT/pretrain/checkpoint) with gorae."""
    root = args.make_model
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(root, exist_ok=True)
    corpus = os.path.join(root, "tokenizer_corpus.txt")
    with open(corpus, "w") as f:
        for name in ["README.md"] + sorted("docs/" + n for n in os.listdir(os.path.join(repo, "docs"))
                                           if n.endswith(".md")):
            f.write(open(os.path.join(repo, name)).read() + "\n\n")
        for p in make_problems(3000, 12345):
            f.write(f"{p['prompt']} <think>{p['prompt'][8:-1]} = {p['answer']}</think> "
                    f"<answer>{p['answer']}</answer>\n\n")
    run = lambda cmd: subprocess.run(cmd, check=True)
    run([args.gorae, "tokenizer", "train", "--data", corpus, "--vocab-size", "512",
         "--out", os.path.join(root, "tokenizer"), "--no-progress"])
    run([args.gorae, "pretrain", "--config", args.model_config, "--tokenizer", os.path.join(root, "tokenizer"),
         "--synthetic", "2000", "--steps", "40", "--threads", str(args.threads),
         "--out", os.path.join(root, "pretrain"), "--no-progress"] + shlex.split(args.pretrain_extra))
    return os.path.join(root, "pretrain", "checkpoint")


# ---------------------------------------------------------------------------------------------
# The same model on both sides: HF's DeepseekV3ForCausalLM logits against `gorae logits`

def check_logits(args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.model)
    text = tok.apply_chat_template([{"role": "user", "content": "What is 123 + 456?"}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    ids = ids + [(7 * i + 3) % len(tok) for i in range(24)]  # and some continuation tokens
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    with torch.no_grad():
        hf = model(torch.tensor([ids])).logits[0].double()
    out = subprocess.run([args.gorae, "logits", "--model", args.model, "--tokens", " ".join(map(str, ids))],
                         capture_output=True, text=True, check=True).stdout
    g = torch.tensor(json.loads(out)["logits"], dtype=torch.float64)
    diff = (hf - g).abs().max().item()
    same_argmax = bool((hf.argmax(-1) == g.argmax(-1)).all())
    return {"positions": len(ids), "max_abs_diff": diff, "argmax_equal": same_argmax,
            "max_abs_logit": hf.abs().max().item()}


# ---------------------------------------------------------------------------------------------
# TRL side

def run_trl(args, problems, workdir):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    total_steps = args.warmup + args.steps
    timers = {"rollout": 0.0, "gen_score": 0.0, "gen_tokens": 0, "seqs": 0}
    steps = []

    class TimedGRPOTrainer(GRPOTrainer):
        def _generate_single_turn(self, prompt_ids, *a, **kw):
            t0 = time.perf_counter()
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *a, **kw)
            timers["rollout"] += time.perf_counter() - t0
            timers["gen_tokens"] += sum(len(c) for c in completion_ids)
            timers["seqs"] += len(completion_ids)
            if "first_prompt_ids" not in timers:
                timers["first_prompt_ids"] = list(prompt_ids[0])
            return completion_ids, logprobs

        def _generate_and_score_completions(self, inputs):
            t0 = time.perf_counter()
            out = super()._generate_and_score_completions(inputs)
            timers["gen_score"] += time.perf_counter() - t0
            return out

    class StepTimer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            for k in ("rollout", "gen_score"):
                timers[k] = 0.0
            timers["gen_tokens"] = timers["seqs"] = 0
            timers["t0"] = time.perf_counter()
            timers["cpu0"] = time.process_time()

        def on_step_end(self, a, state, control, **kw):
            step_s = time.perf_counter() - timers["t0"]
            steps.append({
                "step": state.global_step,
                "rollout_s": timers["rollout"],
                "rollout_tokens": timers["gen_tokens"],
                "sequences": timers["seqs"],
                "score_s": timers["gen_score"] - timers["rollout"],
                "update_s": step_s - timers["gen_score"],
                "step_s": step_s,
                "cpu_s": time.process_time() - timers["cpu0"],
            })

    logs = []

    class LogKeeper(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                logs_copy = dict(logs)
                logs_copy["step"] = state.global_step
                LogKeeper.rows.append(logs_copy)

    LogKeeper.rows = logs

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    experts_impl = getattr(model.config, "_experts_implementation", None)
    attn_impl = getattr(model.config, "_attn_implementation", None)
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": p["prompt"]}], "answer": p["answer"]}
                            for p in problems])
    cfg = GRPOConfig(
        output_dir=os.path.join(workdir, "trl"),
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        per_device_train_batch_size=args.prompts * args.group, gradient_accumulation_steps=1,
        num_generations=args.group, max_completion_length=args.max_new_tokens,
        temperature=args.temperature, top_p=1.0, top_k=0,
        beta=args.beta, epsilon=args.eps, epsilon_high=args.eps, loss_type=args.loss,
        scale_rewards="group", num_iterations=1,
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0,
        adam_beta1=0.9, adam_beta2=0.99, adam_epsilon=1e-8, weight_decay=0.0, max_grad_norm=1.0,
        reward_weights=[1.0, 1.0],
        max_steps=total_steps, logging_steps=1, save_strategy="no", report_to=[],
        seed=args.seed, shuffle_dataset=False, dataloader_num_workers=0, disable_tqdm=True,
        log_completions=False,
    )
    trainer = TimedGRPOTrainer(model=model, reward_funcs=[accuracy_reward, format_reward], args=cfg,
                               train_dataset=ds, processing_class=tok, callbacks=[StepTimer(), LogKeeper()])
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for s, lg in zip(steps, logs):
        s["reward_mean"] = lg.get("reward")
        s["response_length"] = lg.get("completions/mean_length")
        s["kl"] = lg.get("kl")
    return {
        "steps": steps,
        "wall_s": wall,
        "cpu_s": cpu,
        "first_prompt_ids": timers.get("first_prompt_ids"),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "trl": trl.__version__, "python": platform.python_version()},
        "experts_implementation": experts_impl,
        "attn_implementation": attn_impl,
        "torch_threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------------------
# gorae side

def gorae_command(args, data_path, out_dir):
    return [args.gorae, "grpo", "--model", args.model, "--out", out_dir, "--data", data_path,
            "--steps", str(args.warmup + args.steps), "--prompts", str(args.prompts), "--group", str(args.group),
            "--max-new-tokens", str(args.max_new_tokens), "--temperature", str(args.temperature),
            "--top-p", "1.0", "--lr", str(args.lr), "--beta", str(args.beta),
            "--eps-low", str(args.eps), "--eps-high", str(args.eps), "--mu", "1", "--loss", args.loss,
            "--scale-rewards", "group", "--micro-batch", str(args.micro_batch or args.prompts * args.group),
            "--seed", str(args.seed), "--threads", str(args.threads), "--no-progress"] + shlex.split(args.gorae_extra)


def run_gorae(args, data_path, out_dir):
    cmd = gorae_command(args, data_path, out_dir)
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"gorae grpo failed ({proc.returncode}):\n{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rows = [json.loads(line) for line in open(os.path.join(out_dir, "metrics.jsonl")) if line.strip()]
    steps = []
    for r in rows:
        steps.append({
            "step": r["step"],
            "rollout_s": r["rollout_s"],
            "rollout_tokens": r["rollout_tokens"],
            "score_s": max(0.0, r["step_s"] - r["rollout_s"] - r["update_s"]),
            "update_s": r["update_s"],
            "step_s": r["step_s"],
            "reward_mean": r.get("reward_mean"),
            "response_length": r.get("response_length"),
            "kl": r.get("kl"),
        })
    here = os.path.dirname(os.path.abspath(__file__))
    version = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
    return {"steps": steps, "wall_s": wall, "cpu_s": cpu, "command": cmd, "version": version}


def gorae_prompt_ids(args, problem):
    msgs = json.dumps([{"role": "user", "content": problem["prompt"]}])
    text = subprocess.run([args.gorae, "tokenizer", "chat", "--model", args.model, "--add-generation-prompt"],
                          input=msgs, capture_output=True, text=True, check=True).stdout
    ids = subprocess.run([args.gorae, "tokenizer", "encode", "--model", args.model],
                         input=text, capture_output=True, text=True, check=True).stdout
    return json.loads(ids)


# ---------------------------------------------------------------------------------------------
# Report

def timed_steps(runs, warmup):
    return [st for run in runs for st in run["steps"][warmup:]]


def summarise(runs, warmup):
    """Per metric over every timed step of every repeat: the median and the best (smallest time,
    largest rate). Tokens/s figures are per step: generated tokens / that step's seconds."""
    steps = timed_steps(runs, warmup)
    if not steps:
        return None
    per = {
        "rollout_s": [st["rollout_s"] for st in steps],
        "rollout_tokens": [float(st["rollout_tokens"]) for st in steps],
        "rollout_tok_s": [st["rollout_tokens"] / st["rollout_s"] for st in steps],
        "rest_s": [st["step_s"] - st["rollout_s"] for st in steps],
        "rest_tok_s": [st["rollout_tokens"] / (st["step_s"] - st["rollout_s"]) for st in steps],
        "step_s": [st["step_s"] for st in steps],
        "step_tok_s": [st["rollout_tokens"] / st["step_s"] for st in steps],
        "score_s": [st["score_s"] for st in steps],
        "update_s": [st["update_s"] for st in steps],
    }
    out = {"steps": len(steps), "median": {}, "best": {}}
    for k, v in per.items():
        out["median"][k] = statistics.median(v)
        out["best"][k] = max(v) if k.endswith("tok_s") else min(v)
    return out


def fmt(x, digits=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != x:
            return "nan"
        if abs(x) >= 100:
            return f"{x:.0f}"
        if abs(x) >= 10:
            return f"{x:.1f}"
        return f"{x:.{digits}f}"
    return str(x)


def table(trl, gor):
    rows = [
        ("rollout: generation s / step", "rollout_s", "slower"),
        ("generated tokens / step", "rollout_tokens", None),
        ("rollout: generated tokens/s", "rollout_tok_s", "faster"),
        ("update: rest of the step, s / step", "rest_s", "slower"),
        ("update: generated tokens/s", "rest_tok_s", "faster"),
        ("total s / step", "step_s", "slower"),
        ("total: generated tokens/s", "step_tok_s", "faster"),
    ]
    lines = ["| per timed step | TRL median | gorae median | gorae speed-up | TRL best | gorae best | "
             "gorae speed-up (best) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, key, kind in rows:
        cells = [label]
        for stat in ("median", "best"):
            a = trl[stat][key] if trl else None
            b = gor[stat][key] if gor else None
            if kind is None and stat == "best":
                cells += ["", "", ""]
                continue
            ratio = f"{(a / b if kind == 'slower' else b / a):.1f}x" if (kind and a and b) else "-"
            cells += [fmt(a), fmt(b), ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_step_lines(name, side):
    out = []
    for s in side["steps"]:
        out.append(f"{name} step {s['step']}: rollout {s['rollout_s']:.3f}s {s['rollout_tokens']} tok, "
                   f"score {s['score_s']:.3f}s, update {s['update_s']:.3f}s, step {s['step_s']:.3f}s, "
                   f"reward {fmt(s.get('reward_mean'))}, len {fmt(s.get('response_length'))}")
    return out


def write_doc(path, block, tag):
    """Puts `block` between this tag's begin/end markers inside the SECTION of `path`; creates the
    section (at the end) or the file when missing. Everything outside the markers is left as it is."""
    BEGIN, END = f"<!-- grpo_bench.py {tag}: begin -->", f"<!-- grpo_bench.py {tag}: end -->"
    text = open(path).read() if os.path.exists(path) else "# DeepSeek-R1 recipe in gorae\n"
    generated = BEGIN + "\n" + block.strip() + "\n" + END
    if BEGIN in text and END in text:
        i, j = text.index(BEGIN), text.index(END) + len(END)
        text = text[:i] + generated + text[j:]
    elif re.search("^" + re.escape(SECTION) + "$", text, flags=re.M):
        m = re.search("^" + re.escape(SECTION) + "$", text, flags=re.M)
        nxt = re.search(r"^## ", text[m.end():], flags=re.M)
        cut = m.end() + nxt.start() if nxt else len(text)
        text = text[:cut].rstrip("\n") + "\n\n" + generated + "\n\n" + text[cut:]
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + generated + "\n"
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="HF-layout model directory (as gorae writes it)")
    ap.add_argument("--make-model", metavar="ROOT",
                    help="first write a model with gorae (tokenizer train + pretrain) under ROOT and use it")
    ap.add_argument("--model-config", default="tiny", help="--make-model: pretrain preset")
    ap.add_argument("--pretrain-extra", default="", help="--make-model: extra arguments for gorae pretrain")
    ap.add_argument("--gorae", default="build/src/cli/gorae")
    ap.add_argument("--side", choices=["trl", "gorae", "both"], default="both")
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--beta", type=float, default=0.04)
    ap.add_argument("--eps", type=float, default=0.2)
    ap.add_argument("--loss", default="grpo", choices=["grpo", "dr_grpo", "dapo"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="where both sides write (default: a temporary directory)")
    ap.add_argument("--gorae-extra", default="", help="extra arguments for gorae grpo")
    ap.add_argument("--micro-batch", type=int, default=0,
                    help="gorae sequences per forward/backward (0: P*G, one batch as TRL's per_device_train_batch_size)")
    ap.add_argument("--json", default=None, help="write all measurements to this file")
    ap.add_argument("--doc", default=None, help=f"write the table into the '{SECTION}' section of this file")
    ap.add_argument("--repeats", type=int, default=1, help="run both sides this many times, alternating")
    ap.add_argument("--doc-tag", default="run", help="--doc: name of this run's marked block (one block per tag)")
    ap.add_argument("--gomp-spincount", type=int, default=2000,
                    help="GOMP_SPINCOUNT for both sides (gorae sets 2000 for itself unless told otherwise; "
                         "-1: leave the environment alone)")
    ap.add_argument("--from-json", help="re-render the report of an earlier --json run (with this --doc/--doc-tag)")
    args = ap.parse_args()
    if args.gomp_spincount >= 0:
        # Both sides use libgomp; it reads its spin policy when it loads (torch: at `import torch`,
        # below; gorae: its process, which inherits this environment and then keeps it).
        os.environ["GOMP_SPINCOUNT"] = str(args.gomp_spincount)
    if args.from_json:
        result = json.load(open(args.from_json))
        saved = argparse.Namespace(**result["settings"])
        result.setdefault("command", command_line(saved))
        saved.doc, saved.doc_tag, saved.json = args.doc, args.doc_tag, None
        report(saved, result)
        return
    if args.make_model:
        args.model = make_model(args)
    if not args.model:
        ap.error("--model or --make-model is required")

    workdir = args.workdir or tempfile.mkdtemp(prefix="grpo_bench_")
    os.makedirs(workdir, exist_ok=True)
    problems = make_problems(args.prompts * (args.warmup + args.steps), args.seed)
    data_path = os.path.join(workdir, "problems.jsonl")
    with open(data_path, "w") as f:
        for p in problems:
            f.write(json.dumps(p) + "\n")

    result = {"settings": vars(args), "cpu": cpu_model(), "cores": os.cpu_count(), "trl": [], "gorae": [],
              "loads": [loadavg()],
              "command": "/work/venv-trl/bin/python tools/grpo_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])}

    if args.side in ("trl", "both") and os.path.exists(args.gorae):
        result["logits_check"] = check_logits(args)
        print(f"logits check: {result['logits_check']}", file=sys.stderr)
        if not (result["logits_check"]["max_abs_diff"] < 1e-4 and result["logits_check"]["argmax_equal"]):
            sys.exit("HF and gorae logits differ on this model: the two sides would not train the same model")
    # The sides alternate, so that both see the same kinds of interference from other work on the machine.
    for r in range(args.repeats):
        if args.side in ("trl", "both"):
            run = run_trl(args, problems, workdir)
            result["trl"].append(run)
            for line in per_step_lines(f"TRL #{r + 1}", run):
                print(line, file=sys.stderr)
            result["loads"].append(loadavg())
        if args.side in ("gorae", "both"):
            run = run_gorae(args, data_path, os.path.join(workdir, f"gorae{r + 1}"))
            result["gorae"].append(run)
            for line in per_step_lines(f"gorae #{r + 1}", run):
                print(line, file=sys.stderr)
            result["loads"].append(loadavg())
    if result["trl"] and os.path.exists(args.gorae):
        gids = gorae_prompt_ids(args, problems[0])
        result["prompt_ids_equal"] = gids == result["trl"][0]["first_prompt_ids"]
        print(f"first prompt ids: TRL {result['trl'][0]['first_prompt_ids']} gorae {gids} "
              f"equal={result['prompt_ids_equal']}", file=sys.stderr)

    report(args, result)


def model_desc(model_dir):
    try:
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
    except (OSError, ValueError):
        return model_dir
    return (f"`{model_dir}`: {cfg.get('num_hidden_layers')} layers (+{cfg.get('num_nextn_predict_layers', 0)} MTP, "
            f"which neither side uses), hidden {cfg.get('hidden_size')}, {cfg.get('n_routed_experts')} routed "
            f"experts top-{cfg.get('num_experts_per_tok')}, vocab {cfg.get('vocab_size')}")


def command_line(args):
    flags = ["model", "gorae", "prompts", "group", "max_new_tokens", "steps", "warmup", "threads", "repeats",
             "workdir", "json", "doc", "doc_tag"]
    parts = ["/work/venv-trl/bin/python", "tools/grpo_bench.py"]
    for k in flags:
        if getattr(args, k, None) not in (None, ""):
            parts += ["--" + k.replace("_", "-"), shlex.quote(str(getattr(args, k)))]
    return " ".join(parts)


def report(args, result):
    trl_sum, gor_sum = summarise(result["trl"], args.warmup), summarise(result["gorae"], args.warmup)
    tbl = table(trl_sum, gor_sum)
    repeats = []
    for k, name in (("trl", "TRL"), ("gorae", "gorae")):
        if result[k]:
            means = [statistics.mean(st["step_s"] for st in run["steps"][args.warmup:]) for run in result[k]]
            repeats.append(f"{name} " + ", ".join(fmt(m) for m in means))
    repeats = f"Mean step seconds of each repeat: " + "; ".join(repeats) + "."
    whole = []
    for k, name in (("trl", "TRL `trainer.train()`"), ("gorae", "the `gorae grpo` process")):
        if result[k]:
            whole.append(f"{name} " + ", ".join(f"{fmt(run['wall_s'])} s wall / {fmt(run['cpu_s'])} s CPU"
                                                for run in result[k]))
    whole = ("Whole runs, warm-up included (gorae: the whole process, model load and final checkpoint "
             "included): " + "; ".join(whole) + ".")
    print(tbl)
    print(repeats)
    print(whole)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if not args.doc:
        return

    trl0 = result["trl"][0] if result["trl"] else {}
    v = trl0.get("versions", {})
    check = result.get("logits_check")
    loads = result["loads"]
    body = [
        "```sh",
        result.get("command") or command_line(args),
        "```",
        "",
        f"Settings: P={args.prompts} prompts x G={args.group} completions per step, max {args.max_new_tokens} "
        f"new tokens, temperature {args.temperature}, top-p 1, beta {args.beta}, epsilon {args.eps}, "
        f"loss {args.loss}, scale_rewards group, mu 1, lr {args.lr} (AdamW 0.9/0.99, no weight decay, "
        f"clip 1.0), {args.threads} thread(s), fp32, GOMP_SPINCOUNT "
        f"{getattr(args, 'gomp_spincount', -1) if getattr(args, 'gomp_spincount', -1) >= 0 else 'unset'} on both sides; "
        f"{args.repeats} repeat(s) of each side, alternating; "
        f"in each, {args.warmup} warm-up step(s) dropped, then {args.steps} timed step(s): "
        f"{trl_sum['steps'] if trl_sum else 0} timed TRL steps and {gor_sum['steps'] if gor_sum else 0} gorae steps "
        f"in all. Model {model_desc(args.model)}.",
        "",
        f"Machine: {result['cpu']}, {result['cores']} cores, shared with other work; load average (1/5/15 min) "
        f"{loads[0]} at the start, {loads[-1]} at the end; highest 1-minute load seen between the runs "
        f"{max(float(x.split()[0]) for x in loads):.2f}.",
        "",
        f"Versions: torch {v.get('torch')}, transformers {v.get('transformers')}, trl {v.get('trl')}, "
        f"Python {v.get('python')} (HF experts implementation `{trl0.get('experts_implementation')}`, "
        f"attention `{trl0.get('attn_implementation')}`); gorae "
        f"{(result['gorae'][0]['version'] if result['gorae'] else '')}.",
        "",
        (f"Same model on both sides: HF `DeepseekV3ForCausalLM` logits vs `gorae logits`, {check['positions']} "
         f"positions: max abs difference {check['max_abs_diff']:.1e}, same argmax everywhere: "
         f"{check['argmax_equal']}; the first prompt's token ids are equal on both sides: "
         f"{result.get('prompt_ids_equal')}." if check else ""),
        "",
        tbl,
        "",
        repeats,
        whole,
        (f"TRL's update, median split: scoring (rewards, reference log-probs, advantages) "
         f"{fmt(trl_sum['median']['score_s'])} s, loss forward + backward + AdamW "
         f"{fmt(trl_sum['median']['update_s'])} s." if trl_sum else ""),
        "",
        "<details><summary>Every step (the first " + str(args.warmup) + " of each repeat not timed)</summary>",
        "",
        "| side | repeat | step | rollout s | generated tokens | update s | step s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ] + [f"| {name} | {r + 1} | {st['step']} | {st['rollout_s']:.3f} | {st['rollout_tokens']} | "
         f"{st['step_s'] - st['rollout_s']:.3f} | {st['step_s']:.3f} |"
         for name, key in (("TRL", "trl"), ("gorae", "gorae")) for r, run in enumerate(result[key])
         for st in run["steps"]] + ["", "</details>"]
    write_doc(args.doc, "\n".join(body), args.doc_tag)

if __name__ == "__main__":
    main()
