"""Structured outputs of a real `gorae serve` with a tiny random model: whatever the random
weights prefer, every constrained answer must parse and validate.

- response_format json_schema from a pydantic model through the openai client's
  `chat.completions.parse` (pydantic validates `message.parsed`), sampled, n = 3, streamed;
- json_object; a GBNF `grammar`; Ollama's `format` with a schema;
- constrained and unconstrained requests batched together: the unconstrained answer is the same
  as alone;
- an R1-template model reasons freely, then answers in the schema;
- a schema or grammar that cannot be compiled: 400 naming the field."""
import json
import sys
import threading
from typing import List, Literal

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import ollama
    import openai
    from pydantic import BaseModel, Field
except ImportError:
    print("the openai, ollama or pydantic package is not installed (scripts/install_deps.sh installs them): skipped")
    sys.exit(SKIP)


class Pet(BaseModel):
    kind: Literal["cat", "dog", "whale"]
    legs: int = Field(ge=0, le=8)


class Person(BaseModel):
    name: str = Field(max_length=8)
    age: int = Field(ge=0, le=120)
    admin: bool
    pets: List[Pet] = Field(max_length=2)


MSGS = [{"role": "user", "content": "describe a person as JSON"}]


def main():
    args = parse_args()
    c = Checks()
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "512", "--parallel", "4") as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)

        r = client.chat.completions.parse(model="m", messages=MSGS, response_format=Person, temperature=1.0, n=3,
                                          seed=11, max_tokens=200)
        for ch in r.choices:
            c.check(ch.finish_reason == "stop" and isinstance(ch.message.parsed, Person),
                    f"parse: choice {ch.index} {ch.finish_reason} {ch.message.content!r}")
        schema = {"type": "json_schema", "json_schema": {"name": "Person", "schema": Person.model_json_schema()}}
        text = ""
        for chunk in client.chat.completions.create(model="m", messages=MSGS, response_format=schema, stream=True,
                                                    temperature=0.9, seed=5, max_tokens=200):
            for ch in chunk.choices:
                text += ch.delta.content or ""
        try:
            Person.model_validate_json(text)
            c.check(True, "")
        except Exception as e:  # noqa: BLE001 - the check reports it
            c.check(False, f"streamed answer does not validate: {text!r}: {e}")
        # Properties come in the schema's order, not sorted.
        c.check(text.lstrip().startswith('{"name"') or text.lstrip().startswith('{ "name"'),
                f"properties in the schema's order: {text[:20]!r}")

        # Batched with constrained neighbours, an unconstrained seeded answer is unchanged.
        plain = dict(model="m", messages=MSGS, temperature=0.8, seed=21, max_tokens=24, extra_body={"ignore_eos": True})
        alone = client.chat.completions.create(**plain).choices[0].message.content
        results = {}

        def constrained(i):
            results[i] = client.chat.completions.parse(model="m", messages=MSGS, response_format=Person,
                                                       temperature=1.0, seed=100 + i, max_tokens=200)
        threads = [threading.Thread(target=constrained, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        together = client.chat.completions.create(**plain).choices[0].message.content
        for t in threads:
            t.join(timeout=120)
        c.check(together == alone, "an unconstrained answer batched with constrained ones equals it alone")
        c.check(all(isinstance(results[i].choices[0].message.parsed, Person) for i in range(3)),
                "the constrained neighbours validate")

        # json_object: an object (random weights may run out of tokens inside one; those stop by length).
        r = client.chat.completions.create(model="m", messages=MSGS, response_format={"type": "json_object"}, n=4,
                                           seed=2, temperature=1.0, max_tokens=120)
        stopped = [ch for ch in r.choices if ch.finish_reason == "stop"]
        c.check(all(isinstance(json.loads(ch.message.content), dict) for ch in stopped),
                f"json_object answers are objects: {[ch.message.content for ch in stopped]}")
        c.check(len(stopped) >= 1, "at least one json_object answer completed")

        # A GBNF grammar (llama.cpp's field), on completions too.
        for seed in range(4):
            r = client.chat.completions.create(model="m", messages=MSGS, temperature=1.0, seed=seed, max_tokens=10,
                                               extra_body={"grammar": 'root ::= ("yes" | "no") "!"?'})
            c.check(r.choices[0].message.content in ("yes", "no", "yes!", "no!"),
                    f"grammar answer: {r.choices[0].message.content!r}")
        r = client.completions.create(model="m", prompt="the answer is", max_tokens=10, temperature=1.0, seed=1,
                                      extra_body={"grammar": 'root ::= [0-9]{3}'})
        c.check(len(r.choices[0].text) == 3 and r.choices[0].text.isdigit(), f"completions grammar: {r.choices[0].text!r}")

        # Ollama's format.
        oc = ollama.Client(host=srv.url, timeout=120)
        o = oc.chat(model="m", messages=MSGS, format=Person.model_json_schema(), stream=False,
                    options={"temperature": 1.0, "seed": 4, "num_predict": 200})
        try:
            Person.model_validate_json(o.message.content)
            c.check(True, "")
        except Exception as e:  # noqa: BLE001
            c.check(False, f"ollama format answer does not validate: {o.message.content!r}: {e}")

        # Bad schemas and grammars: 400 naming the field.
        for body, param in [
                ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
                    "type": "string", "pattern": "^a+$"}}}}, "response_format.json_schema.schema"),
                ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
                 "response_format.json_schema.schema"),
                ({"response_format": {"type": "xml"}}, "response_format.type"),
                ({"grammar": "root ::= undefined-rule"}, "grammar"),
                ({"grammar": "root ::= root \"a\""}, "grammar"),
                ({"grammar": "root ::= \"a\"", "response_format": {"type": "json_object"}}, "grammar")]:
            status, e = post(srv.url + "/v1/chat/completions", {"messages": MSGS, **body})
            c.check(status == 400 and (e["error"]["param"] or "").startswith(param),
                    f"{body}: {status} {e}")
        c.check(srv.health()["status"] == "ok", "the server is healthy after the bad requests")

    with TestModel(args.make_model, "r1") as model, Server(args.gorae, model.dir, "--ctx", "512") as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
        r = client.chat.completions.parse(model="m", messages=MSGS, response_format=Pet, temperature=1.0, seed=3,
                                          max_tokens=300)
        ch = r.choices[0]
        c.check(ch.finish_reason != "stop" or isinstance(ch.message.parsed, Pet),
                f"R1: after its reasoning the answer validates: {ch.message.content!r}")
        c.check(ch.finish_reason == "length" or "reasoning_content" in (ch.message.model_extra or {}),
                "R1: the reasoning is split off")
    c.finish("structured_output_test")


if __name__ == "__main__":
    main()
