#!/usr/bin/env python3
"""Writes the tokenizer golden files under tests/tokenizer/golden/ with Hugging Face
`tokenizers` and `transformers` (the reference implementations). One command regenerates all:

    python3 tools/tokenizer_golden.py [--gorae build-tok/src/cli/gorae]

Outputs (committed; the C++ tests read them, Python is never needed at test time):
  golden/<name>_encode.jsonl   {"text", "ids"} per line: tokenizers' encode(add_special_tokens=False)
                               and "decoded": decode(ids, skip_special_tokens=False)
  golden/<name>_decode.jsonl   {"ids", "skip_special", "text"}: decode of arbitrary id lists
                               (partial UTF-8, special tokens) -> U+FFFD behaviour
  golden/chat_<template>.jsonl {"messages", "add_generation_prompt", "text"}: apply_chat_template
  data/<name>/tokenizer.json   small tokenizers in the Qwen2 / Llama 3 / GPT-2 styles, trained
                               here with `tokenizers` on data/style_corpus.txt, to cover NFC,
                               Digits, ByteLevel(use_regex), ignore_merges and the BOS template
  golden/trained_encode.jsonl  ids that `tokenizers` gives with the tokenizer that
                               `gorae tokenizer train` writes from data/train_corpus.txt (only
                               with --gorae; the C++ test retrains and compares)
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, processors, trainers, Regex

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
TESTS = os.path.join(ROOT, 'tests', 'tokenizer')
DEEPSEEK_DIR = os.path.join(ROOT, '..', 'shared', 'data', 'deepseek-v3-tokenizer')

SPECIAL = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>', '<|EOT|>',
           '<｜tool▁calls▁begin｜>', '<｜fim▁hole｜>', '<｜place▁holder▁no▁7｜>']

# Hand-picked strings: each line names what it is there for.
CURATED = [
    '', ' ', '  ', '\n', '\r\n', '\t', 'a', 'Hello world', ' Hello world', 'Hello  world  ',
    "The quick brown fox jumps over the lazy dog. It's 3:45pm; isn't it?",
    "I'm, you're, we've, they'll, he'd — 'quoted' \"double\" (parens) [brackets] {braces}",
    '안녕하세요, 세계! 한국어 토크나이저 테스트입니다. 고래는 바다에 삽니다.',
    '你好，世界！这是一个中文分词测试。深度求索发布了DeepSeek-V3模型。',
    '日本語のテキストです。カタカナとひらがな、漢字が混ざっています。東京タワー',
    'def foo(x):\n    if x > 0:\n        return x * 2\n    else:\n\treturn -x\n',
    'int main() {\n  std::vector<int> v{1, 2, 3};\n  for (auto& x : v) x += 1;\n  return 0;\n}\n',
    '    indented\n        deeper\n\n\n    back\n',
    '1 12 123 1234 12345 123456 1234567 3.14159 1e-10 0x1F 1,000,000 ２０２４年 ٣٤٥ ²³ Ⅻ',
    'mixed \t\twhitespace \r\n\r\n and CRLF\r\nlines  \n \n\t\n',
    'trailing spaces   ', '   leading spaces', '\u00a0non-breaking\u00a0space\u3000ideographic\u2003em',
    'emoji 😀👍🏽 👨‍👩‍👧‍👦 🇰🇷🇯🇵 ❤️ 🐋 whale',
    'combining: e\u0301 a\u0300 n\u0303 \u1100\u1161\u11a8 Ä vs A\u0308, ﬁ ligature, Å Å',
    'zero width: a\u200bb\u200cc\u200dd\ufeffe \u2028 \u2029 \u0085 \u180e',
    'odd: \x00\x01\x1b[31m\x7f \ufffd \ufffe \uffff \ue000 \U0010ffff \U0001f9ff',
    'special <｜User｜>hi<｜Assistant｜>hello<｜end▁of▁sentence｜>',
    '<｜begin▁of▁sentence｜><｜begin▁of▁sentence｜>x<|EOT|><｜User｜',
    'partial <｜User and <｜Assistant｜ and <| EOT |> and <<｜User｜>>',
    'URL https://example.com/path?q=1&r=2#frag email a.b@c.de @user #tag $100 50% a_b-c',
    'ALLCAPS CamelCase snake_case kebab-case dot.case',
    '"Hello," she said. "It\'s 5 o\'clock!"\n— An em dash… and ellipsis.',
    'Русский текст, Ελληνικά, עברית, العربية, हिन्दी, ไทย',
    'math: ∑_{i=1}^{n} x_i² ≤ ∞ ∀x∈ℝ; a→b ⇒ c',
    '<think>\nreasoning here\n</think>\n\nanswer',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    ' ' * 300 + 'x', '\n' * 50, '가' * 400, '!' * 333, '1' * 100,
]

POOLS = {
    'ascii': 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
    'digit': '0123456789０１２٣⁴Ⅻ',
    'punct': '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~—…«»¿¡、。，！？「」',
    'space': [' ', ' ', ' ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2003', '\u0085', '\u180e', '\u200b', '\ufeff', '\u2028'],
    'ko': '고래는바다에서삽니다한국어토크나이저테스트가나다라마바사',
    'zh': '深度求索发布模型中文分词测试你好世界的是了在',
    'ja': 'ひらがなカタカナ漢字東京タワーのはをにが',
    'emoji': ['😀', '👍🏽', '👨‍👩‍👧', '🇰🇷', '❤️', '🐋', '\U0001f9ff'],
    'mark': ['\u0301', '\u0308', '\u0323', '\u1161', '\u11a8', '\u093f'],
    'odd': ['\x00', '\x1b', '\x7f', '\ufffd', '\ue000', '\U0010ffff', '\uffff', 'ß', 'ﬁ', 'Å'],
    'special': SPECIAL,
}


def fuzz_strings(n, seed):
    """Random mixtures of the pools, in runs, so that pre-tokenizer boundaries are exercised."""
    rng = random.Random(seed)
    names = list(POOLS)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            pool = POOLS[rng.choice(names)]
            run = rng.randint(1, 6)
            parts.append(''.join(rng.choice(pool) for _ in range(run)))
        out.append(''.join(parts))
    return out


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=True) + '\n')
    print(f'wrote {os.path.relpath(path, ROOT)} ({len(rows)} rows)', file=sys.stderr)


def encode_rows(tok, texts, bos_ids=None):
    rows = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        row = {'text': t, 'ids': ids}
        dec = tok.decode(ids, skip_special_tokens=False)
        if dec != t:
            row['decoded'] = dec
        rows.append(row)
    # With BOS: BOS + ids where tokenizer_config.json asks for it (bos_ids), the post-processor
    # template of `tokenizers` otherwise (Llama 3 style).
    for t in texts[:20]:
        ids = bos_ids(t) if bos_ids else tok.encode(t, add_special_tokens=True).ids
        rows.append({'text': t, 'ids': ids, 'add_bos': True})
    return rows


def decode_rows(tok, seed, vocab_size):
    rng = random.Random(seed)
    rows = []
    for i in range(200):
        n = rng.randint(0, 12)
        ids = [rng.randrange(vocab_size) for _ in range(n)]
        if i % 3 == 0:  # single bytes / short tokens: partial UTF-8 sequences
            ids = [rng.randrange(0, 600) for _ in range(n)]
        skip = i % 2 == 1
        rows.append({'ids': ids, 'skip_special': skip, 'text': tok.decode(ids, skip_special_tokens=skip)})
    return rows


def style_corpus():
    """A small multilingual corpus for the style tokenizers (deterministic)."""
    rng = random.Random(7)
    lines = CURATED[:]
    lines += fuzz_strings(400, 99)
    words = ['the', 'whale', 'model', 'token', 'reason', 'answer', 'deep', 'seek', 'number', 'café',
             '고래', '바다', '模型', '推理', 'トークン', 'naïve', 'Ångström', '2024', '3.14']
    for _ in range(3000):
        lines.append(' '.join(rng.choice(words) for _ in range(rng.randint(3, 15))))
    return lines


def make_style_tokenizers(corpus_lines):
    """Tokenizers shaped like Qwen2, Llama 3 and GPT-2, trained small with `tokenizers`."""
    qwen_re = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
    llama3_re = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
    styles = {}
    # Qwen2: NFC, one Split, ByteLevel without regex.
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(qwen_re), behavior='isolated'),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    styles['qwen2_style'] = (t, ['<|endoftext|>', '<|im_start|>', '<|im_end|>'])
    # Llama 3: Split, ByteLevel, ignore_merges, BOS via TemplateProcessing.
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(llama3_re), behavior='isolated'),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    styles['llama3_style'] = (t, ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'])
    # GPT-2: ByteLevel with its own regex and a prefix space; Digits individually first.
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    styles['gpt2_style'] = (t, ['<|endoftext|>'])
    # Every Split behaviour, invert, literal patterns and contiguous Digits (no real model uses
    # all of these; they pin down the delimiter semantics).
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(',', behavior='removed'),
        pre_tokenizers.Split(Regex(r'\s+'), behavior='merged_with_previous'),
        pre_tokenizers.Split('-', behavior='merged_with_next'),
        pre_tokenizers.Split(Regex(r'[.!?]'), behavior='contiguous'),
        pre_tokenizers.Split(Regex(r'\p{L}+'), behavior='isolated', invert=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    styles['split_behaviors'] = (t, ['<pad>'])
    out = {}
    for name, (t, specials) in styles.items():
        trainer = trainers.BpeTrainer(vocab_size=1500, min_frequency=2, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        t.train_from_iterator(corpus_lines, trainer)
        if name == 'llama3_style':
            bos = t.token_to_id('<|begin_of_text|>')
            t.post_processor = processors.TemplateProcessing(
                single='<|begin_of_text|> $A', pair='<|begin_of_text|> $A <|begin_of_text|> $B',
                special_tokens=[('<|begin_of_text|>', bos)])
        # A non-special added token with lstrip/rstrip, as some models declare.
        from tokenizers import AddedToken
        t.add_tokens([AddedToken('[MASK]', lstrip=True, rstrip=True, special=False, normalized=False)])
        if name == 'qwen2_style':  # a normalized added token written in decomposed form
            t.add_tokens([AddedToken('A\u030angstro\u0308m', special=False, normalized=True)])
        d = os.path.join(TESTS, 'data', name)
        os.makedirs(d, exist_ok=True)
        t.save(os.path.join(d, 'tokenizer.json'))
        out[name] = t
    return out


def chat_conversations():
    return [
        [{'role': 'user', 'content': 'Hello!'}],
        [{'role': 'system', 'content': 'You are a helpful assistant.'},
         {'role': 'user', 'content': 'What is 2+2?'}],
        [{'role': 'system', 'content': 'Be brief.'}, {'role': 'system', 'content': 'Answer in Korean.'},
         {'role': 'user', 'content': '고래는 무엇을 먹나요?'},
         {'role': 'assistant', 'content': '크릴과 작은 물고기를 먹습니다.'},
         {'role': 'user', 'content': '더 알려 주세요.'}],
        [{'role': 'user', 'content': 'Solve 12*13.'},
         {'role': 'assistant', 'content': '<think>\n12*13 = 156\n</think>\n\n156'},
         {'role': 'user', 'content': 'And 14*15?'}],
        [{'role': 'user', 'content': 'Think first.'},
         {'role': 'assistant', 'content': 'The answer is 42.', 'reasoning_content': 'Let me think.\nIt is 42.'},
         {'role': 'user', 'content': 'Why?'}],
        [{'role': 'user', 'content': 'multi\nline\n\ncontent with <think> inside'},
         {'role': 'assistant', 'content': 'a</think>b</think>c'}],
        [{'role': 'user', 'content': 'call a tool'},
         {'role': 'tool', 'content': '{"temp": 21}'}, {'role': 'tool', 'content': '{"temp": 22}'},
         {'role': 'assistant', 'content': 'It is 21 or 22 degrees.'}],
        [{'role': 'user', 'content': 'only a tool output follows'}, {'role': 'tool', 'content': 'result'}],
        [{'role': 'system', 'content': ''}, {'role': 'system', 'content': 'second'},
         {'role': 'user', 'content': ''}],
    ]


def write_chat_goldens():
    from transformers import PreTrainedTokenizerFast
    sys.path.insert(0, ROOT)
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TESTS, 'data', 'gpt2_style', 'tokenizer.json'),
                                  bos_token='<｜begin▁of▁sentence｜>')
    templates = {
        'deepseek_v3': open(os.path.join(TESTS, 'data', 'deepseek_v3.jinja'), encoding='utf-8').read(),
        'deepseek_r1': open(os.path.join(TESTS, 'data', 'deepseek_r1.jinja'), encoding='utf-8').read(),
        'deepseek_r1_initial': open(os.path.join(TESTS, 'data', 'deepseek_r1_initial.jinja'), encoding='utf-8').read(),
        'gorae': open(os.path.join(TESTS, 'data', 'gorae.jinja'), encoding='utf-8').read(),
        # ChatML: Qwen2.5's (as Qwen2.5-Coder-1.5B-Instruct's GGUF carries it), Qwen2-Instruct's, and
        # the bare ChatML template (no default system message).
        'qwen2_5': open(os.path.join(TESTS, 'data', 'qwen2_5.jinja'), encoding='utf-8').read(),
        'qwen2': open(os.path.join(TESTS, 'data', 'qwen2.jinja'), encoding='utf-8').read(),
        'chatml': open(os.path.join(TESTS, 'data', 'chatml.jinja'), encoding='utf-8').read(),
        # Meta-Llama-3-8B-Instruct's and Llama-3.1-8B-Instruct's (3.3-70B-Instruct carries 3.1's).
        'llama3': open(os.path.join(TESTS, 'data', 'llama3.jinja'), encoding='utf-8').read(),
        'llama3_1': open(os.path.join(TESTS, 'data', 'llama3_1.jinja'), encoding='utf-8').read(),
    }
    for name, template in templates.items():
        rows = []
        for conv in chat_conversations():
            for gen in (False, True):
                if name != 'gorae':  # the DeepSeek templates do not know reasoning_content
                    conv_in = [{k: v for k, v in m.items() if k != 'reasoning_content'} for m in conv]
                else:
                    conv_in = conv
                text = tok.apply_chat_template(conv_in, chat_template=template, tokenize=False,
                                               add_generation_prompt=gen)
                rows.append({'messages': conv_in, 'add_generation_prompt': gen, 'text': text})
        write_jsonl(os.path.join(TESTS, 'golden', f'chat_{name}.jsonl'), rows)


WEATHER_TOOL = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Current weather of a city (°C)',
    'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}, 'days': {'type': 'integer'}},
                   'required': ['city']}}}
TIME_TOOL = {'type': 'function', 'function': {'name': 'now', 'parameters': {'type': 'object', 'properties': {}}}}


def tool_conversations():
    """(tools, messages): tool definitions, assistant tool calls (arguments as objects, as
    transformers expects them) and tool results."""
    call = {'type': 'function', 'function': {'name': 'get_weather', 'arguments': {'city': 'Seoul', 'days': 2}}}
    return [
        ([WEATHER_TOOL], [{'role': 'user', 'content': 'Weather in Seoul?'}]),
        ([WEATHER_TOOL, TIME_TOOL], [{'role': 'system', 'content': 'Be exact.'},
                                     {'role': 'user', 'content': '서울 날씨?'}]),
        ([WEATHER_TOOL], [{'role': 'user', 'content': 'Weather in Seoul?'},
                          {'role': 'assistant', 'content': '', 'tool_calls': [call]},
                          {'role': 'tool', 'content': '{"temp": 21, "sky": "clear"}'}]),
        ([WEATHER_TOOL, TIME_TOOL], [{'role': 'user', 'content': 'Weather and time?'},
                                     {'role': 'assistant', 'content': 'Let me check.', 'tool_calls': [
                                         call, {'type': 'function', 'function': {'name': 'now', 'arguments': {}}}]},
                                     {'role': 'tool', 'content': '21'}, {'role': 'tool', 'content': '12:00'},
                                     {'role': 'assistant', 'content': 'It is 21 degrees at noon.'},
                                     {'role': 'user', 'content': 'Thanks "friend"\n'}]),
    ]


def deepseek_tool_conversations():
    """DeepSeek-R1's template renders tool calls (arguments as the JSON text OpenAI sends) and
    tool outputs, but no tool definitions."""
    call = {'type': 'function', 'function': {'name': 'get_weather', 'arguments': '{"city": "Seoul"}'}}
    now = {'type': 'function', 'function': {'name': 'now', 'arguments': '{}'}}
    return [
        [{'role': 'user', 'content': 'Weather in Seoul?'}, {'role': 'assistant', 'content': '', 'tool_calls': [call]},
         {'role': 'tool', 'content': '{"temp": 21}'}, {'role': 'assistant', 'content': 'It is 21 degrees.'}],
        [{'role': 'system', 'content': 'Be exact.'}, {'role': 'user', 'content': 'Weather and time?'},
         {'role': 'assistant', 'content': 'Checking.', 'tool_calls': [call, now]},
         {'role': 'tool', 'content': '21'}, {'role': 'tool', 'content': '12:00'}],
        [{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': '', 'tool_calls': [call]},
         {'role': 'tool', 'content': '1'}, {'role': 'user', 'content': 'again'},
         {'role': 'assistant', 'content': '', 'tool_calls': [now]}, {'role': 'tool', 'content': '2'},
         {'role': 'assistant', 'content': 'done'}, {'role': 'user', 'content': 'thanks'}],
    ]


def deepseek_legacy_tool_conversations():
    """DeepSeek-V3's template and R1's first one render an assistant turn's calls only when its
    content is None, write the calls' end marker after every call but the first of the
    conversation, and drop the calls of a turn that also has text (the last conversation)."""
    convs = []
    for conv in deepseek_tool_conversations():
        convs.append([dict(m, content=None) if m.get('content') == '' and 'tool_calls' in m else m for m in conv])
    call = {'type': 'function', 'function': {'name': 'get_weather', 'arguments': '{"city": "Seoul"}'}}
    now = {'type': 'function', 'function': {'name': 'now', 'arguments': '{}'}}
    convs.append([{'role': 'system', 'content': 'A.'}, {'role': 'system', 'content': 'B.'},
                  {'role': 'user', 'content': 'Both?'}, {'role': 'assistant', 'content': None, 'tool_calls': [call, now, call]},
                  {'role': 'tool', 'content': '21'}, {'role': 'tool', 'content': '12:00'}, {'role': 'tool', 'content': '22'},
                  {'role': 'assistant', 'content': '<think>x</think>Done.'}])
    convs.append(convs[1][:3] + [{'role': 'assistant', 'content': 'Checking.', 'tool_calls': [call]},
                                 {'role': 'user', 'content': 'ok'}])
    return convs


def write_tool_goldens():
    """golden/chat_qwen2_5_tools.jsonl {"tools", "messages", "add_generation_prompt", "text"}."""
    from transformers import PreTrainedTokenizerFast
    from transformers.utils.chat_template_utils import render_jinja_template
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TESTS, 'data', 'gpt2_style', 'tokenizer.json'),
                                  bos_token='<｜begin▁of▁sentence｜>')
    template = open(os.path.join(TESTS, 'data', 'qwen2_5.jinja'), encoding='utf-8').read()
    rows = []
    for tools, conv in tool_conversations():
        for gen in (False, True):
            text = tok.apply_chat_template(conv, tools=tools, chat_template=template, tokenize=False,
                                           add_generation_prompt=gen)
            rows.append({'tools': tools, 'messages': conv, 'add_generation_prompt': gen, 'text': text})
    write_jsonl(os.path.join(TESTS, 'golden', 'chat_qwen2_5_tools.jsonl'), rows)
    template = open(os.path.join(TESTS, 'data', 'deepseek_r1.jinja'), encoding='utf-8').read()
    rows = []
    for conv in deepseek_tool_conversations():
        for gen in (False, True):
            text = tok.apply_chat_template(conv, chat_template=template, tokenize=False, add_generation_prompt=gen)
            rows.append({'messages': conv, 'add_generation_prompt': gen, 'text': text})
    write_jsonl(os.path.join(TESTS, 'golden', 'chat_deepseek_r1_tools.jsonl'), rows)
    # Llama 3.1: the definitions go into the first user message, one call per turn.
    template = open(os.path.join(TESTS, 'data', 'llama3_1.jinja'), encoding='utf-8').read()
    call = {'type': 'function', 'function': {'name': 'get_weather', 'arguments': {'city': 'Seoul', 'days': 2}}}
    convs = [(tools, conv) for tools, conv in tool_conversations()
             if all(len(m.get('tool_calls', [])) <= 1 for m in conv)]
    convs.append(([WEATHER_TOOL, TIME_TOOL], [
        {'role': 'system', 'content': '  Be exact.\n'}, {'role': 'user', 'content': 'Weather?'},
        {'role': 'assistant', 'tool_calls': [call]}, {'role': 'tool', 'content': '21'},
        {'role': 'assistant', 'content': 'It is 21 degrees. '}, {'role': 'user', 'content': 'And the time?'}]))
    rows = []
    for tools, conv in convs:
        for gen in (False, True):
            text = tok.apply_chat_template(conv, tools=tools, chat_template=template, tokenize=False,
                                           add_generation_prompt=gen)
            rows.append({'tools': tools, 'messages': conv, 'add_generation_prompt': gen, 'text': text})
    write_jsonl(os.path.join(TESTS, 'golden', 'chat_llama3_1_tools.jsonl'), rows)
    for name in ('deepseek_v3', 'deepseek_r1_initial'):
        template = open(os.path.join(TESTS, 'data', name + '.jinja'), encoding='utf-8').read()
        rows = []
        for conv in deepseek_legacy_tool_conversations():
            for gen in (False, True):
                # transformers 5's apply_chat_template drops None-valued keys, and with no content
                # these templates fail on a call turn; its renderer takes the messages as OpenAI
                # sends them (content None), as apply_chat_template did up to transformers 4.
                text = render_jinja_template([conv], chat_template=template, add_generation_prompt=gen,
                                             bos_token='<｜begin▁of▁sentence｜>')[0][0]
                rows.append({'messages': conv, 'add_generation_prompt': gen, 'text': text})
        write_jsonl(os.path.join(TESTS, 'golden', f'chat_{name}_tools.jsonl'), rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gorae', help='gorae binary, to write the trained-tokenizer golden')
    ap.add_argument('--chat-only', action='store_true', help='write only the chat template goldens')
    args = ap.parse_args()
    if args.chat_only:
        write_chat_goldens()
        write_tool_goldens()
        return
    texts = CURATED + fuzz_strings(300, 1234)

    ds = Tokenizer.from_file(os.path.join(DEEPSEEK_DIR, 'tokenizer.json'))
    # BOS rows: tokenizer_config.json says add_bos_token (transformers 4 LlamaTokenizerFast put
    # the BOS first; transformers 5 loads this file as TokenizersBackend and no longer does).
    bos = ds.token_to_id('<｜begin▁of▁sentence｜>')
    write_jsonl(os.path.join(TESTS, 'golden', 'deepseek_v3_encode.jsonl'),
                encode_rows(ds, texts, lambda t: [bos] + ds.encode(t, add_special_tokens=False).ids))
    write_jsonl(os.path.join(TESTS, 'golden', 'deepseek_v3_decode.jsonl'), decode_rows(ds, 5, ds.get_vocab_size()))

    corpus = style_corpus()
    for name, t in make_style_tokenizers(corpus).items():
        extra = ['[MASK]', 'a [MASK] b', 'x  [MASK]  y [MASK]', 'a-b--c, d,,e...f!?  g - h 12-34 5,6',
                 'one \u00c5ngstr\u00f6m two A\u030angstro\u0308m three']
        write_jsonl(os.path.join(TESTS, 'golden', f'{name}_encode.jsonl'), encode_rows(t, texts + extra))

    write_chat_goldens()
    write_tool_goldens()

    if args.gorae:
        corpus_path = os.path.join(TESTS, 'data', 'train_corpus.txt')
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([args.gorae, 'tokenizer', 'train', '--data', corpus_path, '--vocab-size', '2000',
                            '--out', out, '--no-progress'], check=True)
            t = Tokenizer.from_file(os.path.join(out, 'tokenizer.json'))
            write_jsonl(os.path.join(TESTS, 'golden', 'trained_encode.jsonl'),
                        encode_rows(t, texts, lambda s: [0] + t.encode(s, add_special_tokens=False).ids))


if __name__ == '__main__':
    main()
