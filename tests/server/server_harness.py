"""Shared by the server's Python tests: build the test model, start `gorae serve` on
127.0.0.1 with a free port, and always stop it (SIGTERM, then SIGKILL after a timeout).

Only loopback is ever used. Every wait has a deadline."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE: a needed package is not installed


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--gorae", required=True)
    p.add_argument("--make-model", required=True)
    return p.parse_args()


class TestModel:
    """A temporary model directory made by server_test_model ("r1": DeepSeek-R1 template)."""

    def __init__(self, make_model, template=""):
        self.dir = tempfile.mkdtemp(prefix="gorae_srv_model_")
        args = [make_model, self.dir] + ([template] if template else [])
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, timeout=120)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Server:
    """`gorae serve --port 0 ...` in the background; .url is its base URL."""

    def __init__(self, gorae, model_dir, *extra):
        self.log = tempfile.TemporaryFile(mode="w+")
        cmd = [gorae, "serve", "--model", model_dir, "--host", "127.0.0.1", "--port", "0", "--threads", "1", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()  # the "listening on http://127.0.0.1:PORT" line (or EOF)
        if "listening on http://127.0.0.1:" not in line:
            self.stop()
            raise RuntimeError(f"gorae serve did not start: {line!r}\n{self.stderr()}")
        self.url = line.strip().split("listening on ")[1]
        self.port = int(self.url.rsplit(":", 1)[1])
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("gorae serve did not become healthy")

    def health(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout=20):
        """SIGTERM (drain), then SIGKILL if it has not exited in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def post(url, body, headers=None, timeout=60):
    """POSTs raw bytes or a JSON-able object; returns (status, parsed JSON or text)."""
    data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


class Checks:
    """Collects failures so one run reports all of them; the exit code carries the verdict."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, cond, what):
        self.count += 1
        if not cond:
            self.failures.append(what)
            print(f"FAIL: {what}", flush=True)

    def finish(self, name):
        if self.failures:
            print(f"{name}: {len(self.failures)} of {self.count} checks failed")
            sys.exit(1)
        print(f"{name}: all {self.count} checks passed")
        sys.exit(0)
