#!/usr/bin/env python3
"""Writes tests/golden/gguf/llamacpp_{v3,v2lite}/: tiny DeepSeek-V3 and V2-Lite checkpoints, their
float64 reference logits, and the GGUF file llama.cpp's own converter (convert_hf_to_gguf.py)
makes of each.

Why: llama.cpp's current converter splits DeepSeek's kv_b_proj into attn_k_b (per head,
transposed) and attn_v_b and writes no attn_kv_b; gorae rebuilds kv_b from the pair
(RebuildKvB in src/model/gguf_model.cc). tests/gguf_model_test.cc loads these files and compares
them with the HF directory and with expected.json, in both MLA modes.

    bash tools/setup_trl_venv.sh                       # torch + transformers for the converter
    tools/build_llama_cpp.sh --no-python ...           # or only: pip download + unpack the sdist
    /work/venv-trl/bin/python tools/llamacpp_gguf_fixtures.py \
        --llama-cpp /work/llama.cpp-src/llama_cpp_python-0.3.36/vendor/llama.cpp

Each case directory holds:
* config.json, model.safetensors (BF16), expected.json: written by tools/make_golden_models.py's
  own build_case (same seed search with routing and argmax margins, float64 deepseek_ref.py
  logits), with the case definitions below;
* model.gguf: `convert_hf_to_gguf.py DIR --outtype bf16 --outfile model.gguf`, run on a temporary
  copy of DIR with a tokenizer added (below). BF16 in, BF16 out: every matrix holds the same
  bits as the safetensors file; 1-D tensors are F32 (exact widening).

The converter needs a tokenizer and accepts only BPE tokenizers whose pre-tokenizer it knows
(it hashes the ids of a test string). The tiny models have 256 tokens, so the tokenizer is a
byte-level BPE with the 256 byte symbols and no merges, and `TextModel.get_vocab_base_pre` is
replaced by a function returning the name the real model gets ("deepseek-v3" for V3,
"deepseek-llm" for V2-Lite). That is the only change to the converter: the metadata and tensor
code (set_gguf_parameters, modify_tensors, the kv_b split) runs as llama.cpp ships it. The
llama.cpp commit is read from its git checkout, else from the sdist's name, and written to
tests/golden/gguf/llamacpp_fixtures.json with the exact command.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
OUT = os.path.join(ROOT, "tests", "golden", "gguf")
sys.path.insert(0, HERE)

CASES = [
    dict(
        name="llamacpp_v3",
        pre="deepseek-v3",
        seed=7000,
        num_tokens=16,
        storage="BF16",
        # kv_lora_rank differs from qk_nope_head_dim and v_head_dim, so the MQA-view key_length /
        # value_length (kv_lora + rope, kv_lora) differ from the *_mla per-head sizes.
        # low-rank q, YaRN (mscale = mscale_all_dim: what llama.cpp's keys can hold), sigmoid +
        # noaux_tc with groups, shared expert, one dense layer first.
        config=dict(
            model_type="deepseek_v3", vocab_size=256, hidden_size=32, num_attention_heads=2,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12, kv_lora_rank=20, q_lora_rank=24,
            intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
            first_k_dense_replace=1, moe_layer_freq=1,
            n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
            n_group=4, topk_group=2, topk_method="noaux_tc", scoring_func="sigmoid",
            norm_topk_prob=True, routed_scaling_factor=2.5, max_position_embeddings=256,
            torch_dtype="bfloat16",
            rope_scaling={"type": "yarn", "factor": 4, "original_max_position_embeddings": 64,
                          "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
        ),
    ),
    dict(
        name="llamacpp_v2lite",
        pre="deepseek-llm",
        seed=8000,
        num_tokens=12,
        storage="BF16",
        # V2-Lite: plain q_proj, softmax + greedy, no normalisation, v_head_dim != nope, no YaRN.
        config=dict(
            model_type="deepseek_v2", vocab_size=256, hidden_size=32, num_attention_heads=2,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=24, kv_lora_rank=20, q_lora_rank=None,
            intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
            first_k_dense_replace=1, moe_layer_freq=1,
            n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
            n_group=1, topk_group=1, topk_method="greedy", scoring_func="softmax",
            norm_topk_prob=False, routed_scaling_factor=1.0, max_position_embeddings=256,
            torch_dtype="bfloat16",
        ),
    ),
]


def byte_tokenizer(dst):
    """A byte-level BPE tokenizer of the 256 byte symbols (GPT-2's byte-to-unicode map), no merges."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # GPT-2 order: printable bytes map to themselves, the rest to U+0100..
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    symbol = {b: chr(c) for b, c in zip(bs, cs)}
    vocab = {symbol[b]: b for b in range(256)}
    assert set(vocab) == set(alphabet)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)  # bos/eos ids come from config.json
    fast.save_pretrained(dst)


def llama_cpp_version(llama):
    try:
        commit = subprocess.run(["git", "-C", llama, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    sdist = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(llama))))
    return {"llama_cpp_commit": commit, "from": sdist}


CONVERT = r"""
import sys
sys.path.insert(0, {llama!r})
sys.path.insert(1, {gguf_py!r})
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: {pre!r}
sys.argv = ["convert_hf_to_gguf.py", {src!r}, "--outtype", "bf16", "--outfile", {out!r}]
import convert_hf_to_gguf
convert_hf_to_gguf.main()
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp source tree (convert_hf_to_gguf.py, gguf-py)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    import make_golden_models as mg
    import torch
    torch.set_num_threads(1)
    llama = os.path.abspath(args.llama_cpp)
    record = {"generated_by": "tools/llamacpp_gguf_fixtures.py", **llama_cpp_version(llama), "cases": {}}
    for case in CASES:
        cfg = mg.hf_config(case["config"].pop("model_type"), **case["config"])
        case = dict(case, config=cfg)
        mg.build_case(case, args.out, verbose=True)
        d = os.path.join(args.out, case["name"])
        tmp = tempfile.mkdtemp(prefix="llamacpp_fixture_")
        try:
            for f in ("config.json", "model.safetensors"):
                shutil.copy(os.path.join(d, f), tmp)
            byte_tokenizer(tmp)
            out = os.path.join(d, "model.gguf")
            code = CONVERT.format(llama=llama, gguf_py=os.path.join(llama, "gguf-py"), pre=case["pre"], src=tmp,
                                  out=out)
            subprocess.run([sys.executable, "-c", code], check=True)
        finally:
            shutil.rmtree(tmp)
        record["cases"][case["name"]] = {
            "command": f"convert_hf_to_gguf.py DIR --outtype bf16 --outfile {case['name']}/model.gguf "
                       f"(get_vocab_base_pre -> {case['pre']!r}; DIR = the case's config.json + model.safetensors "
                       f"+ a 256-symbol byte-level tokenizer)",
            "bytes": {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))},
        }
        print(f"wrote {os.path.relpath(out, ROOT)} ({os.path.getsize(out)} bytes)")
    with open(os.path.join(args.out, "llamacpp_fixtures.json"), "w") as f:
        f.write(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
