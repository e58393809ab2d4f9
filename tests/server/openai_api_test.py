"""The official `openai` Python package against a real `gorae serve` on 127.0.0.1 with a tiny
random model: models, chat and text completions (whole and streamed), n > 1, seeds, stop
sequences, usage, the reasoning split (R1 template), errors with the right status and field,
and the API key. Random weights give random text, so the checks are about the protocol:
e.g. a streamed answer must equal the whole answer for the same seed."""
import json
import subprocess
import sys

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import openai
except ImportError:
    print("the openai package is not installed (scripts/install_deps.sh installs it): skipped")
    sys.exit(SKIP)

MSG = [{"role": "user", "content": "What is 2 + 2?"}]
NO_EOS = {"ignore_eos": True}  # gorae extension (as llama.cpp's): answers run to max_tokens


def client_for(server, key="none"):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


def stream_chat(client, **kw):
    """Returns (content, reasoning, finish_reasons by index, usage, roles seen, chunks)."""
    content, reasoning, finish, roles, usage = {}, {}, {}, set(), None
    chunks = list(client.chat.completions.create(stream=True, **kw))
    for c in chunks:
        if c.usage is not None:
            usage = c.usage
        for ch in c.choices:
            d = ch.delta
            if d.role:
                roles.add(ch.index)
            content[ch.index] = content.get(ch.index, "") + (d.content or "")
            extra = d.model_extra or {}
            reasoning[ch.index] = reasoning.get(ch.index, "") + (extra.get("reasoning_content") or "")
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    return content, reasoning, finish, usage, roles, chunks


def split_like_deepseek(text, opened):
    """The reasoning/content split the server must produce for raw output `text`."""
    ws = " \n\t\r"
    if not opened:
        t = text.lstrip(ws)
        if not t.startswith("<think>"):
            return "", text
        text = t[len("<think>"):]
    text = text.lstrip(ws)
    if "</think>" in text:
        r, c = text.split("</think>", 1)
        return r.rstrip(ws), c.lstrip(ws)
    return text.rstrip(ws), ""


