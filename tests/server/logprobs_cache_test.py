"""Logprobs, echo, the tokenizer routes and the prompt cache of a real `gorae serve`, with the
official `openai` client where it has the field and raw HTTP in lm-evaluation-harness's exact
request shapes where it does not.

Exactness: every prompt token's logprob from echo, and the first generated token's logprob and
alternatives, equal the log-softmax of `gorae logits` for the same ids (the reference the
engine must agree with). The prompt cache: a later turn of a conversation reuses the earlier
turn's KV (usage.prompt_tokens_details.cached_tokens, /metrics) and answers exactly what a
server started with --no-prompt-cache answers. Bad input gets a 400 naming the field."""
import json
import math
import subprocess
import sys
import urllib.request

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import openai
except ImportError:
    print("the openai package is not installed (scripts/install_deps.sh installs it): skipped")
    sys.exit(SKIP)

TOL = 2e-4  # float32 logits through two code paths (batched engine vs one Forward)


def log_softmax_rows(gorae, model_dir, ids):
    out = subprocess.run([gorae, "logits", "--model", model_dir, "--threads", "1", "--tokens",
                          " ".join(map(str, ids))], check=True, capture_output=True, text=True, timeout=120)
    rows = []
    for logits in json.loads(out.stdout)["logits"]:
        m = max(logits)
        norm = m + math.log(sum(math.exp(x - m) for x in logits))
        rows.append([x - norm for x in logits])
    return rows


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def metric(url, name):
    with urllib.request.urlopen(url + "/metrics", timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def check_tokenizer_routes(c, srv):
    info = get(srv.url + "/tokenizer_info")
    c.check("eos_token" in info and info["eos_token"], f"/tokenizer_info has the eos token: {info}")
    c.check(info.get("model_max_length") == 512, f"/tokenizer_info model_max_length: {info.get('model_max_length')}")
    c.check(isinstance(info.get("chat_template"), str) and info["chat_template"], "/tokenizer_info has the template")
    # lm-evaluation-harness's RemoteTokenizer: {"prompt", "add_special_tokens": false} -> {"tokens"}.
    status, tok = post(srv.url + "/tokenize", {"prompt": "the quick brown fox", "add_special_tokens": False})
    c.check(status == 200 and isinstance(tok.get("tokens"), list) and tok["tokens"], f"/tokenize: {status} {tok}")
    ids = tok["tokens"]
    c.check(tok.get("count") == len(ids), "/tokenize count")
    status, back = post(srv.url + "/detokenize", {"tokens": ids})
    c.check(status == 200 and back.get("prompt") == "the quick brown fox", f"/detokenize round trip: {back}")
    # Its eos_token_id probe: encode(eos_token)[0] must be the EOS id.
    status, eos = post(srv.url + "/tokenize", {"prompt": info["eos_token"], "add_special_tokens": False})
    c.check(eos.get("tokens") == [info["eos_token_id"]], f"the eos token encodes to its id: {eos} vs {info}")
    # vLLM's default adds the BOS; llama.cpp's "content" form does not unless asked, and gives pieces.
    _, with_bos = post(srv.url + "/tokenize", {"prompt": "the quick brown fox"})
    c.check(with_bos["tokens"] == [info["bos_token_id"]] + ids, f"add_special_tokens default true: {with_bos}")
    _, pieces = post(srv.url + "/tokenize", {"content": "the quick brown fox", "with_pieces": True})
    c.check([p["id"] for p in pieces["tokens"]] == ids and "".join(p["piece"] for p in pieces["tokens"]) ==
            "the quick brown fox", f"llama.cpp's with_pieces form: {pieces}")
    # messages: the chat template applied, as the chat route counts it.
    msgs = [{"role": "user", "content": "hello there"}]
    _, chat_tok = post(srv.url + "/tokenize", {"messages": msgs})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=60)
    r = client.chat.completions.create(model="m", messages=msgs, max_tokens=1)
    c.check(chat_tok["count"] == r.usage.prompt_tokens, f"/tokenize messages {chat_tok['count']} vs usage "
            f"{r.usage.prompt_tokens}")
    for body, param in [({}, "prompt"), ({"prompt": 5}, "prompt"), ({"prompt": "a", "add_special_tokens": "no"},
                                                                     "add_special_tokens")]:
        status, e = post(srv.url + "/tokenize", body)
        c.check(status == 400 and e["error"]["param"] == param, f"/tokenize {body}: {status} {e}")
    status, e = post(srv.url + "/detokenize", {"tokens": [1, 99999]})
    c.check(status == 400 and e["error"]["param"] == "tokens[1]", f"/detokenize bad id: {status} {e}")
    return ids


