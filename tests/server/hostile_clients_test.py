"""`gorae serve` against clients that break HTTP on purpose, over raw sockets on 127.0.0.1:
a header line of 100 KB, a garbage request line, a Content-Length or a chunk size that lies
about the body and then a vanished client, a huge Content-Length, a body cut off mid-JSON,
a bad Content-Length, a request line without a version. Each gets an error status or a closed
connection (never a hang: every read has a timeout), and after each the server still answers
/health and a chat request."""
import json
import socket

from server_harness import Checks, Server, TestModel, parse_args, post


def exchange(port, raw, close_write=False, timeout=10):
    """Sends raw bytes; returns the status code of the reply, or None if the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(raw)
            if close_write:
                s.shutdown(socket.SHUT_WR)  # the client goes away mid-body
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            return None
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


def main():
    args = parse_args()
    t = Checks()
    chat = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
    cases = [
        ("a 100 KB header line", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
         False, {400, 413, 431, None}),
        ("a garbage request line", b"GARBAGE\r\n\r\n", False, {400, None}),
        ("no HTTP version", b"GET /health\r\n\r\n", False, {400, 505, None}),
        ("Content-Length longer than the body, then gone", chat + b"Content-Length: 1000\r\n\r\n" + body[:10],
         True, {400, None}),
        ("a chunk size that lies, then gone",
         chat + b"Transfer-Encoding: chunked\r\n\r\nffff\r\n" + body[:10], True, {400, None}),
        ("a chunk size that is not hex", chat + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
         False, {400, None}),
        ("a huge Content-Length", chat + b"Content-Length: 99999999999\r\n\r\n", False, {413}),
        ("a Content-Length that is not a number", chat + b"Content-Length: ten\r\n\r\n" + body, False,
         {400, None}),
        ("a body cut off mid-JSON", chat + b"Content-Length: 14\r\n\r\n" + b'{"messages": [', False, {400}),
        ("a body that is not UTF-8 JSON", chat + b"Content-Length: 4\r\n\r\n\xff\xfe\x00{", False, {400}),
    ]
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
        for name, raw, close_write, allowed in cases:
            try:
                status = exchange(srv.port, raw, close_write)
                ok = status in allowed
            except socket.timeout:
                status, ok = "no answer within 10 s", False
            print(f"  {name}: {status}")
            t.check(ok, f"{name}: {status} (allowed {sorted(map(str, allowed))})")
            health = srv.health()
            code, answer = post(srv.url + "/v1/chat/completions", json.loads(body))
            t.check(health["status"] == "ok" and code == 200 and answer["choices"][0]["finish_reason"],
                    f"{name}: the server still answers ({health['status']}, chat {code})")
    # A client that goes silent mid-request is let go after --read-timeout (1 s here; the socket
    # waits 4 s, less than the default 5 s, so an ignored flag fails).
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "64", "--read-timeout", "1") as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=4) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            try:
                s.recv(4096)  # EOF, or an error status: either way the server stopped waiting
                closed = True
            except socket.timeout:
                closed = False
            except ConnectionResetError:
                closed = True
        t.check(closed, "a connection silent mid-request is let go (--read-timeout 1)")
    t.finish("server_hostile_clients_test")


if __name__ == "__main__":
    main()
