#!/usr/bin/env python3
"""PyTorch reference of the GRPO loss and its gradient (tests/golden/rl/grpo_loss.json).

The formulas are written the way TRL's GRPOTrainer writes them (advantages from grouped rewards,
coef_1 = exp(logp - old_logp), coef_2 = clamp(coef_1, 1 - eps_low, 1 + eps_high),
per_token_loss = -min(coef_1 * A, coef_2 * A) + beta * k3 KL, then the grpo / dr_grpo / dapo
aggregation), in float64 autograd, independently of gorae's C++ (src/rl/grpo_loss.h).

    /usr/bin/python3 tools/grpo_ref.py            # regenerate the golden file
    /usr/bin/python3 tools/grpo_ref.py --check    # exit 1 if the committed file is stale
"""
import argparse
import json
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "rl", "grpo_loss.json")

CASES = [
    # name, loss_type, scale_rewards, beta, eps_low, eps_high, temperature, G, prompts
    ("grpo_group_beta", "grpo", "group", 0.04, 0.2, 0.2, 1.0, 4, 2),
    ("dr_grpo_none_temp", "dr_grpo", "none", 0.0, 0.2, 0.2, 0.7, 3, 2),
    ("dapo_batch_cliphigh", "dapo", "batch", 0.1, 0.2, 0.28, 1.3, 4, 2),
]
V, L = 7, 5  # vocabulary, completion positions


def case(name, loss_type, scale, beta, eps_low, eps_high, temperature, G, P, seed):
    g = torch.Generator().manual_seed(seed)
    S = G * P
    logits = (torch.randn(S, L, V, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    tokens = torch.randint(0, V, (S, L), generator=g)
    lengths = torch.randint(1, L + 1, (S,), generator=g)
    mask = (torch.arange(L)[None, :] < lengths[:, None]).double()
    with torch.no_grad():
        cur = torch.log_softmax(logits / temperature, -1).gather(-1, tokens[..., None])[..., 0]
    # Old and reference log-probs near the current ones, some far enough that the clip engages.
    old = (cur + torch.randn(S, L, generator=g, dtype=torch.float64) * 0.3).detach()
    ref = (cur + torch.randn(S, L, generator=g, dtype=torch.float64) * 0.5).detach()
    rewards = torch.randint(0, 3, (S,), generator=g).double() / 2

    grouped = rewards.view(P, G)
    adv = rewards - grouped.mean(1).repeat_interleave(G)
    if scale == "group":
        adv = adv / (grouped.std(1).repeat_interleave(G) + 1e-4)
    elif scale == "batch":
        adv = adv / (rewards.std() + 1e-4)

    logp = torch.log_softmax(logits / temperature, -1).gather(-1, tokens[..., None])[..., 0]
    coef_1 = torch.exp(logp - old)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    per_token = -torch.min(coef_1 * adv[:, None], coef_2 * adv[:, None])
    kl = torch.exp(ref - logp) - (ref - logp) - 1
    if beta != 0:
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    elif loss_type == "dr_grpo":
        loss = (per_token * mask).sum() / (S * L)
    else:
        loss = (per_token * mask).sum() / mask.sum()
    loss.backward()
    low = (coef_1 < 1 - eps_low) & (adv[:, None] < 0)
    high = (coef_1 > 1 + eps_high) & (adv[:, None] > 0)
    clipped = ((low | high).double() * mask).sum() / mask.sum()
    return {
        "name": name, "loss_type": loss_type, "scale_rewards": scale, "beta": beta, "eps_low": eps_low,
        "eps_high": eps_high, "temperature": temperature, "group": G, "max_completion_length": L, "vocab": V,
        "logits": logits.detach().reshape(-1).tolist(), "tokens": tokens.reshape(-1).tolist(),
        "lengths": lengths.tolist(), "old_logp": old.reshape(-1).tolist(), "ref_logp": ref.reshape(-1).tolist(),
        "rewards": rewards.tolist(),
        "expected": {
            "advantages": adv.tolist(), "loss": loss.item(), "grad_logits": logits.grad.reshape(-1).tolist(),
            "clip_fraction": clipped.item(), "kl_mean": ((kl * mask).sum() / mask.sum()).item(),
        },
    }


def build():
    return {"cases": [case(*c, seed=100 + i) for i, c in enumerate(CASES)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = json.dumps(build(), indent=None) + "\n"
    if args.check:
        same = open(OUT).read() == text
        print("up to date" if same else "STALE: rerun tools/grpo_ref.py")
        sys.exit(0 if same else 1)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        f.write(text)
    os.replace(OUT + ".tmp", OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
