#!/usr/bin/env python3
"""Encode throughput, gorae vs Hugging Face `tokenizers`, on the same text in the same run.

    python3 tools/tokenizer_bench.py --gorae-bench build-tok/bench/tokenizer/tokenizer_bench \
        [--model ../shared/data/deepseek-v3-tokenizer] [--mb 4]

Builds a few MB of mixed text from files on this machine (Python's standard library: code and
English docstrings; its CJK codec test files: Korean, Chinese, Japanese; license texts: prose;
plus emoji/number lines), cut into ~2 KB documents, and measures MB/s for
  single: one document at a time on one thread (tokenizers: Tokenizer.encode)
  batch:  all documents across all cores (tokenizers: encode_batch, rayon threads)
Both tokenizers must agree on every document's ids; the script checks that too.
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time

from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def build_corpus(mb):
    stdlib = sysconfig.get_paths()['stdlib']
    rng = random.Random(0)
    sources = {
        'code': sorted(glob.glob(os.path.join(stdlib, '*.py'))),
        'cjk': sorted(glob.glob(os.path.join(stdlib, 'test', 'cjkencodings', '*-utf8.txt'))),
        'prose': sorted(glob.glob('/usr/share/common-licenses/*')),
    }
    texts = {}
    for kind, files in sources.items():
        buf = []
        for f in files:
            try:
                with open(f, encoding='utf-8') as fh:
                    buf.append(fh.read())
            except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
                pass
        texts[kind] = '\n'.join(buf)
    emoji = ''.join(rng.choice(['🐋 ', '😀', '👍🏽 ', '고래 ', '12345 ', '3.14159 ', '\r\n', '\t', 'x² ']) for _ in range(200000))
    texts['mixed'] = emoji
    # Proportions: 45% code, 25% prose, 20% CJK, 10% mixed; CJK and mixed repeat to fill.
    target = int(mb * 1e6)
    shares = {'code': 0.45, 'prose': 0.25, 'cjk': 0.20, 'mixed': 0.10}
    docs = []
    for kind, share in shares.items():
        src = texts[kind]
        want = int(target * share)
        data = (src * (want // max(1, len(src.encode())) + 1))
        data = data.encode()[:want].decode('utf-8', 'ignore')
        pos = 0
        while pos < len(data):
            end = data.find('\n', pos + 2000)
            end = len(data) if end < 0 else end + 1
            docs.append(data[pos:end])
            pos = end
    rng.shuffle(docs)
    return docs


def bench_hf(tok, docs, repeat):
    total = sum(len(d.encode()) for d in docs)
    best_single = best_batch = best_cpu = 0
    for _ in range(repeat):
        t = time.perf_counter()
        c = time.process_time()
        single = [tok.encode(d, add_special_tokens=False).ids for d in docs]
        best_single = max(best_single, total / (time.perf_counter() - t) / 1e6)
        best_cpu = max(best_cpu, total / (time.process_time() - c) / 1e6)
        t = time.perf_counter()
        batch = [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]
        best_batch = max(best_batch, total / (time.perf_counter() - t) / 1e6)
    assert single == batch
    return best_single, best_batch, best_cpu, single


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gorae-bench', required=True)
    ap.add_argument('--model', default=os.path.join(ROOT, '..', 'shared', 'data', 'deepseek-v3-tokenizer'))
    ap.add_argument('--mb', type=float, default=4)
    ap.add_argument('--repeat', type=int, default=3)
    args = ap.parse_args()
    docs = build_corpus(args.mb)
    total = sum(len(d.encode()) for d in docs)
    tok = Tokenizer.from_file(os.path.join(args.model, 'tokenizer.json'))
    with tempfile.TemporaryDirectory() as tmp:
        docs_path = os.path.join(tmp, 'docs.json')
        ids_path = os.path.join(tmp, 'ids.json')
        with open(docs_path, 'w') as f:
            json.dump(docs, f)
        hf_single, hf_batch, hf_cpu, hf_ids = bench_hf(tok, docs, args.repeat)
        out = subprocess.run([args.gorae_bench, '--model', args.model, '--docs', docs_path,
                              '--repeat', str(args.repeat), '--ids-out', ids_path],
                             check=True, capture_output=True, text=True).stdout
        g = json.loads(out.strip().splitlines()[-1])
        with open(ids_path) as f:
            gorae_ids = json.load(f)
    same = gorae_ids == hf_ids
    cores = os.cpu_count()
    print(f'corpus: {len(docs)} documents, {total / 1e6:.2f} MB (code, prose, CJK, emoji/digits); {cores} cores')
    print(f'{"":10s} {"gorae MB/s":>12s} {"HF tokenizers MB/s":>20s} {"ratio":>8s}')
    print(f'{"single":10s} {g["single_mb_s"]:12.2f} {hf_single:20.2f} {g["single_mb_s"] / hf_single:8.2f}x')
    print(f'{"single/cpu":10s} {g["single_cpu_mb_s"]:12.2f} {hf_cpu:20.2f} {g["single_cpu_mb_s"] / hf_cpu:8.2f}x'
          '   (MB per CPU-second: not distorted by other load)')
    print(f'{"batch":10s} {g["batch_mb_s"]:12.2f} {hf_batch:20.2f} {g["batch_mb_s"] / hf_batch:8.2f}x')
    print(f'ids identical on all documents: {same}')
    print(json.dumps({'corpus_mb': total / 1e6, 'docs': len(docs), 'cores': cores,
                      'gorae_single_mb_s': g['single_mb_s'], 'hf_single_mb_s': hf_single,
                      'gorae_single_cpu_mb_s': g['single_cpu_mb_s'], 'hf_single_cpu_mb_s': hf_cpu,
                      'gorae_batch_mb_s': g['batch_mb_s'], 'hf_batch_mb_s': hf_batch,
                      'gorae_threads': g['threads'], 'ids_identical': same}))
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
