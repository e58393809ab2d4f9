#!/usr/bin/env python3
# Writes tests/tokenizer/golden/trained_split_digits_encode.jsonl for split_digits_test.cc: the ids
# Hugging Face `tokenizers` gives with the tokenizer that
#   gorae tokenizer train --data tests/tokenizer/data/train_corpus.txt --vocab-size 2000 --split-digits --out DIR
# writes. Usage: python3 tests/tokenizer/split_digits_golden.py DIR tests/tokenizer/golden/trained_split_digits_encode.jsonl
import json, sys
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1] + '/tokenizer.json')
texts = [
    "0", "7", "42", "123", "1234", "12345678901234567890", " 2024", "2024-01-15", "3.14159265358979",
    "12345 + 678 = 13023", "x1y22z333w4444 v55555", "Order #00042 costs $1,299.99 (tax 7.5%)",
    "1e-10 0x1F 0b1010 1_000_000", "In 1969, 3 astronauts flew 384,400 km.",
    "½ ¾ ² ³ ¹ ⁴ ₅ Ⅻ ⅷ", "٠١٢٣٤٥٦٧٨٩ and ۱۲۳", "०१२३ and ௧௨௩", "０１２３４５６７８９", "一二三 四五六 1二3",
    " 7\n8\t9  10", "a1 b22 c333\n\n4444", "v2.0.1-rc3+build.45", "192.168.0.1:8080", "+1 (555) 010-9999",
    "The answer is 5050.", "<think>\n12 * 12 = 144\n</think>\n\nAnswer: 144",
    "Hello world", " Hello world", "The quick brown fox jumps over the lazy dog.", "",
]
with open(sys.argv[2], 'w', encoding='utf-8') as f:
    for s in texts:
        f.write(json.dumps({"text": s, "ids": t.encode(s, add_special_tokens=False).ids}, ensure_ascii=False) + "\n")
