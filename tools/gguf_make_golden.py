#!/usr/bin/env python3
"""Writes tests/golden/gguf/golden.gguf with llama.cpp's own Python GGUF library (gguf-py).

The file proves that gorae reads what the reference implementation writes, bit for bit:

- metadata of every value type, including the tokenizer arrays a real model carries
  (tokenizer.ggml.tokens / merges / token_type, bos/eos ids), with non-ASCII strings;
- for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: a weight quantized by gguf-py's quantizers, the float input it
  came from (`<name>.input`), and gguf-py's dequantization of it (`<name>.expected`);
- for Q4_K, Q5_K, Q6_K (gguf-py can dequantize but not quantize these): random block bytes with
  sane fp16 scales, and gguf-py's dequantization of them;
- F16, BF16 and F32 tensors, a 1-D and a 3-D tensor.

Run:  pip install gguf numpy && python3 tools/gguf_make_golden.py
Tested with gguf 0.19.0. Never needed at build or test time: the output file is committed.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "gguf", "golden.gguf")

rng = np.random.default_rng(20250607)


def weight(rows, cols):
    # Magnitudes that vary per 32 values, like real rows, so block scales differ.
    scale = 0.2 + (np.arange(cols) // 32 % 7) * 0.3
    return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)


def random_k_blocks(qtype, rows, cols):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_elems
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    d = (rng.uniform(0.001, 0.02, n_blocks)).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    dmin = (rng.uniform(0.001, 0.01, n_blocks)).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    if qtype == T.Q6_K:
        raw[:, 208:210] = d  # {ql[128], qh[64], scales[16], d}
    else:
        raw[:, 0:2] = d      # {d, dmin, scales[12], ...}
        raw[:, 2:4] = dmin
    return raw.reshape(rows, cols // block_elems * block_bytes)


def main():
    w = gguf.GGUFWriter(OUT, arch="deepseek2")
    # Metadata of every scalar type.
    w.add_name("gorae golden")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**40))
    w.add_float32("test.f32", 0.15625)
    w.add_float64("test.f64", 2.718281828459045)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "고래 whale")
    w.add_array("test.f32_array", [1.5, -2.25, 3.0])
    # The tokenizer keys a GGUF model carries.
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "a", "b", "ab", "Ġ고래"])
    w.add_token_merges(["a b", "Ġ 고래"])
    w.add_token_types([3, 3, 1, 1, 1, 1])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.add_block_count(2)
    w.add_context_length(4096)

    # 32-block types: quantized by gguf-py.
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        name = f"w.{qtype.name}"
        x = weight(2, 256)
        q = quantize(x, qtype)
        w.add_tensor(name, q, raw_dtype=qtype)
        w.add_tensor(name + ".input", x)
        w.add_tensor(name + ".expected", dequantize(q, qtype).astype(np.float32))

    # K-quants: random blocks, dequantized by gguf-py.
    for qtype in (T.Q4_K, T.Q5_K, T.Q6_K):
        name = f"w.{qtype.name}"
        q = random_k_blocks(qtype, 2, 512)
        w.add_tensor(name, q, raw_dtype=qtype)
        w.add_tensor(name + ".expected", dequantize(q, qtype).astype(np.float32))

    x = weight(3, 40)
    w.add_tensor("w.F16", x.astype(np.float16))
    w.add_tensor("w.F16.expected", x.astype(np.float16).astype(np.float32))
    bf = quantize(x, T.BF16)
    w.add_tensor("w.BF16", bf, raw_dtype=T.BF16)
    w.add_tensor("w.BF16.expected", dequantize(bf, T.BF16).astype(np.float32))
    w.add_tensor("norm.F32", np.arange(7, dtype=np.float32) * 0.5)
    w.add_tensor("cube.F32", np.arange(24, dtype=np.float32).reshape(2, 3, 4))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    from importlib.metadata import version
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes) with gguf {version('gguf')}", file=sys.stderr)


if __name__ == "__main__":
    main()
