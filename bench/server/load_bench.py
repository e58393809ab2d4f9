"""Load benchmark for an OpenAI-compatible server: C concurrent clients, each sending R
streamed /v1/completions requests back to back (prompt of about P tokens, exactly N new
tokens via ignore_eos), for each C in --clients. Reports per level: total generated tokens/s
(all clients, wall clock), time to first token and per-request latency (median and p90).

It can start the server itself (gorae serve, or llama.cpp's llama-server with the same
settings: same parallel slots, same context) so both are measured on the same machine, the
same prompts and the same load, one after the other:

  python3 bench/server/load_bench.py --gorae build/src/cli/gorae --model DIR [--llama-server BIN --gguf FILE]
  python3 bench/server/load_bench.py --url http://127.0.0.1:8080        # a server already running

Only 127.0.0.1 is used when it starts servers. Output: a table, and one JSON line per level."""
import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

WORDS = ("the whale swims under a grey sea while gulls call over the harbour and the boats "
         "come home with nets full of silver fish at dusk").split()


def prompt_text(i, words):
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words))


def one_request(host, port, body):
    """Streams one completion; returns (ttft_s, latency_s, completion_tokens)."""
    conn = http.client.HTTPConnection(host, port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft, tokens, chunks = None, None, 0
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        j = json.loads(data)
        if j.get("usage"):
            tokens = j["usage"]["completion_tokens"]
        for ch in j.get("choices", []):
            if ch.get("text") or ch.get("content"):
                chunks += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
    latency = time.perf_counter() - t0
    conn.close()
    return ttft if ttft is not None else latency, latency, tokens if tokens is not None else chunks


def run_level(url, clients, per_client, body_for):
    u = urllib.parse.urlparse(url)
    results, errors = [], []
    lock = threading.Lock()

    def client(c):
        for r in range(per_client):
            try:
                res = one_request(u.hostname, u.port, body_for(c * per_client + r))
                with lock:
                    results.append(res)
            except Exception as e:  # reported, not hidden
                with lock:
                    errors.append(str(e))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    ttfts = sorted(r[0] for r in results)
    lats = sorted(r[1] for r in results)
    tokens = sum(r[2] for r in results)
    p90 = lambda xs: xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    return {"clients": clients, "requests": len(results), "tokens": tokens, "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 1),
            "ttft_ms_p50": round(1000 * statistics.median(ttfts), 1), "ttft_ms_p90": round(1000 * p90(ttfts), 1),
            "latency_ms_p50": round(1000 * statistics.median(lats), 1), "latency_ms_p90": round(1000 * p90(lats), 1)}


def wait_healthy(url, proc, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def bench(name, url, args, proc=None):
    wait_healthy(url, proc)
    body_for = lambda i: {"model": "m", "prompt": prompt_text(i, args.prompt_words), "max_tokens": args.max_tokens,
                          "temperature": 0.8, "seed": i, "ignore_eos": True, "stream": True,
                          "stream_options": {"include_usage": True}}
    run_level(url, 1, 1, body_for)  # warm-up
    rows = []
    for c in args.clients:
        row = {"server": name, **run_level(url, c, args.requests_per_client, body_for)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def start(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="an already running server")
    p.add_argument("--gorae", help="gorae binary (starts gorae serve)")
    p.add_argument("--model", help="model directory for gorae serve")
    p.add_argument("--llama-server", help="llama.cpp's llama-server binary (optional, for the side by side)")
    p.add_argument("--gguf", help="the same model as GGUF, for llama-server")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--requests-per-client", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--prompt-words", type=int, default=24)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--ctx", type=int, default=1024)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--port", type=int, default=18080)
    args = p.parse_args()

    rows = []
    if args.url:
        rows += bench("server", args.url.rstrip("/"), args)
    if args.gorae:
        url = f"http://127.0.0.1:{args.port}"
        proc = start([args.gorae, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", str(args.port),
                      "--parallel", str(args.parallel), "--ctx", str(args.ctx), "--threads", str(args.threads)])
        try:
            rows += bench("gorae", url, args, proc)
        finally:
            stop(proc)
    if args.llama_server:
        url = f"http://127.0.0.1:{args.port + 1}"
        cmd = [args.llama_server, "-m", args.gguf, "--host", "127.0.0.1", "--port", str(args.port + 1),
               "-np", str(args.parallel), "-c", str(args.ctx * args.parallel), "-cb"]
        if args.threads:
            cmd += ["-t", str(args.threads)]
        proc = start(cmd)
        try:
            rows += bench("llama.cpp", url, args, proc)
        finally:
            stop(proc)

    print(f"\n{'server':>10} {'clients':>7} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p90':>9} {'lat p50':>9} {'lat p90':>9}")
    for r in rows:
        print(f"{r['server']:>10} {r['clients']:>7} {r['tokens_per_s']:>8} {r['ttft_ms_p50']:>7}ms {r['ttft_ms_p90']:>7}ms "
              f"{r['latency_ms_p50']:>7}ms {r['latency_ms_p90']:>7}ms")


if __name__ == "__main__":
    sys.exit(main())
