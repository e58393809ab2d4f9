"""Concurrency and lifecycle of `gorae serve` on 127.0.0.1:
  - 8 streaming clients at once (plus bad requests fired among them) each get exactly the
    answer they get alone, and the engine really decoded them together (peak batch > 1);
  - a full queue answers 503 with an OpenAI error; a client that disconnects mid-stream frees
    its slot long before its max_tokens would have;
  - SIGTERM drains: the running stream completes, new requests get 503, the exit code is 0;
  - 200 slowloris connections (half a request, one more header line a second, so no read timeout
    ever frees them) do not keep a normal request from being answered."""
import http.client
import json
import signal
import socket
import sys
import threading
import time

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

try:
    import openai
except ImportError:
    print("the openai package is not installed (scripts/install_deps.sh installs it): skipped")
    sys.exit(SKIP)

NO_EOS = {"ignore_eos": True}


def open_stream(srv, body):
    """Starts a streamed chat request over a raw connection; returns (connection, response)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("POST", "/v1/chat/completions", json.dumps({**body, "stream": True}),
                 {"Content-Type": "application/json"})
    return conn, conn.getresponse()


def read_events(resp, limit=None):
    """Reads SSE data payloads (until [DONE], or `limit` of them)."""
    events = []
    for _ in range(100000):  # bounded; the stream itself ends at [DONE]
        line = resp.readline()
        if not line:
            break
        line = line.decode().strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        events.append(data)
        if data == "[DONE]" or (limit and len(events) >= limit):
            break
    return events


def wait_for(cond, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def main():
    args = parse_args()
    t = Checks()
    with TestModel(args.make_model) as model:
        # --- 8 clients at once ---
        with Server(args.gorae, model.dir, "--parallel", "8", "--ctx", "512") as srv:
            client = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0, timeout=60)
            req = lambda i: dict(model="m", messages=[{"role": "user", "content": f"client {i} says hello"}],
                                 max_tokens=150, temperature=0, extra_body=NO_EOS)
            # One streamed request first, in this thread: the openai package builds its pydantic
            # response models on first use, and 8 threads doing that at once can fail inside
            # pydantic ("BaseModel cannot be instantiated directly"). This test is about gorae.
            for _ in client.chat.completions.create(stream=True, **dict(req(0), max_tokens=2)):
                pass
            client.chat.completions.create(**dict(req(0), max_tokens=2))
            results, bad_status = {}, []
            barrier = threading.Barrier(12)

            def good(i):
                barrier.wait(timeout=30)
                text = ""
                for chunk in client.chat.completions.create(stream=True, **req(i)):
                    for ch in chunk.choices:
                        text += ch.delta.content or ""
                results[i] = text

            def bad(i):
                barrier.wait(timeout=30)
                status, body = post(srv.url + "/v1/chat/completions",
                                    {"messages": [{"role": "user", "content": "x"}], "max_tokens": "many"})
                bad_status.append((status, body["error"]["param"]))

            threads = [threading.Thread(target=good, args=(i,)) for i in range(8)]
            threads += [threading.Thread(target=bad, args=(i,)) for i in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=90)
            t.check(len(results) == 8, f"all 8 streams finished ({len(results)})")
            t.check(bad_status == [(400, "max_tokens")] * 4, f"bad requests among them got 400 ({bad_status})")
            peak = srv.health()["peak_batch"]
            t.check(peak >= 2, f"requests were decoded together (peak batch {peak})")
            for i in range(8):
                alone = client.chat.completions.create(**req(i)).choices[0].message.content
                t.check(results.get(i) == alone, f"client {i}: concurrent answer == answer alone")
            client.close()

        # --- queue full, and a disconnect mid-stream ---
        with Server(args.gorae, model.dir, "--parallel", "1", "--max-queue", "0", "--ctx", "4096") as srv:
            long_req = {"messages": [{"role": "user", "content": "go on"}], "max_tokens": 4000, **NO_EOS}
            conn, resp = open_stream(srv, long_req)
            t.check(resp.status == 200 and len(read_events(resp, limit=2)) == 2, "long stream started")
            status, body = post(srv.url + "/v1/chat/completions", {**long_req, "max_tokens": 5})
            t.check(status == 503 and body["error"]["code"] == "server_busy", f"full queue: 503 ({status} {body})")
            conn.close()  # the client goes away mid-stream
            freed = wait_for(lambda: srv.health()["slots_busy"] == 0)
            h = srv.health()
            t.check(freed, "slot freed after the disconnect")
            t.check(h["generated_tokens"] < 4000, f"generation stopped early ({h['generated_tokens']} of 4000 tokens)")
            status, body = post(srv.url + "/v1/chat/completions", {**long_req, "max_tokens": 5})
            t.check(status == 200 and body["choices"][0]["finish_reason"] == "length", "next request served")

        # --- SIGTERM drains ---
        with Server(args.gorae, model.dir, "--parallel", "2", "--ctx", "4096") as srv:
            conn, resp = open_stream(srv, {"messages": [{"role": "user", "content": "go"}], "max_tokens": 4000, **NO_EOS})
            first = read_events(resp, limit=1)
            t.check(len(first) == 1, "stream started before SIGTERM")
            srv.proc.send_signal(signal.SIGTERM)
            t.check(wait_for(lambda: srv.health()["status"] == "draining", 10), "health says draining")
            status, body = post(srv.url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                                                  "max_tokens": 2})
            t.check(status == 503, f"new request while draining: 503 (got {status})")
            rest = read_events(resp)
            conn.close()
            finishes = [json.loads(e)["choices"][0]["finish_reason"] for e in rest[:-1] if json.loads(e)["choices"]]
            t.check(rest and rest[-1] == "[DONE]" and finishes[-1:] == ["length"],
                    f"running stream completed ({rest[-2:] if rest else rest})")
            try:
                code = srv.proc.wait(timeout=30)
            except Exception:
                code = None
            t.check(code == 0, f"exit code 0 after draining (got {code})")
        check_slowloris(srv_args=(args.gorae, model.dir, "--ctx", "256"), t=t)
    t.finish("server_concurrency_test")


def check_slowloris(srv_args, t):
    with Server(*srv_args) as srv:
        held, stop = [], threading.Event()
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(s)

        def trickle():  # bounded: at most 40 rounds
            for i in range(40):
                if stop.wait(1.0):
                    return
                for s in held:
                    try:
                        s.sendall(f"X-Slow-{i}: 1\r\n".encode())
                    except OSError:
                        pass

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            time.sleep(1.5)  # every held connection is inside httplib's header read by now
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=25)
            try:
                conn.request("POST", "/v1/chat/completions", json.dumps({
                    "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}),
                    {"Content-Type": "application/json"})
                r = conn.getresponse()
                answered = r.status == 200 and json.loads(r.read())["choices"][0]["finish_reason"] is not None
            except (OSError, http.client.HTTPException) as e:
                answered = False
                print(f"  slowloris: {e!r}")
            finally:
                conn.close()
            t.check(answered, "a normal request is answered while 200 slowloris connections are held open")
        finally:
            stop.set()
            sender.join()
            for s in held:
                s.close()


if __name__ == "__main__":
    main()
