"""The official `ollama` Python package against a real `gorae serve` on 127.0.0.1: list, show,
ps, chat and generate (whole and streamed, raw too), options, think (with an R1-template
model), the final counts, and errors. Each Ollama answer must equal the OpenAI route's answer
for the same request: both run on one engine, so only the wire format may differ."""
import json
import sys
import urllib.request

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import ollama
    import openai
except ImportError:
    print("the ollama or openai package is not installed (scripts/install_deps.sh installs them): skipped")
    sys.exit(SKIP)

OPTIONS = {"temperature": 0, "num_predict": 10, "seed": 3}
MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "the quick brown fox"}]


def expect_error(c, what, status, field, call):
    try:
        call()
        c.check(False, f"{what}: no error")
    except ollama.ResponseError as e:
        c.check(e.status_code == status and str(e.error).startswith(field), f"{what}: {e.status_code} {e.error!r}")


def main():
    args = parse_args()
    c = Checks()
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "256", "--model-name",
                                                     "tiny") as srv:
        client = ollama.Client(host=srv.url, timeout=60)
        oai = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=60)
        with urllib.request.urlopen(srv.url + "/api/version", timeout=30) as r:
            c.check("version" in json.loads(r.read()), "/api/version")

        listed = client.list().models
        c.check(len(listed) == 1 and listed[0].model == "tiny:latest", f"list: {listed}")
        c.check(listed[0].details.family == "deepseek_v3" and listed[0].size > 0, f"list details: {listed[0]}")
        shown = client.show("tiny:latest")
        c.check(shown.modelinfo.get("deepseek_v3.context_length") == 256, f"show model_info: {shown.modelinfo}")
        c.check("completion" in (shown.capabilities or []), f"show capabilities: {shown.capabilities}")
        c.check(client.ps().models[0].model == "tiny:latest", "ps")
        expect_error(c, "show of another model", 404, "model 'other'", lambda: client.show("other"))

        # chat == the OpenAI chat answer; streamed == whole; counts == usage.
        ref = oai.chat.completions.create(model="tiny", messages=MSGS, temperature=0, max_tokens=10, seed=3)
        whole = client.chat(model="tiny", messages=MSGS, options=OPTIONS)
        c.check(whole.message.content == ref.choices[0].message.content,
                f"chat == OpenAI chat: {whole.message.content!r} vs {ref.choices[0].message.content!r}")
        c.check(whole.done and whole.done_reason == ref.choices[0].finish_reason, f"done_reason {whole.done_reason}")
        c.check(whole.prompt_eval_count == ref.usage.prompt_tokens and whole.eval_count == ref.usage.completion_tokens,
                f"counts {whole.prompt_eval_count}/{whole.eval_count} vs usage {ref.usage}")
        c.check(whole.total_duration >= whole.eval_duration > 0, "durations in ns")
        parts = list(client.chat(model="tiny", messages=MSGS, options=OPTIONS, stream=True))
        c.check(all(not p.done for p in parts[:-1]) and parts[-1].done, "stream: done only on the last object")
        c.check("".join(p.message.content for p in parts) == whole.message.content, "stream == whole")
        c.check(parts[-1].eval_count == whole.eval_count, "stream: final counts")

        # generate applies the chat template (system + prompt); raw does not.
        gen = client.generate(model="tiny", prompt="the quick brown fox", system="be brief", options=OPTIONS)
        c.check(gen.response == ref.choices[0].message.content, f"generate == chat: {gen.response!r}")
        raw = client.generate(model="tiny", prompt="the quick brown fox", raw=True, options=OPTIONS)
        ref_raw = oai.completions.create(model="tiny", prompt="the quick brown fox", temperature=0, max_tokens=10,
                                         seed=3)
        c.check(raw.response == ref_raw.choices[0].text, f"raw generate == completions: {raw.response!r}")
        streamed = "".join(p.response for p in client.generate(model="tiny", prompt="the quick brown fox",
                                                               system="be brief", options=OPTIONS, stream=True))
        c.check(streamed == gen.response, "generate: stream == whole")
        load = client.generate(model="tiny", prompt="")
        c.check(load.done and load.done_reason == "load", f"empty prompt loads: {load.done_reason}")
        # stop and sampling options reach the sampler: a seeded sample equals OpenAI's.
        sampled = client.chat(model="tiny", messages=MSGS, options={"temperature": 0.9, "seed": 7, "num_predict": 12,
                                                                     "top_k": 20, "stop": ["zz"]})
        ref_s = oai.chat.completions.create(model="tiny", messages=MSGS, temperature=0.9, seed=7, max_tokens=12,
                                            stop=["zz"], extra_body={"top_k": 20})
        c.check(sampled.message.content == ref_s.choices[0].message.content, "sampling options == OpenAI's")

        expect_error(c, "bad option", 400, "options.temperature",
                     lambda: client.chat(model="tiny", messages=MSGS, options={"temperature": "hot"}))
        expect_error(c, "num_predict 0", 400, "options.num_predict",
                     lambda: client.chat(model="tiny", messages=MSGS, options={"num_predict": 0}))
        status, body = post(srv.url + "/api/chat", {"model": "tiny", "messages": MSGS, "format": "yaml"})
        c.check(status == 400 and body["error"].startswith("format"), f"format yaml: {status} {body}")
        expect_error(c, "images", 400, "messages[0].images",
                     lambda: client.chat(model="tiny", messages=[{"role": "user", "content": "x", "images": ["aGk="]}]))
        expect_error(c, "bad role", 400, "messages[0].role",
                     lambda: client.chat(model="tiny", messages=[{"role": "robot", "content": "x"}]))
        status, body = post(srv.url + "/api/chat", b"{not json")
        c.check(status == 400 and "error" in body, f"bad JSON: {status} {body}")
        c.check(client.chat(model="tiny", messages=MSGS, options=OPTIONS).message.content == whole.message.content,
                "still serving after the errors")

    with TestModel(args.make_model, "r1") as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
        client = ollama.Client(host=srv.url, timeout=60)
        oai = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=60)
        msgs = [{"role": "user", "content": "what is 2 + 2"}]
        ref = oai.chat.completions.create(model="m", messages=msgs, temperature=0, max_tokens=24)
        ref_msg = ref.choices[0].message
        think = client.chat(model="m", messages=msgs, think=True, options={"temperature": 0, "num_predict": 24})
        c.check((think.message.thinking or "") == (ref_msg.model_extra.get("reasoning_content") or ""),
                f"think: thinking == reasoning_content: {think.message.thinking!r}")
        name = client.list().models[0].model
        c.check("thinking" in (client.show(name).capabilities or []), "show: a thinking model says so")
        parts = list(client.chat(model="m", messages=msgs, think=True, stream=True,
                                 options={"temperature": 0, "num_predict": 24}))
        c.check("".join(p.message.thinking or "" for p in parts) == (think.message.thinking or ""),
                "think: streamed thinking == whole")
        no_think = client.chat(model="m", messages=msgs, think=False, options={"temperature": 0, "num_predict": 24})
        c.check(not no_think.message.thinking, f"think false: no thinking: {no_think.message.thinking!r}")
        c.check(no_think.prompt_eval_count > think.prompt_eval_count,
                f"think false closes the think block in the prompt ({no_think.prompt_eval_count} vs "
                f"{think.prompt_eval_count} prompt tokens)")

    # Tools on /api/chat (a Qwen2.5-template model): definitions and past calls reach the prompt,
    # a tool result needs a call to answer, and a template without tools refuses them.
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    with TestModel(args.make_model, "qwen2_5") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv:
        client = ollama.Client(host=srv.url, timeout=120)
        plain = client.chat(model="m", messages=MSGS, options={"num_predict": 1})
        with_tools = client.chat(model="m", messages=MSGS, tools=[weather], options={"num_predict": 1})
        c.check(with_tools.prompt_eval_count > plain.prompt_eval_count + 20,
                f"tools are rendered: {with_tools.prompt_eval_count} vs {plain.prompt_eval_count} prompt tokens")
        history = MSGS + [{"role": "assistant", "content": "",
                           "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}]},
                          {"role": "tool", "content": "21 degrees", "tool_name": "get_weather"}]
        after = client.chat(model="m", messages=history, tools=[weather], options={"num_predict": 1})
        c.check(after.prompt_eval_count > with_tools.prompt_eval_count + 10, "the call and its result are in the prompt")
        status, body = post(srv.url + "/api/chat", {"model": "m", "tools": [weather], "messages": MSGS + [
            {"role": "tool", "content": "21"}]})
        c.check(status == 400 and "no earlier tool call" in body.get("error", ""), f"an unasked result: {status} {body}")
        status, body = post(srv.url + "/api/generate", {"model": "m", "prompt": "x", "tools": [weather]})
        c.check(status == 400 and body.get("error", "").startswith("tools"), f"generate with tools: {status} {body}")
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
        status, body = post(srv.url + "/api/chat", {"model": "m", "messages": MSGS, "tools": [weather]})
        c.check(status == 400 and "not supported yet" in body.get("error", ""), f"no tool template: {status} {body}")

    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "128", "--api-key", "k") as srv:
        expect_error(c, "chat without the key", 401, "",
                     lambda: ollama.Client(host=srv.url, timeout=30).chat(model="x", messages=MSGS))
        keyed = ollama.Client(host=srv.url, timeout=30, headers={"Authorization": "Bearer k"})
        c.check(keyed.chat(model="x", messages=MSGS, options={"num_predict": 2}).done, "chat with the key")
        c.check(len(ollama.Client(host=srv.url, timeout=30).list().models) == 1, "/api/tags stays open")
    c.finish("ollama_api_test")


if __name__ == "__main__":
    main()