def check_echo_and_logprobs(c, srv, gorae, model_dir, ids):
    bos = get(srv.url + "/tokenizer_info")["bos_token_id"]
    prompt = [bos] + ids
    ref = log_softmax_rows(gorae, model_dir, prompt)

    # lm-evaluation-harness's loglikelihood request: ids, echo, max_tokens 1, logprobs 1.
    status, r = post(srv.url + "/v1/completions", {"model": "m", "prompt": prompt, "temperature": 0, "max_tokens": 1,
                                                   "logprobs": 1, "seed": 1234, "echo": True})
    c.check(status == 200, f"echo request: {status} {r}")
    lp = r["choices"][0]["logprobs"]
    c.check(len(lp["tokens"]) == len(prompt) + 1, f"echo: {len(lp['tokens'])} tokens for {len(prompt)} + 1")
    c.check(lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None, "echo: the first token has no logprob")
    worst = max(abs(lp["token_logprobs"][t] - ref[t - 1][prompt[t]]) for t in range(1, len(prompt)))
    c.check(worst < TOL, f"echoed prompt logprobs vs gorae logits: worst difference {worst}")
    # The generated token (greedy) is the argmax of the last row; its alternatives are the top.
    last = ref[-1]
    best = max(range(len(last)), key=lambda v: last[v])
    c.check(abs(lp["token_logprobs"][-1] - last[best]) < TOL, f"generated token logprob {lp['token_logprobs'][-1]} "
            f"vs {last[best]}")
    c.check(all(len(t) == 1 for t in lp["top_logprobs"][1:]), "logprobs 1: one alternative per token")
    c.check(lp["text_offset"] == sorted(lp["text_offset"]), "text_offset is non-decreasing")
    _, text = post(srv.url + "/detokenize", {"tokens": prompt})
    c.check(r["choices"][0]["text"].startswith(text["prompt"]), "echo: the text starts with the prompt")
    # lm-eval's parse_logprobs: the continuation's sum and is_greedy, from token_logprobs[ctxlen:-1].
    ctxlen = 3
    continuation = sum(lp["token_logprobs"][ctxlen:-1])
    expected = sum(ref[t - 1][prompt[t]] for t in range(ctxlen, len(prompt)))
    c.check(abs(continuation - expected) < 10 * TOL, f"continuation log-likelihood {continuation} vs {expected}")

    # Echo alone (max_tokens 0), 5 alternatives: the prompt scored, nothing generated.
    status, r0 = post(srv.url + "/v1/completions", {"prompt": prompt, "max_tokens": 0, "logprobs": 5, "echo": True})
    c.check(status == 200 and r0["usage"]["completion_tokens"] == 0, f"max_tokens 0 with echo: {status} {r0}")
    tops = r0["choices"][0]["logprobs"]["top_logprobs"]
    c.check(all(len(t) == 5 for t in tops[1:]), "logprobs 5: five alternatives")
    want = sorted(ref[2], reverse=True)[:5]
    got = sorted(tops[3].values(), reverse=True)
    c.check(all(abs(a - b) < TOL for a, b in zip(want, got)), f"alternatives of token 3: {got} vs {want}")

    # A text prompt: the BOS the server adds is not echoed; the first text token is scored given it.
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=60)
    t = client.completions.create(model="m", prompt="the quick brown fox", max_tokens=0, echo=True, logprobs=0)
    c.check(t.choices[0].text == "the quick brown fox", f"text echo: {t.choices[0].text!r}")
    c.check(len(t.choices[0].logprobs.tokens) == len(ids), "text echo: one entry per text token")
    c.check(abs(t.choices[0].logprobs.token_logprobs[0] - ref[0][ids[0]]) < TOL, "text echo: first token given BOS")

    # Chat logprobs through the openai client, whole and streamed (greedy: the same tokens).
    msgs = [{"role": "user", "content": "say something"}]
    whole = client.chat.completions.create(model="m", messages=msgs, max_tokens=6, temperature=0, logprobs=True,
                                           top_logprobs=3, extra_body={"ignore_eos": True})
    content = whole.choices[0].logprobs.content
    c.check(len(content) == whole.usage.completion_tokens, f"chat: {len(content)} logprob entries for "
            f"{whole.usage.completion_tokens} tokens")
    c.check(all(len(e.top_logprobs) == 3 and abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6 for e in content),
            "chat greedy: each token is its top alternative")
    def token_of(b):
        try:
            return bytes(b).decode("utf-8")
        except UnicodeDecodeError:  # part of a character: OpenAI's "bytes:\\xNN" form
            return "bytes:" + "".join(f"\\x{x:02x}" for x in b)
    c.check(all(token_of(e.bytes) == e.token for e in content), "chat: bytes match the token")
    streamed = []
    for chunk in client.chat.completions.create(model="m", messages=msgs, max_tokens=6, temperature=0, logprobs=True,
                                                top_logprobs=3, stream=True, extra_body={"ignore_eos": True}):
        for ch in chunk.choices:
            if ch.logprobs and ch.logprobs.content:
                streamed += ch.logprobs.content
    c.check([(e.token, round(e.logprob, 5)) for e in streamed] == [(e.token, round(e.logprob, 5)) for e in content],
            "chat: streamed logprobs equal the whole answer's")

    # Bad input: a 400 naming the field, and the server still answers after.
    for endpoint, body, param in [
            ("chat/completions", {"messages": msgs, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
            ("chat/completions", {"messages": msgs, "echo": True}, "echo"),
            ("chat/completions", {"messages": msgs, "max_tokens": 0}, "max_tokens"),
            ("completions", {"prompt": "a", "logprobs": True}, "logprobs"),
            ("completions", {"prompt": "a", "logprobs": 21}, "logprobs"),
            ("completions", {"prompt": "a", "max_tokens": 0}, "max_tokens")]:
        status, e = post(srv.url + "/v1/" + endpoint, body)
        c.check(status == 400 and e["error"]["param"] == param, f"{endpoint} {body}: {status} {e}")


def conversation(srv):
    """Three turns of one chat; returns (answers, usages)."""
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=60)
    msgs = [{"role": "system", "content": "You are a helpful assistant who answers briefly and clearly."}]
    answers, usages = [], []
    for q in ["the quick brown fox", "jumps over", "the lazy dog"]:
        msgs.append({"role": "user", "content": q})
        r = client.chat.completions.create(model="m", messages=msgs, max_tokens=8, temperature=0,
                                           extra_body={"ignore_eos": True})
        answers.append(r.choices[0].message.content)
        usages.append(r.usage)
        msgs.append({"role": "assistant", "content": r.choices[0].message.content})
    return answers, usages


def check_prompt_cache(c, srv, gorae, model_dir):
    before = metric(srv.url, "gorae_prompt_tokens_cached_total")
    answers, usages = conversation(srv)
    cached = [u.prompt_tokens_details.cached_tokens for u in usages]
    # Turn k + 1's prompt starts with turn k's prompt and answer: at least turn k's prompt is reused.
    for k in (1, 2):
        c.check(usages[k - 1].prompt_tokens <= cached[k] < usages[k].prompt_tokens,
                f"turn {k + 1} reuses turn {k}'s prompt: cached {cached[k]} of {usages[k].prompt_tokens} "
                f"(turn {k} had {usages[k - 1].prompt_tokens})")
    after = metric(srv.url, "gorae_prompt_tokens_cached_total")
    c.check(after - before == sum(cached), f"/metrics cached tokens {after - before} vs usage {sum(cached)}")
    with Server(gorae, model_dir, "--ctx", "512", "--no-prompt-cache") as plain:
        plain_answers, plain_usages = conversation(plain)
    c.check(plain_answers == answers, f"same answers without the cache: {plain_answers} vs {answers}")
    c.check(all(u.prompt_tokens_details.cached_tokens == 0 for u in plain_usages), "--no-prompt-cache reuses nothing")


def main():
    args = parse_args()
    c = Checks()
    with TestModel(args.make_model) as model:
        with Server(args.gorae, model.dir, "--ctx", "512", "--parallel", "2") as srv:
            ids = check_tokenizer_routes(c, srv)
            check_echo_and_logprobs(c, srv, args.gorae, model.dir, ids)
            check_prompt_cache(c, srv, args.gorae, model.dir)
        with Server(args.gorae, model.dir, "--ctx", "128", "--api-key", "k") as srv:
            status, _ = post(srv.url + "/tokenize", {"prompt": "a"})
            c.check(status == 401, f"/tokenize without the key: {status}")
            status, r = post(srv.url + "/tokenize", {"prompt": "a"}, headers={"Authorization": "Bearer k"})
            c.check(status == 200, f"/tokenize with the key: {status} {r}")
    c.finish("logprobs_cache_test")


if __name__ == "__main__":
    main()
