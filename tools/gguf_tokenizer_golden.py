#!/usr/bin/env python3
"""Writes GGUF tokenizers the way llama.cpp's convert_hf_to_gguf.py does, with llama.cpp's gguf-py.

For each tokenizer directory this reproduces the vocabulary part of the converter
(`get_vocab_base` + `_set_vocab_gpt2`): ids 0..vocab_size-1, "[PAD<i>]" of type UNUSED for ids
the tokenizer lacks, added tokens as CONTROL when special or when they look special, else
USER_DEFINED, normal tokens as NORMAL; then gguf-py's own `SpecialVocab(dir, load_merges=True)`
adds the merges, special ids, add_bos/add_eos and the chat template. The files are the golden
input of tests/gguf_tokenizer_test.cc (GgufPyGolden): gorae must load them to the tokenizer the
directory's tokenizer.json gives, and gorae's writer must produce the same arrays.

    pip install gguf transformers        # gguf 0.19.0, transformers 5.x, tokenizers 0.23
    python3 tools/gguf_tokenizer_golden.py                   # writes tests/golden/gguf/tokenizer_*.gguf
    python3 tools/gguf_tokenizer_golden.py --dir D --pre deepseek-v3 --out /tmp/x.gguf [--vocab-size N]
    python3 tools/gguf_tokenizer_golden.py --hash D [--llama-cpp SRC]   # llama.cpp's pre name for D
    python3 tools/gguf_tokenizer_golden.py --llama-cpp-ids GGUF --tokenize BIN --out OUT.jsonl

`--llama-cpp-ids` tokenizes the texts of tests/tokenizer/golden/{qwen2_style,deepseek_v3}_encode.jsonl
with llama.cpp itself (BIN: tools/llama_tokenize.cc built against libllama) on a GGUF file and
writes {"golden": file, "line": i, "ids": [...]} for every text NFC leaves unchanged (gorae
applies Qwen2's NFC normalizer as Hugging Face does; llama.cpp does not, so non-NFC text is
not expected to agree). tests/golden/gguf/r1_distill_qwen_llama_cpp.jsonl comes from
../models/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.meta.gguf (tools/fetch_gguf.py) this way.

The converter picks tokenizer.ggml.pre by hashing the encoding of a fixed text (chkhsh); the
style tokenizers are not in its table, so their name is given here (the one gorae derives from
the pre-tokenizer). `--hash` prints the hash of a directory's tokenizer and, given llama.cpp's
source, the name the converter would write, to check gorae's choice on real tokenizers.
Never needed at build or test time: the output files are committed.
"""
import argparse
import hashlib
import os
import re
import sys

import gguf
from transformers import PreTrainedTokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The text convert_hf_to_gguf.py encodes to fingerprint a pre-tokenizer (get_vocab_base_pre).
CHKTXT = ('\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ '
          '🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ '
          '------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, '
          '\'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL')


def load(dir_model):
    cfg = os.path.join(dir_model, "tokenizer_config.json")
    kwargs = {}
    if os.path.exists(cfg):
        import json
        with open(cfg, encoding="utf-8") as f:
            c = json.load(f)
        for k in ("bos_token", "eos_token", "pad_token", "add_bos_token", "add_eos_token"):
            v = c.get(k)
            if isinstance(v, dict):
                v = v.get("content")
            if v is not None:
                kwargs[k] = v
    return PreTrainedTokenizerFast(tokenizer_file=os.path.join(dir_model, "tokenizer.json"), **kwargs)


def looks_special(t):
    # convert_hf_to_gguf.py's does_token_look_special
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<｜") and t.endswith("｜>")) or (t.startswith("<unused") and t.endswith(">")))


def vocab_base(tok, vocab_size):
    """The token list and types of convert_hf_to_gguf.py's get_vocab_base."""
    vocab = tok.get_vocab()
    vocab_size = vocab_size or len(vocab)
    assert max(vocab.values()) < vocab_size
    reverse = {i: t for t, i in vocab.items()}
    added = tok.get_added_vocab()
    decoder = tok.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        t = reverse[i]
        if t in added:
            if not decoder[i].normalized:
                t = tok.decode(tok.encode(t, add_special_tokens=False))
            if decoder[i].special or looks_special(t):
                types.append(gguf.TokenType.CONTROL)
            else:
                t = t.replace("\u2581", " ")  # the converter's Gemma rule for user-defined tokens
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(t)
    return tokens, types


def write(dir_model, pre, out, vocab_size=0, arch="llama"):
    tok = load(dir_model)
    tokens, types = vocab_base(tok, vocab_size)
    w = gguf.GGUFWriter(out, arch)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(dir_model, load_merges=True).add_to_gguf(w, quiet=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {out}: {len(tokens)} tokens, pre {pre}, {os.path.getsize(out)} bytes")


def chkhsh(dir_model, llama_cpp):
    tok = load(dir_model)
    h = hashlib.sha256(str(tok.encode(CHKTXT)).encode()).hexdigest()
    name = None
    if llama_cpp:
        for rel in ("conversion/base.py", "convert_hf_to_gguf.py"):
            p = os.path.join(llama_cpp, rel)
            if not os.path.exists(p):
                continue
            src = open(p, encoding="utf-8").read()
            m = re.search(r'chkhsh == "%s":\s*\n\s*#[^\n]*\n\s*res = "([^"]+)"' % h, src)
            if m:
                name = m.group(1)
                break
    print(f"{dir_model}: chkhsh {h} -> {name or 'not in llama.cpp table'}")


def llama_cpp_ids(gguf_path, binary, out):
    import json
    import subprocess
    import unicodedata
    rows = []
    for name in ("qwen2_style_encode.jsonl", "deepseek_v3_encode.jsonl"):
        golden = os.path.join(ROOT, "tests", "tokenizer", "golden", name)
        texts = [json.loads(line)["text"] for line in open(golden, encoding="utf-8") if line.strip()]
        ids = subprocess.run([binary, gguf_path, golden], check=True, capture_output=True, text=True).stdout.splitlines()
        assert len(ids) == len(texts)
        for i, (t, r) in enumerate(zip(texts, ids)):
            if unicodedata.normalize("NFC", t) == t:
                rows.append({"golden": name, "line": i, "ids": json.loads(r)["ids"]})
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"wrote {out}: {len(rows)} rows")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir")
    ap.add_argument("--pre")
    ap.add_argument("--out")
    ap.add_argument("--vocab-size", type=int, default=0)
    ap.add_argument("--hash")
    ap.add_argument("--llama-cpp", help="llama.cpp source directory (for --hash)")
    ap.add_argument("--llama-cpp-ids", help="GGUF file to tokenize with llama.cpp")
    ap.add_argument("--tokenize", help="tools/llama_tokenize.cc, built")
    a = ap.parse_args()
    if a.llama_cpp_ids:
        llama_cpp_ids(a.llama_cpp_ids, a.tokenize, a.out)
        return
    if a.hash:
        chkhsh(a.hash, a.llama_cpp)
        return
    if a.dir:
        write(a.dir, a.pre, a.out, a.vocab_size)
        return
    for style, pre in (("qwen2_style", "qwen2"), ("llama3_style", "llama-bpe")):
        write(os.path.join(ROOT, "tests", "tokenizer", "data", style), pre,
              os.path.join(ROOT, "tests", "golden", "gguf", f"tokenizer_{style}.gguf"))


if __name__ == "__main__":
    sys.exit(main())
