"""The chat page in a real browser: headless Chromium (Debian's) loads GET / from a
`gorae serve` on 127.0.0.1, a message is typed and sent with Enter, and the page must show the
streamed answer: exactly what the API answers for the same request, with the reasoning in a
visible collapsible block above it on a model whose template opens "<think>".

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4), so no extra Python package is needed."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from server_harness import SKIP, Checks, Server, TestModel, parse_args, post

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="gorae_chromium_")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: its fd 3 reads our commands, fd 4 writes replies
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=wire_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        os.set_blocking(self.from_browser, False)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            try:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += chunk
            except BlockingIOError:
                time.sleep(0.01)
        raise TimeoutError(method)

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        return self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def eval(self, session, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
        return r.get("result", {}).get("value")

    def close(self):
        try:  # ask politely; the reply may never come, as the browser closes the pipe
            os.write(self.to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


STATE = """JSON.stringify((() => {
  const b = [...document.querySelectorAll('.msg.assistant')].pop();
  if (!b) return null;
  const d = b.querySelector('details');
  return {state: b.dataset.state, answer: b.querySelector('.answer').textContent,
          reasoning: b.querySelector('.reasoning').textContent, reasoning_hidden: d.hidden,
          reasoning_first: b.firstElementChild === d, meta: b.querySelector('.meta').textContent,
          user: [...document.querySelectorAll('.msg.user')].map(u => u.textContent)};
})())"""


def chat_in_page(browser, t, srv, text):
    """Types `text` into the page of `srv`, sends it with Enter and returns the final bubble state."""
    session = browser.open(srv.url + "/")
    ready = False
    for _ in range(300):
        if browser.eval(session, "document.readyState === 'complete' && !!document.getElementById('input')"):
            ready = True
            break
        time.sleep(0.05)
    t.check(ready, "page loaded")
    # Greedy, short answers so the API can be asked for the same thing.
    browser.eval(session, "document.getElementById('temperature').value = '0';"
                          "document.getElementById('max_tokens').value = '40';"
                          "document.getElementById('input').focus(); true")
    browser.call("Input.insertText", {"text": text}, session)
    for kind in ("keyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}, session)
    state = None
    for _ in range(600):  # up to ~30 s
        raw = browser.eval(session, STATE)
        state = json.loads(raw) if raw else None
        if state and state["state"] in ("done", "error", "stopped"):
            break
        time.sleep(0.05)
    return state


def main():
    args = parse_args()
    if not CHROMIUM:
        print("chromium is not installed (scripts/install_deps.sh installs it): skipped")
        sys.exit(SKIP)
    t = Checks()
    browser = Browser()
    try:
        for template in ("", "r1"):
            with TestModel(args.make_model, template) as model, Server(args.gorae, model.dir, "--ctx", "256") as srv:
                text = "Hello from the browser"
                state = chat_in_page(browser, t, srv, text)
                t.check(state is not None and state["state"] == "done", f"[{template or 'gorae'}] answer finished: {state}")
                if not state:
                    continue
                t.check(state["user"] == [text], "the user's message is shown")
                status, api = post(srv.url + "/v1/chat/completions",
                                   {"messages": [{"role": "user", "content": text}], "temperature": 0, "max_tokens": 40})
                msg = api["choices"][0]["message"]
                t.check(state["answer"] == msg["content"], f"page answer == API answer ({state['answer']!r} vs {msg['content']!r})")
                t.check(state["meta"] == "finish: " + api["choices"][0]["finish_reason"], "finish reason shown")
                if template == "r1":
                    t.check(msg.get("reasoning_content"), "the API gives reasoning for the R1 template")
                    t.check(not state["reasoning_hidden"] and state["reasoning_first"] and
                            state["reasoning"] == msg.get("reasoning_content"),
                            "reasoning shown, collapsible, above the answer")
                else:
                    t.check(state["reasoning_hidden"] and "reasoning_content" not in msg, "no reasoning block without reasoning")
                t.check(srv.health()["generated_tokens"] > 0, "the server generated")
    finally:
        browser.close()
    t.finish("server_page_test")


if __name__ == "__main__":
    main()
