"""Shared by the server benchmarks: start and stop `gorae serve` on 127.0.0.1, stream one chat
request and time it, and name the CPU (every figure is reported with it)."""
import http.client
import json
import subprocess
import time


def start_gorae(gorae, model, ctx, parallel, threads, extra=()):
    """`gorae serve --port 0 ...`; returns (process, port)."""
    cmd = [gorae, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0", "--ctx", str(ctx),
           "--parallel", str(parallel), "--threads", str(threads), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on http://127.0.0.1:" not in line:
        proc.kill()
        raise RuntimeError(f"gorae serve did not start: {line!r}")
    return proc, int(line.strip().rsplit(":", 1)[1])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def stream_chat(port, body):
    """Streams one /v1/chat/completions request (stream and include_usage are set here).
    Returns {"text", "usage", "ttft_s" (to the first content), "decode_s" (after it), "total_s"}."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1200)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    first, text, usage = None, "", None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: {"):
            continue
        chunk = json.loads(line[6:])
        usage = chunk.get("usage") or usage
        for ch in chunk.get("choices", []):
            piece = ch.get("delta", {}).get("content") or ""
            if piece and first is None:
                first = time.perf_counter()
            text += piece
    end = time.perf_counter()
    conn.close()
    first = first or end
    return {"text": text, "usage": usage, "ttft_s": first - t0, "decode_s": end - first, "total_s": end - t0}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "?"
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "?")