def main():
    args = parse_args()
    t = Checks()
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "256", "--max-body-mb", "1") as srv:
        c = client_for(srv)
        models = c.models.list().data
        t.check(len(models) == 1 and models[0].id, "models.list gives the one model")
        name = models[0].id
        t.check(c.models.retrieve(name).id == name, "models.retrieve")

        # Whole chat answers: shape, usage, determinism by seed.
        r = c.chat.completions.create(model=name, messages=MSG, max_tokens=8, seed=11, extra_body=NO_EOS)
        ch = r.choices[0]
        t.check(r.object == "chat.completion" and r.id.startswith("chatcmpl-"), "chat object and id")
        t.check(ch.message.role == "assistant" and isinstance(ch.message.content, str), "assistant message")
        t.check(ch.finish_reason == "length", f"finish_reason length at max_tokens (got {ch.finish_reason})")
        t.check(r.usage.completion_tokens == 8 and r.usage.prompt_tokens > 0 and
                r.usage.total_tokens == r.usage.prompt_tokens + 8, f"usage counts {r.usage}")
        again = c.chat.completions.create(model=name, messages=MSG, max_tokens=8, seed=11, extra_body=NO_EOS)
        t.check(again.choices[0].message.content == ch.message.content, "same seed, same answer")

        # Streaming gives the same text as the whole answer, with role first and [DONE] last.
        content, reasoning, finish, usage, roles, chunks = stream_chat(
            c, model=name, messages=MSG, max_tokens=8, seed=11, extra_body=NO_EOS,
            stream_options={"include_usage": True})
        t.check(content.get(0) == ch.message.content, f"streamed == whole ({content.get(0)!r} vs {ch.message.content!r})")
        t.check(roles == {0} and finish == {0: "length"}, f"stream role and finish_reason ({roles}, {finish})")
        t.check(usage is not None and usage.completion_tokens == 8, f"stream usage chunk {usage}")
        t.check(all(k.object == "chat.completion.chunk" for k in chunks), "chunk objects")

        # n > 1: choice i of a seeded request is the single answer with seed + i.
        rn = c.chat.completions.create(model=name, messages=MSG, max_tokens=6, seed=20, n=3, temperature=1.0,
                                       extra_body=NO_EOS)
        t.check([x.index for x in rn.choices] == [0, 1, 2], "n=3 gives choices 0, 1, 2")
        one = c.chat.completions.create(model=name, messages=MSG, max_tokens=6, seed=21, temperature=1.0,
                                        extra_body=NO_EOS)
        t.check(rn.choices[1].message.content == one.choices[0].message.content, "choice 1 == seed + 1 alone")
        t.check(rn.usage.completion_tokens == 18, f"n=3 usage counts every choice ({rn.usage})")
        sc, _, sf, _, sroles, _ = stream_chat(c, model=name, messages=MSG, max_tokens=6, seed=20, n=3,
                                              temperature=1.0, extra_body=NO_EOS)
        t.check(sc == {i: rn.choices[i].message.content for i in range(3)}, "n=3 streamed == whole")
        t.check(sroles == {0, 1, 2} and sf == {0: "length", 1: "length", 2: "length"}, "n=3 stream ends each choice")

        # Stop sequences: cut at the first occurrence, finish_reason stop, stop text not sent.
        full = c.chat.completions.create(model=name, messages=MSG, max_tokens=40, temperature=0,
                                         extra_body=NO_EOS).choices[0].message.content
        t.check(len(full) >= 12, f"greedy answer long enough to cut ({full!r})")
        stop = full[6:9]
        expect = full[:full.find(stop)]
        rs = c.chat.completions.create(model=name, messages=MSG, max_tokens=40, temperature=0, stop=[stop, "\x00never"],
                                       extra_body=NO_EOS)
        t.check(rs.choices[0].message.content == expect and rs.choices[0].finish_reason == "stop",
                f"stop cuts ({rs.choices[0].message.content!r} vs {expect!r}, {rs.choices[0].finish_reason})")
        scon, _, sfin, _, _, _ = stream_chat(c, model=name, messages=MSG, max_tokens=40, temperature=0, stop=stop,
                                             extra_body=NO_EOS)
        t.check(scon.get(0, "") == expect and sfin == {0: "stop"}, f"streamed stop cuts ({scon} {sfin})")

        # Text completions.
        rc = c.completions.create(model=name, prompt="Once upon a time", max_tokens=7, seed=3, extra_body=NO_EOS)
        t.check(rc.object == "text_completion" and rc.choices[0].finish_reason == "length" and
                rc.usage.completion_tokens == 7, "completion shape and usage")
        text = "".join(k.choices[0].text for k in
                       c.completions.create(model=name, prompt="Once upon a time", max_tokens=7, seed=3,
                                            stream=True, extra_body=NO_EOS) if k.choices)
        t.check(text == rc.choices[0].text, "streamed completion == whole")
        two = c.completions.create(model=name, prompt=["a b", "c d"], max_tokens=3, seed=3, extra_body=NO_EOS)
        t.check(len(two.choices) == 2, "two prompts give two choices")
        ids = c.completions.create(model=name, prompt=[0, 300, 301], max_tokens=3, extra_body=NO_EOS)
        t.check(ids.usage.prompt_tokens == 3, "a prompt of token ids")

        # Errors: status, type and the field named.
        def expect_error(kind, status, param, **kw):
            try:
                c.chat.completions.create(model=name, **kw)
                t.check(False, f"expected {status} for {kw}")
            except kind as e:
                t.check(e.status_code == status and e.param == param,
                        f"error {status}/{param} for {list(kw)}: got {e.status_code}/{e.param}: {e.message}")
                return e
        expect_error(openai.BadRequestError, 400, "temperature", messages=MSG, temperature="hot")
        expect_error(openai.BadRequestError, 400, "n", messages=MSG, n=0)
        expect_error(openai.BadRequestError, 400, "messages[0].role", messages=[{"role": "robot", "content": "x"}])
        e = expect_error(openai.BadRequestError, 400, "max_tokens", messages=MSG, max_tokens=100000)
        t.check(e is not None and e.code == "context_length_exceeded", "context error code")
        expect_error(openai.BadRequestError, 400, "messages", messages=[{"role": "user", "content": "word " * 400}])
        try:
            c.models.retrieve("no-such-model")
            t.check(False, "unknown model: 404")
        except openai.NotFoundError as e:
            t.check(e.status_code == 404, "unknown model: 404")
        status, body = post(srv.url + "/v1/chat/completions", b'{"messages": [')
        t.check(status == 400 and body["error"]["param"] == "body" and "invalid JSON" in body["error"]["message"],
                f"malformed JSON: {status} {body}")
        status, body = post(srv.url + "/v1/chat/completions", b'["not", "an", "object"]')
        t.check(status == 400 and body["error"]["param"] == "body", f"non-object body: {status} {body}")
        status, body = post(srv.url + "/v1/nothing", {})
        t.check(status == 404 and body["error"]["message"].startswith("no route"), f"unknown route: {status} {body}")
        try:
            status, body = post(srv.url + "/v1/chat/completions", b"x" * (2 << 20))
        except (ConnectionError, OSError) as err:  # the server may close while the body is still being sent
            status, body = 413, {"error": {"param": "body", "note": str(err)}}
        t.check(status == 413 and body["error"]["param"] == "body", f"body too large: {status}")
        # The server is unharmed by all of that.
        ok = c.chat.completions.create(model=name, messages=MSG, max_tokens=8, seed=11, extra_body=NO_EOS)
        t.check(ok.choices[0].message.content == ch.message.content, "still answers the same after the errors")
        c.close()  # idle keep-alive connections would hold the server's drain for their timeout
        # A second server on the same port is refused (httplib's SO_REUSEPORT would let both
        # listen, and the kernel would split the clients between them).
        second = subprocess.run([args.gorae, "serve", "--model", model.dir, "--host", "127.0.0.1", "--port",
                                 str(srv.port), "--threads", "1", "--ctx", "64"],
                                capture_output=True, text=True, timeout=60)
        t.check(second.returncode != 0 and f"cannot listen on 127.0.0.1:{srv.port}" in second.stderr,
                f"a second server on the port is refused: {second.returncode} {second.stderr.strip()[-200:]!r}")

    # The reasoning split, end to end, on a model with DeepSeek-R1's template (its generation
    # prompt opens "<think>"): the chat answer must be exactly the split of the raw completion
    # of the same rendered prompt.
    with TestModel(args.make_model, "r1") as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
        c = client_for(srv)
        rendered = subprocess.run([args.gorae, "tokenizer", "chat", "--model", model.dir, "--add-generation-prompt"],
                                  input=json.dumps(MSG), capture_output=True, text=True, timeout=60, check=True).stdout
        t.check(rendered.endswith("<think>\n"), "R1 generation prompt opens <think>")
        raw = c.completions.create(model="m", prompt=rendered, max_tokens=30, temperature=0,
                                   extra_body=NO_EOS).choices[0].text
        want_r, want_c = split_like_deepseek(raw, opened=True)
        r = c.chat.completions.create(model="m", messages=MSG, max_tokens=30, temperature=0, extra_body=NO_EOS)
        msg = r.choices[0].message
        got_r = (msg.model_extra or {}).get("reasoning_content")
        t.check(got_r == want_r and msg.content == want_c,
                f"reasoning split: got ({got_r!r}, {msg.content!r}) want ({want_r!r}, {want_c!r})")
        content, reasoning, _, _, _, _ = stream_chat(c, model="m", messages=MSG, max_tokens=30, temperature=0,
                                                     extra_body=NO_EOS)
        t.check(reasoning.get(0, "") == want_r and content.get(0, "") == want_c, "streamed reasoning split")
        c.close()

    # API key: /v1 needs the bearer token; the page, /health and the model list do not.
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--api-key", "sesame", "--ctx", "128") as srv:
        try:
            with client_for(srv, "wrong") as bad:
                t.check(len(bad.models.list().data) == 1, "the model list needs no key")
                bad.chat.completions.create(model="m", messages=MSG, max_tokens=2)
            t.check(False, "wrong key: 401")
        except openai.AuthenticationError as e:
            t.check(e.status_code == 401 and e.code == "invalid_api_key", "wrong key: 401 invalid_api_key")
        status, body = post(srv.url + "/v1/completions", {"prompt": "x", "max_tokens": 1})
        t.check(status == 401, f"no key: 401 (got {status})")
        with client_for(srv, "sesame") as good:
            r = good.chat.completions.create(model="m", messages=MSG, max_tokens=2)
        t.check(len(r.choices) == 1, "right key works")
        t.check(srv.health()["status"] == "ok", "/health needs no key")
        code = srv.stop()
        t.check(code == 0, f"SIGTERM on an idle server exits 0 (got {code})")
    t.finish("server_openai_api_test")


if __name__ == "__main__":
    main()
