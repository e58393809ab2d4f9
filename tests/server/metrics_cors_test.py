"""GET /metrics, CORS and the open routes of `gorae serve --api-key`, against a real server.

The exposition is parsed with prometheus_client's own text parser (the reference
implementation of the format), and every counter is checked against what the requests did:
responses by route and status, prompt and generated tokens against the responses' usage, one
time-to-first-token sample per generation request, one time-per-output-token sample per
choice, cumulative buckets ending in +Inf == _count. CORS: a preflight from an allowed origin
gets 204 and the allow headers (before any API key check, as browsers send it without one), one
from another origin gets 403 naming it, and responses to an allowed origin carry
Access-Control-Allow-Origin (401s too, so the page can read why)."""
import json
import sys
import urllib.error
import urllib.request

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed (scripts/install_deps.sh installs it): skipping")
    sys.exit(SKIP)

KEY = "sekret"
ORIGIN = "http://page.localhost:3000"


def request(url, method="GET", headers=None, body=None):
    """(status, headers dict with lower-case names, body text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def scrape(srv):
    """{(sample name, frozenset(labels)): value} and {family name: type}."""
    status, headers, text = request(srv.url + "/metrics")
    assert status == 200, status
    samples, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types, headers


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def streamed_completion_tokens(srv, body):
    """Sends a streamed chat request; returns its usage from the final chunk."""
    req = urllib.request.Request(srv.url + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    usage = None
    with urllib.request.urlopen(req, timeout=60) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
    return usage


def main():
    args = parse_args()
    c = Checks()
    with TestModel(args.make_model) as model:
        with Server(args.gorae, model.dir, "--parallel", "2", "--ctx", "512", "--api-key", KEY,
                    "--cors-origin", ORIGIN) as srv:
            samples, types, headers = scrape(srv)
            c.check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
                    f"/metrics content type: {headers.get('content-type')}")
            c.check(types.get("gorae_time_to_first_token_seconds") == "histogram", "TTFT is a histogram")
            c.check(types.get("gorae_requests") == "counter", f"requests counter type: {types.get('gorae_requests')}")
            c.check(value(samples, "gorae_slots") == 2, "gorae_slots = --parallel")
            c.check(value(samples, "gorae_prompt_tokens_total") == 0, "no prompt tokens yet")
            c.check(value(samples, "gorae_time_to_first_token_seconds_count") == 0, "no TTFT sample yet")

            auth = {"Authorization": f"Bearer {KEY}"}
            chat = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 6,
                    "temperature": 0, "ignore_eos": True}
            prompt_tokens = completion_tokens = 0
            status, answer = post(srv.url + "/v1/chat/completions", chat, auth)
            c.check(status == 200, f"chat: {status} {answer}")
            prompt_tokens += answer["usage"]["prompt_tokens"]
            completion_tokens += answer["usage"]["completion_tokens"]
            # n = 2: two choices, one TTFT sample for the request, one per-token sample per choice.
            status, answer = post(srv.url + "/v1/completions",
                                  {"prompt": "the whale", "max_tokens": 5, "n": 2, "temperature": 1, "seed": 3,
                                   "ignore_eos": True}, auth)
            c.check(status == 200, f"completion: {status} {answer}")
            prompt_tokens += answer["usage"]["prompt_tokens"]
            completion_tokens += answer["usage"]["completion_tokens"]
            usage = streamed_completion_tokens(srv, {**chat, "stream": True, "stream_options": {"include_usage": True}})
            c.check(usage is not None, "streamed usage")
            prompt_tokens += usage["prompt_tokens"]
            completion_tokens += usage["completion_tokens"]
            c.check(post(srv.url + "/v1/chat/completions", chat)[0] == 401, "no key: 401")
            c.check(post(srv.url + "/v1/chat/completions", {"messages": []}, auth)[0] == 400, "no messages: 400")
            c.check(request(srv.url + "/nowhere/" + "x" * 20)[0] == 404, "unknown route: 404")

            samples, _, _ = scrape(srv)
            req = lambda route, status: value(samples, "gorae_requests_total", route=route, status=str(status))
            c.check(req("/v1/chat/completions", 200) == 2, f"chat 200s: {req('/v1/chat/completions', 200)}")
            c.check(req("/v1/completions", 200) == 1, f"completion 200s: {req('/v1/completions', 200)}")
            c.check(req("/v1/chat/completions", 401) == 1, f"401s: {req('/v1/chat/completions', 401)}")
            c.check(req("/v1/chat/completions", 400) == 1, f"400s: {req('/v1/chat/completions', 400)}")
            c.check(req("other", 404) == 1, f"unknown paths are one series: {req('other', 404)}")
            c.check(req("/metrics", 200) == 1, f"the first scrape is counted: {req('/metrics', 200)}")
            c.check(value(samples, "gorae_prompt_tokens_total") == prompt_tokens,
                    f"prompt tokens {value(samples, 'gorae_prompt_tokens_total')} vs usage {prompt_tokens}")
            c.check(value(samples, "gorae_generation_tokens_total") == completion_tokens,
                    f"generated tokens {value(samples, 'gorae_generation_tokens_total')} vs usage {completion_tokens}")
            c.check(value(samples, "gorae_time_to_first_token_seconds_count") == 3, "one TTFT sample per request")
            c.check(value(samples, "gorae_time_per_output_token_seconds_count") == 4, "one TPOT sample per choice")
            c.check(value(samples, "gorae_request_duration_seconds_count") == 3, "one duration sample per request")
            for h in ("gorae_time_to_first_token_seconds", "gorae_time_per_output_token_seconds"):
                buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items() if k[0] == h + "_bucket"))
                counts = [v for _, v in buckets]
                c.check(counts == sorted(counts) and buckets[-1][0] == float("inf") and
                        buckets[-1][1] == value(samples, h + "_count"), f"{h}: cumulative buckets {buckets}")
                c.check(value(samples, h + "_sum") > 0, f"{h}: positive sum")
            c.check(value(samples, "gorae_engine_step_sequences_total") >= value(samples, "gorae_engine_steps_total") > 0,
                    "steps and stepped sequences")
            c.check(value(samples, "gorae_batch_size_peak") == 2, "n = 2 ran as a batch of 2")
            c.check(value(samples, "gorae_kv_cache_capacity_tokens") > 0 and value(samples, "gorae_kv_cache_bytes") > 0,
                    "KV cache allocated")
            c.check(value(samples, "gorae_kv_cache_tokens") == 0 and value(samples, "gorae_slots_busy") == 0,
                    "nothing held when idle")

            # Open routes with an API key: the model list, /health, /metrics and the page.
            for route in ("/v1/models", "/health", "/metrics", "/"):
                c.check(request(srv.url + route)[0] == 200, f"{route} without a key: 200")
            c.check(request(srv.url + "/v1/completions", "POST", body={"prompt": "x"})[0] == 401,
                    "POST /v1/completions without a key: 401")

            # CORS.
            preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization, content-type"}
            status, h, _ = request(srv.url + "/v1/chat/completions", "OPTIONS", preflight)
            c.check(status == 204, f"preflight: {status}")
            c.check(h.get("access-control-allow-origin") == ORIGIN, f"preflight origin: {h}")
            c.check("POST" in h.get("access-control-allow-methods", ""), f"preflight methods: {h}")
            c.check(h.get("access-control-allow-headers") == "authorization, content-type", f"preflight headers: {h}")
            status, h, text = request(srv.url + "/v1/chat/completions", "OPTIONS",
                                      {**preflight, "Origin": "http://evil.localhost"})
            c.check(status == 403 and "evil.localhost" in text and "access-control-allow-origin" not in h,
                    f"other origin's preflight: {status} {text} {h}")
            status, h, _ = request(srv.url + "/v1/chat/completions", "POST", {"Origin": ORIGIN, **auth}, chat)
            c.check(status == 200 and h.get("access-control-allow-origin") == ORIGIN and h.get("vary") == "Origin",
                    f"allowed origin's request: {status} {h}")
            status, h, _ = request(srv.url + "/v1/chat/completions", "POST", {"Origin": ORIGIN}, chat)
            c.check(status == 401 and h.get("access-control-allow-origin") == ORIGIN, f"401 readable by the page: {h}")
            status, h, _ = request(srv.url + "/v1/models", "GET", {"Origin": "http://evil.localhost"})
            c.check(status == 200 and "access-control-allow-origin" not in h, f"other origin gets no CORS header: {h}")
        # No --cors-origin: no CORS headers at all.
        with Server(args.gorae, model.dir, "--parallel", "1", "--ctx", "256") as srv:
            status, h, _ = request(srv.url + "/v1/models", "GET", {"Origin": ORIGIN})
            c.check(status == 200 and "access-control-allow-origin" not in h, f"same-origin only by default: {h}")
    c.finish("metrics_cors_test")


if __name__ == "__main__":
    main()
