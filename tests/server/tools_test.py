"""Tool calling through the official `openai` client against a real `gorae serve` with a tiny
random model and Qwen2.5's template: with tool_choice "required" (or a named function) the
random weights must still produce a well-formed call whose arguments validate; the full loop
(call -> tool result -> answer) runs; streaming sends tool-call deltas that add up to the same
call; bad tool fields get a 400 naming the field; a template without tool support refuses
tools instead of dropping them."""
import json
import sys

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import openai
except ImportError:
    print("the openai package is not installed (scripts/install_deps.sh installs it): skipped")
    sys.exit(SKIP)

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 12},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False}}}
NOW = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {},
                                                                      "additionalProperties": False}}}
MSGS = [{"role": "user", "content": "What is the weather in Seoul?"}]


def valid_weather_args(args):
    return (set(args) == {"city", "unit"} and isinstance(args["city"], str) and len(args["city"]) <= 12
            and args["unit"] in ("celsius", "fahrenheit"))


def main():
    args = parse_args()
    c = Checks()
    with TestModel(args.make_model, "qwen2_5") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)

        # required: always a well-formed call, whatever the random weights prefer.
        for seed in range(3):
            r = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER, NOW], tool_choice="required",
                                               parallel_tool_calls=False, temperature=1.0, seed=seed, max_tokens=400)
            ch = r.choices[0]
            calls = ch.message.tool_calls or []
            c.check(ch.finish_reason == "tool_calls" and len(calls) == 1, f"required (seed {seed}): {ch}")
            if calls and calls[0].function.name == "get_weather":
                c.check(valid_weather_args(json.loads(calls[0].function.arguments)),
                        f"arguments validate: {calls[0].function.arguments}")
            elif calls:
                c.check(calls[0].function.name == "now" and json.loads(calls[0].function.arguments) == {},
                        f"the other tool: {calls[0].function}")
        # A named function.
        r = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER, NOW], temperature=1.0, seed=7,
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                           max_tokens=400)
        call = r.choices[0].message.tool_calls[0]
        c.check(call.function.name == "get_weather" and valid_weather_args(json.loads(call.function.arguments)),
                f"named: {call}")
        c.check(r.choices[0].message.content is None, f"a pure call has null content: {r.choices[0].message.content!r}")

        # Streamed: the deltas assemble to the same call as the whole answer.
        stream_args = dict(model="m", messages=MSGS, tools=[WEATHER], tool_choice="required", temperature=0.9,
                           parallel_tool_calls=False,
                           seed=11, max_tokens=400)
        whole = client.chat.completions.create(**stream_args).choices[0]
        got, finish = {}, None
        for chunk in client.chat.completions.create(stream=True, **stream_args):
            for ch in chunk.choices:
                for d in ch.delta.tool_calls or []:
                    slot = got.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                    slot["id"] = d.id or slot["id"]
                    slot["name"] += d.function.name or ""
                    slot["arguments"] += d.function.arguments or ""
                finish = ch.finish_reason or finish
        c.check(finish == "tool_calls" and len(got) == 1, f"stream: {got} {finish}")
        c.check(got and got[0]["name"] == whole.message.tool_calls[0].function.name and
                json.loads(got[0]["arguments"]) == json.loads(whole.message.tool_calls[0].function.arguments),
                f"streamed call == whole call: {got} vs {whole.message.tool_calls}")

        # The loop: the call, its result, then an answer (tool_choice none: text only).
        first = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER], tool_choice="required",
                                               seed=3, max_tokens=400)
        call = first.choices[0].message.tool_calls[0]
        history = MSGS + [first.choices[0].message.model_dump(exclude_none=True),
                          {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp": 21})}]
        answer = client.chat.completions.create(model="m", messages=history, tools=[WEATHER], tool_choice="none",
                                                seed=3, max_tokens=16)
        c.check(answer.choices[0].message.tool_calls is None and answer.choices[0].finish_reason in ("stop", "length"),
                f"after the tool result, an answer: {answer.choices[0]}")
        # The tool result reached the prompt: it is longer than the same history without it.
        _, with_result = post(srv.url + "/tokenize", {"messages": history})
        _, without = post(srv.url + "/tokenize", {"messages": MSGS})
        c.check(with_result["count"] > without["count"] + 10, "the call and its result are in the next prompt")

        # Bad input: a 400 naming the field, and the server serves on.
        bad = [({"tools": [{"type": "function", "function": {"name": "has space"}}]}, "tools[0].function.name"),
               ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
                "tool_choice.function.name"),
               ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
               ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
                   "type": "object", "properties": {"x": {"type": "string", "pattern": "a+"}}}}}],
                 "tool_choice": "required"}, "tools"),
               ({"tools": [WEATHER], "tool_choice": "required", "response_format": {"type": "json_object"}},
                "tool_choice"),
               ({"messages": MSGS + [{"role": "tool", "tool_call_id": "call_x", "content": "1"}]},
                "messages[1].tool_call_id"),
               ({"messages": MSGS + [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function",
                                      "function": {"name": "get_weather", "arguments": "{not json"}}]}],
                 "tools": [WEATHER]}, "messages[1].tool_calls[0].function.arguments")]
        for body, param in bad:
            full = {"messages": MSGS, **body}
            status, e = post(srv.url + "/v1/chat/completions", full)
            c.check(status == 400 and (e["error"]["param"] or "").startswith(param), f"{body}: {status} {e}")
        c.check(srv.health()["status"] == "ok", "healthy after the bad requests")

    # DeepSeek-R1's template: tool definitions follow the system prompt, past calls and results are
    # rendered in its format (golden test DeepSeekR1.ToolCallsMatchTransformers).
    with TestModel(args.make_model, "r1") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv:
        _, plain = post(srv.url + "/tokenize", {"messages": MSGS})
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
        r = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER], max_tokens=1)
        c.check(r.usage.prompt_tokens > plain["count"] + 20, f"R1: tools rendered ({r.usage.prompt_tokens} vs "
                f"{plain['count']} prompt tokens)")
        history = MSGS + [{"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "21"}]
        r2 = client.chat.completions.create(model="m", messages=history, tools=[WEATHER], max_tokens=1)
        c.check(r2.usage.prompt_tokens > r.usage.prompt_tokens + 10, "R1: the call and its result are in the prompt")

    # DeepSeek-V3's template: a required call is written and parsed in DeepSeek's format, and a
    # past call turn is rendered when its content is null, or "" (as Ollama and LangChain send).
    with TestModel(args.make_model, "v3") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
        r = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER], tool_choice="required",
                                           max_tokens=300, seed=3)
        calls = r.choices[0].message.tool_calls or []
        c.check(r.choices[0].finish_reason == "tool_calls" and len(calls) >= 1 and
                calls[0].function.name == "get_weather" and "city" in json.loads(calls[0].function.arguments),
                f"V3: a required call parsed from DeepSeek's format: {r.choices[0]}")
        call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'}}
        sizes = {}
        for content in (None, ""):
            history = MSGS + [{"role": "assistant", "content": content, "tool_calls": [call]},
                              {"role": "tool", "tool_call_id": "c1", "content": "21"}]
            r = client.chat.completions.create(model="m", messages=history, tools=[WEATHER], max_tokens=1)
            sizes[repr(content)] = r.usage.prompt_tokens
        plain = client.chat.completions.create(model="m", messages=MSGS, tools=[WEATHER], max_tokens=1)
        c.check(sizes["None"] == sizes["''"] > plain.usage.prompt_tokens + 20,
                f"V3: the call turn is rendered with content null or \"\" ({sizes}, "
                f"{plain.usage.prompt_tokens} without)")

    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
        status, e = post(srv.url + "/v1/chat/completions", {"messages": MSGS, "tools": [WEATHER]})
        c.check(status == 400 and e["error"]["param"] == "tools" and "not supported yet" in e["error"]["message"],
                f"a template without tools refuses them: {status} {e}")
    c.finish("tools_test")


if __name__ == "__main__":
    main()
