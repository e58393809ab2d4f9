"""The chat page in a real browser: headless Chromium (Debian's) loads GET / from a `gorae serve`
on 127.0.0.1 with tiny random models and drives it as a person would (typing, Enter, buttons).

Checked: a streamed answer equals the API's answer for the same request, with its token counts
and finish reason; conversations survive a reload; regenerate, edit-and-resend and Stop (which
keeps the partial answer); a real tool call shown as a card, its result sent back and answered;
the reasoning of an R1-template model shown live, then folded; errors shown with the server's
message (401 without the API key, a request larger than the context, the server gone). Model
output cannot be trusted and random weights write no Markdown, so rendering is checked on an
imported conversation: Markdown, highlighted code with a working Copy button, KaTeX, and the
sanitizer (no <script>, onerror= or javascript: link may survive). Export gives that JSON back.

--screenshots DIR --real-model FILE also asks a real model for the README's prime-number
example and saves light, dark and phone-width PNGs of the page in DIR (docs/images/).

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4), so no extra Python package is needed."""
import argparse
import fcntl
import glob
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from server_harness import SKIP, Checks, Server, TestModel, post

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STORE_KEY = "gorae.chat.v1"


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
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=wire_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        os.set_blocking(self.from_browser, False)
        self.buffer = b""
        self.next_id = 0
        self.events = []  # (sessionId, method, params) of the events seen, for page errors

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
                if "method" in reply:
                    self.events.append((reply.get("sessionId"), reply["method"], reply.get("params", {})))
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            try:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += chunk
            except BlockingIOError:
                time.sleep(0.005)
        raise TimeoutError(method)

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


class Page:
    """One tab on the chat page of a server."""

    def __init__(self, browser, url):
        self.b = browser
        self.url = url
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.call("Runtime.enable", {}, self.s)  # exceptions and console errors are collected
        browser.call("Page.enable", {}, self.s)
        browser.call("Page.navigate", {"url": url + "/"}, self.s)
        self.wait_ready()

    def js(self, expr, timeout=30):
        """The value of a JS expression (awaited if a promise); raises on a JS exception."""
        r = self.b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                        self.s, timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page: {expr[:80]}: {r['exceptionDetails'].get('exception', {}).get('description')}")
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.03)
        return None

    def wait_ready(self):
        if not self.wait("document.readyState === 'complete' && typeof Store === 'object' && "
                         "!!document.querySelector('#conversations li') && "
                         "document.getElementById('model').textContent !== ''", timeout=60):
            raise RuntimeError("the chat page did not load")

    def reload(self):
        self.js("window.__old_document = true")
        self.b.call("Page.reload", {}, self.s)
        if not self.wait("window.__old_document === undefined"):
            raise RuntimeError("the page did not reload")
        self.wait_ready()

    def errors(self):
        """Uncaught exceptions and console.error calls of this tab so far."""
        out = []
        for session, method, p in self.b.events:
            if session != self.s:
                continue
            if method == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("exception", {}).get("description") or p["exceptionDetails"].get("text"))
            elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        return out

    def set_setting(self, name, value):
        self.js(f"(() => {{ const e = document.getElementById('set-{name}'); e.value = {json.dumps(str(value))};"
                " e.dispatchEvent(new Event('input')); return true; })()")

    def click(self, selector):
        ok = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
                     " e.click(); return true; })()")
        if not ok:
            raise RuntimeError(f"nothing to click at {selector}")

    def type_and_enter(self, text):
        self.js("document.getElementById('input').focus(); true")
        self.b.call("Input.insertText", {"text": text}, self.s)
        for kind in ("keyDown", "keyUp"):
            self.b.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}, self.s)

    def last_answer(self, timeout=60):
        """Waits until the last answer is no longer streaming; returns its view state."""
        return self.wait("""(() => {
          const b = [...document.querySelectorAll('#log .msg.assistant')].pop();
          if (!b || b.dataset.state === 'streaming') return null;
          const d = b.querySelector('details');
          return {state: b.dataset.state, finish: b.dataset.finish, text: b.querySelector('.answer').textContent,
                  reasoning: b.querySelector('.reasoning').textContent, reasoning_hidden: d.hidden, reasoning_open: d.open,
                  summary: d.querySelector('summary').textContent, reasoning_first: b.querySelector('.body').firstElementChild === d,
                  meta: b.querySelector('.meta').textContent, error: b.querySelector('.error-text').textContent,
                  calls: [...b.querySelectorAll('.tool-card.call')].map(c => ({name: c.querySelector('.tool-name').textContent,
                                                                             args: c.querySelector('pre').textContent}))};
        })()""", timeout=timeout)

    def stored(self):
        """The current conversation as the page stored it in localStorage."""
        return self.js(f"(() => {{ const s = JSON.parse(localStorage.getItem('{STORE_KEY}'));"
                       " return s.conversations.find(c => c.id === s.current); })()")

    def screenshot(self, path):
        data = self.b.call("Page.captureScreenshot", {"format": "png"}, self.s)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def api_chat(srv, messages, key=None, **fields):
    headers = {"Authorization": f"Bearer {key}"} if key else None
    status, r = post(srv.url + "/v1/chat/completions", {"messages": messages, **fields}, headers=headers)
    if status != 200:
        raise RuntimeError(f"API: {status} {r}")
    return r


NOW_TOOL = {"type": "function", "function": {"name": "now", "description": "The current time",
                                             "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}}

SAMPLE_MD = r"""## Checking primes

A *prime* has exactly **two** divisors; see [Wikipedia](https://en.wikipedia.org/wiki/Prime_number) and `is_prime(7)`.

> Every integer above 1 is a product of primes.

1. Try divisors up to the square root.
2. Stop at the first one.

| n | prime |
|---|-------|
| 7 | yes |
| 9 | no |

```python
def is_prime(n):
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))
```

Inline math $a^2 + b^2 = c^2$ and a displayed sum:

$$\sum_{k=1}^{n} k = \frac{n(n+1)}{2}$$

Prices like $5 and $10 stay text."""

# Each must render as harmless text: the marker __pwned stays unset if no script ran.
SAMPLE_EVIL = """<script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">

[a link](javascript:window.__pwned=3) and [another](JaVaScRiPt:window.__pwned=4) and <a href="javascript:window.__pwned=5">raw</a>

<iframe src="javascript:window.__pwned=6"></iframe> <svg onload="window.__pwned=7"></svg>

![picture](x" onerror="window.__pwned=8)

<details open ontoggle="window.__pwned=9">x</details>"""

SAMPLE = {"title": "Rendering sample", "settings": {"temperature": 0}, "messages": [
    {"role": "user", "content": "How do I check that a number is prime?"},
    {"role": "assistant", "reasoning": "The user wants a primality test; trial division is enough.",
     "content": SAMPLE_MD, "finish": "stop",
     "stats": {"prompt_tokens": 20, "completion_tokens": 180, "ttft_ms": 120, "tokens_per_s": 21.5, "total_ms": 8500}},
    {"role": "user", "content": "What time is it?"},
    {"role": "assistant", "content": "", "finish": "tool_calls",
     "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{\"zone\":\"Asia/Seoul\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"time\": \"12:00\"}"},
    {"role": "assistant", "content": SAMPLE_EVIL, "finish": "stop"},
]}


def check_chat(t, page, srv, model_id):
    """A real streamed answer, reload, regenerate, edit-and-resend, Stop."""
    t.check(page.js("document.getElementById('model').textContent") == f"{model_id} \u00b7 2048 ctx",
            "the model's name and context size are shown")
    page.set_setting("temperature", 0)
    page.set_setting("max_tokens", 40)
    text = "Hello from the browser"
    page.type_and_enter(text)
    view = page.last_answer()
    t.check(view and view["state"] == "done", f"answer finished: {view}")
    conv = page.stored()
    api = api_chat(srv, [{"role": "user", "content": text}], temperature=0, top_p=1, max_tokens=40)
    msgs = conv["messages"]
    t.check([m["role"] for m in msgs] == ["user", "assistant"] and msgs[0]["content"] == text, f"stored: {msgs}")
    answer = msgs[-1]
    t.check(answer["content"] == api["choices"][0]["message"]["content"],
            f"page answer == API answer ({answer['content']!r} vs {api['choices'][0]['message']['content']!r})")
    t.check(view["finish"] == api["choices"][0]["finish_reason"], "finish reason kept")
    stats = answer.get("stats", {})
    t.check(stats.get("completion_tokens") == api["usage"]["completion_tokens"] and
            stats.get("prompt_tokens") == api["usage"]["prompt_tokens"], f"usage from the stream: {stats} vs {api['usage']}")
    t.check(f"{stats.get('completion_tokens')} tokens" in view["meta"] and "first token" in view["meta"] and
            "tok/s" in view["meta"], f"tokens, time to first token and speed under the answer: {view['meta']!r}")
    t.check(page.js("document.getElementById('context-use').textContent") ==
            f"{stats.get('prompt_tokens', 0) + stats.get('completion_tokens', 0)} / 2048 tokens", "context use shown")
    t.check(page.js("document.querySelector('#conversations li.current .conv-title').textContent") == text,
            "the conversation is named after its first message")

    page.reload()
    again = page.stored()
    t.check(again["messages"] == msgs and page.js("document.querySelector('#log .msg.user .body').textContent") == text and
            page.js("document.getElementById('set-max_tokens').value") == "40", "the conversation and its settings survive a reload")

    page.click("#log .msg.assistant:last-child .regenerate")
    view = page.last_answer()
    msgs = page.stored()["messages"]
    t.check(view["state"] == "done" and len(msgs) == 2 and msgs[1]["content"] == api["choices"][0]["message"]["content"],
            f"regenerate replaces the answer: {msgs}")

    page.click("#log .msg.user .edit")
    page.js("document.querySelector('#log .msg.user textarea').value = 'Edited question'; true")
    page.click("#log .msg.user .resend")
    view = page.last_answer()
    msgs = page.stored()["messages"]
    api2 = api_chat(srv, [{"role": "user", "content": "Edited question"}], temperature=0, top_p=1, max_tokens=40)
    t.check(view["state"] == "done" and [m["content"] for m in msgs] ==
            ["Edited question", api2["choices"][0]["message"]["content"]], f"edit and resend: {msgs}")

    # Stop: a long answer (no end of turn), stopped once some of it has streamed.
    page.set_setting("max_tokens", 1500)
    page.set_setting("extra", '{"ignore_eos": true}')
    page.type_and_enter("Count")
    streamed = page.wait("(() => { const b = [...document.querySelectorAll('#log .msg.assistant')].pop();"
                         " return b.dataset.state === 'streaming' && b.querySelector('.answer').textContent.length > 0; })()")
    page.click("#stop")
    view = page.last_answer()
    last = page.stored()["messages"][-1]
    full = api_chat(srv, [{"role": "user", "content": "Edited question"}, {"role": "assistant", "content": msgs[1]["content"]},
                          {"role": "user", "content": "Count"}], temperature=0, top_p=1, max_tokens=1500, ignore_eos=True)
    t.check(streamed and view["state"] == "stopped" and last.get("stopped") and last["content"] and "finish" not in last and
            full["choices"][0]["message"]["content"].startswith(last["content"]) and
            len(last["content"]) < len(full["choices"][0]["message"]["content"]),
            f"Stop keeps the partial answer ({len(last['content'])} characters): {view}")
    t.check("stopped" in view["meta"], f"a stopped answer says so: {view['meta']!r}")
    page.set_setting("extra", "")

    # Larger than the context: the server's message, and the question stays.
    page.set_setting("max_tokens", 5000)
    page.type_and_enter("Too long")
    view = page.last_answer()
    t.check(view["state"] == "error" and "context" in view["error"] and "max_tokens" in view["error"] and
            "Max tokens" in view["error"], f"context error shown: {view['error']!r}")
    t.check(page.stored()["messages"][-2]["content"] == "Too long", "the question is kept after an error")
    page.set_setting("max_tokens", 40)
    page.click("#log .msg.assistant:last-child .regenerate")
    view = page.last_answer()
    t.check(view["state"] == "done", "regenerate after an error answers")


def check_tools(t, page, srv):
    """A real streamed tool call (tool_choice required) shown as a card; its result sent back."""
    page.click("#new-chat")
    page.set_setting("max_tokens", 60)
    page.set_setting("extra", json.dumps({"tools": [NOW_TOOL], "tool_choice": "required"}))
    page.type_and_enter("What time is it?")
    view = page.last_answer()
    stored = page.stored()["messages"][-1]
    api = api_chat(srv, [{"role": "user", "content": "What time is it?"}], temperature=0, top_p=1, max_tokens=60,
                   tools=[NOW_TOOL], tool_choice="required")
    api_calls = api["choices"][0]["message"].get("tool_calls") or []
    t.check(view["finish"] == "tool_calls" and [c["function"]["name"] for c in stored.get("tool_calls", [])] == ["now"],
            f"a tool call streamed: {view} {stored}")
    t.check([(c["function"]["name"], c["function"]["arguments"]) for c in stored.get("tool_calls", [])] ==
            [(c["function"]["name"], c["function"]["arguments"]) for c in api_calls], "the streamed call == the API's")
    pretty = [json.dumps(json.loads(c["function"]["arguments"]), indent=2) for c in stored.get("tool_calls", [])]
    t.check(view["calls"] == [{"name": "now", "args": p} for p in pretty], f"tool-call card: {view['calls']} vs {pretty}")
    page.set_setting("extra", json.dumps({"tools": [NOW_TOOL]}))
    page.js("document.querySelector('.tool-answer textarea').value = '12:00'; true")
    page.click(".tool-answer .send-results")
    view = page.last_answer()
    msgs = page.stored()["messages"]
    t.check([m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"] and msgs[2]["content"] == "12:00" and
            msgs[2]["tool_call_id"] == msgs[1]["tool_calls"][0]["id"] and view["state"] == "done",
            f"the tool result goes back and is answered: {msgs}")
    t.check(page.js("document.querySelector('#log .msg.tool .tool-name').textContent") == "now" and
            page.js("document.querySelector('#log .msg.tool pre').textContent") == "12:00", "the tool result is shown as such")
    page.set_setting("extra", "")


def check_rendering(t, page, tmp):
    """Import a conversation written by hand, check how it renders and that nothing unsafe runs."""
    path = os.path.join(tmp, "sample.json")
    with open(path, "w") as f:
        json.dump(SAMPLE, f)
    before = page.js("document.querySelectorAll('#conversations li').length")
    doc = page.b.call("DOM.getDocument", {}, page.s)
    node = page.b.call("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": "#import"}, page.s)["nodeId"]
    page.b.call("DOM.setFileInputFiles", {"files": [path], "nodeId": node}, page.s)
    t.check(page.wait("document.getElementById('title').textContent === 'Rendering sample'"), "imported and shown")
    page.reload()  # rendered from storage
    r = page.js("""(() => {
      const first = document.querySelectorAll('#log .msg.assistant')[0], q = (s) => first.querySelector(s);
      const d = q('details');
      return {
        h2: q('.answer h2') && q('.answer h2').textContent, em: !!q('.answer em'), strong: !!q('.answer strong'),
        link: q('.answer a') && [q('.answer a').href, q('.answer a').target, q('.answer a').rel],
        code: q('.answer p code') && q('.answer p code').textContent, quote: !!q('.answer blockquote'),
        ol: first.querySelectorAll('.answer ol li').length, th: [...first.querySelectorAll('.answer th')].map(e => e.textContent),
        td: first.querySelectorAll('.answer td').length,
        lang: q('.code-block .code-lang') && q('.code-block .code-lang').textContent,
        keyword: q('.code-block code.language-python .hljs-keyword') && q('.code-block code.language-python .hljs-keyword').textContent,
        copy: !!q('.code-block button.copy-code'),
        katex: first.querySelectorAll('.katex').length, display: !!q('.math-block .katex-display'),
        mathml: !!q('.katex-mathml annotation'), prices: first.textContent.includes('Prices like $5 and $10 stay text.'),
        reasoning: [d.hidden, d.open, d.querySelector('summary').textContent],
        meta: q('.meta').textContent, md_blocks: first.querySelectorAll('.answer > .blk').length,
        card: [...document.querySelectorAll('#log .tool-card.call')].map(c => [c.querySelector('.tool-name').textContent,
                                                                            c.querySelector('pre').textContent]),
        result: [...document.querySelectorAll('#log .msg.tool')].map(c => [c.querySelector('.tool-name').textContent,
                                                                          c.querySelector('pre').textContent]),
      };
    })()""")
    t.check(r["h2"] == "Checking primes" and r["em"] and r["strong"] and r["quote"] and r["ol"] == 2 and
            r["th"] == ["n", "prime"] and r["td"] == 4 and r["code"] == "is_prime(7)", f"Markdown rendered: {r}")
    t.check(r["link"] == ["https://en.wikipedia.org/wiki/Prime_number", "_blank", "noopener noreferrer"], f"link: {r['link']}")
    t.check(r["lang"] == "python" and r["keyword"] == "def" and r["copy"], f"highlighted code with a Copy button: {r}")
    t.check(r["katex"] >= 2 and r["display"] and r["mathml"] and r["prices"], f"KaTeX math, and $5 stays text: {r}")
    t.check(r["reasoning"][0] is False and r["reasoning"][1] is False and "characters" in r["reasoning"][2],
            f"reasoning folded with its length: {r['reasoning']}")
    t.check("180 tokens" in r["meta"] and "21.5 tok/s" in r["meta"] and "first token 0.12 s" in r["meta"], f"stats: {r['meta']!r}")
    t.check(r["card"] == [["get_time", '{\n  "zone": "Asia/Seoul"\n}']] and r["result"] == [["get_time", '{\n  "time": "12:00"\n}']],
            f"tool-call card and tool result: {r['card']} {r['result']}")

    # Streaming: a block whose source is unchanged keeps its DOM; only the growing end is redone.
    inc = page.js("""(() => {
      const div = document.createElement('div'), v = new Render.MarkdownView(div);
      v.update('# Title\\n\\nFirst para');
      const h = div.querySelector('h1');
      v.update('# Title\\n\\nFirst para grows\\n\\n```py\\nx = 1');
      return {kept: div.querySelector("h1") === h,
              code: !!div.querySelector('.code-block code.language-py'), para: div.querySelector('p').textContent};
    })()""")
    t.check(inc["kept"] and inc["code"] and inc["para"] == "First para grows", f"incremental rendering: {inc}")

    # The sanitizer: nothing ran, no handler attribute, no javascript: URL, raw HTML shown as text.
    time.sleep(0.3)  # an onerror would fire by now
    s = page.js("""(() => {
      const evil = [...document.querySelectorAll('#log .msg.assistant')].pop(), all = [...document.querySelectorAll('#log *')];
      return {pwned: window.__pwned === undefined ? null : window.__pwned,
              handlers: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).map(e => e.outerHTML),
              js_urls: all.filter(e => [...e.attributes].some(a => /^\\s*javascript:/i.test(a.value))).map(e => e.outerHTML),
              dangerous: document.querySelectorAll('#log script, #log iframe, #log img, #log svg, #log object, #log embed').length,
              text: evil.querySelector('.answer').textContent,
              links: [...evil.querySelectorAll('.answer a')].map(a => a.textContent)};
    })()""")
    t.check(s["pwned"] is None, f"no script from the answer ran (window.__pwned = {s['pwned']})")
    t.check(not s["handlers"] and not s["js_urls"] and s["dangerous"] == 0, f"sanitized DOM: {s}")
    t.check("<script>window.__pwned = 1</script>" in s["text"] and '<img src=x onerror="window.__pwned = 2">' in s["text"],
            f"raw HTML in an answer is shown as text: {s['text']!r}")
    t.check(s["links"][:2] == ["a link", "another"], f"the javascript: links keep their text, not their URL: {s['links']}")

    # Copy: the code block's text goes to the clipboard.
    page.b.call("Browser.grantPermissions", {"origin": page.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    page.b.call("Page.bringToFront", {}, page.s)
    page.click("#log .code-block button.copy-code")
    copied = page.wait("document.querySelector('#log .code-block button.copy-code').textContent === 'Copied'", timeout=5)
    clip = page.js("navigator.clipboard.readText()")
    t.check(copied and clip == "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))",
            f"Copy puts the code on the clipboard: {clip!r}")

    # Themes follow the system; at phone width nothing is wider than the screen and the list is a drawer.
    bg = {}
    for scheme in ("light", "dark"):
        page.b.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}, page.s)
        bg[scheme] = page.js("getComputedStyle(document.body).backgroundColor")
    page.b.call("Emulation.setEmulatedMedia", {"features": []}, page.s)
    t.check(bg["light"] == "rgb(246, 247, 249)" and bg["dark"] == "rgb(22, 24, 28)", f"light and dark themes: {bg}")
    page.b.call("Emulation.setDeviceMetricsOverride", {"width": 380, "height": 800, "deviceScaleFactor": 1, "mobile": True}, page.s)
    time.sleep(0.2)
    narrow = page.js("""(() => {
      const side = () => document.getElementById('sidebar').getBoundingClientRect();
      const hidden = side().right <= 0;
      document.getElementById('menu').click();
      return {width: document.documentElement.scrollWidth, inner: innerWidth, hidden, menu: !!document.getElementById('menu').offsetWidth};
    })()""")
    opened = page.wait("document.getElementById('sidebar').getBoundingClientRect().left >= 0", timeout=5)
    page.click("#backdrop")
    page.b.call("Emulation.clearDeviceMetricsOverride", {}, page.s)
    t.check(narrow["width"] <= 380 and narrow["inner"] == 380 and narrow["hidden"] and narrow["menu"] and opened,
            f"phone width: no overflow, the list in a drawer: {narrow}, opened: {opened}")

    # Export: the same conversations come back as JSON.
    downloads = os.path.join(tmp, "downloads")
    os.makedirs(downloads)
    page.b.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    page.click("#export")
    deadline = time.time() + 10
    files = []
    while time.time() < deadline and not files:
        files = [f for f in glob.glob(os.path.join(downloads, "*.json"))]
        time.sleep(0.05)
    exported = json.load(open(files[0])) if files else {}
    convs = exported.get("conversations", [])
    t.check(exported.get("format") == "gorae-chat" and len(convs) == before + 1 and
            any(c["title"] == "Rendering sample" and c["messages"][1]["content"] == SAMPLE_MD for c in convs),
            f"export gives every conversation back: {[c.get('title') for c in convs]}")


def check_list(t, page):
    """The conversation list: rename, switch, delete."""
    titles = lambda: page.js("[...document.querySelectorAll('#conversations .conv-title')].map(e => e.textContent)")
    before = titles()
    page.click("#conversations li.current .rename")
    page.js("(() => { const i = document.querySelector('#conversations li input'); i.value = 'Renamed';"
            " i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); return true; })()")
    t.check(page.stored()["title"] == "Renamed" and "Renamed" in titles(), f"rename: {titles()}")
    page.click("#conversations li:not(.current) .conv-title")
    other = page.stored()
    t.check(other["title"] != "Renamed" and page.js("document.getElementById('title').textContent") == other["title"] and
            page.js("document.querySelectorAll('#log .msg').length") == len(other["messages"]), "switching conversations")
    page.click("#conversations li.current .delete")
    page.click("#conversations li.current .delete")  # the second click confirms
    t.check(len(titles()) == len(before) - 1 and other["title"] not in titles(), f"delete: {before} -> {titles()}")


def check_reasoning_and_key(t, page, srv):
    """An R1-template server with --api-key: 401 first, then the reasoning live and folded."""
    page.set_setting("temperature", 0)
    page.set_setting("max_tokens", 40)
    page.type_and_enter("Think first")
    view = page.last_answer()
    t.check(view["state"] == "error" and "API key" in view["error"], f"401 explained: {view['error']!r}")
    page.js("(() => { const k = document.getElementById('api_key'); k.value = 'sesame';"
            " k.dispatchEvent(new Event('change')); return true; })()")
    # Record what the reasoning block looked like while the answer streamed.
    page.js("""(() => {
      window.__live = false;
      new MutationObserver(() => {
        const b = [...document.querySelectorAll('#log .msg.assistant')].pop();
        const d = b && b.querySelector('details');
        if (b && b.dataset.state === 'streaming' && !d.hidden && d.open && b.querySelector('.reasoning').textContent) window.__live = true;
      }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true, attributes: true});
      return true;
    })()""")
    page.click("#log .msg.assistant:last-child .regenerate")
    view = page.last_answer()
    msg = api_chat(srv, [{"role": "user", "content": "Think first"}], key="sesame", temperature=0, top_p=1,
                   max_tokens=40)["choices"][0]["message"]
    stored = page.stored()["messages"][-1]
    t.check(view["state"] == "done" and stored["content"] == msg["content"], f"answer with the key == API: {stored} vs {msg}")
    t.check(msg.get("reasoning_content") and stored.get("reasoning") == msg["reasoning_content"] and
            view["reasoning"] == msg["reasoning_content"], "the reasoning streamed as reasoning_content")
    t.check(page.js("window.__live") is True, "the reasoning block was open and filling while the answer streamed")
    t.check(not view["reasoning_hidden"] and not view["reasoning_open"] and view["reasoning_first"] and
            f"{len(msg['reasoning_content'])} characters" in view["summary"],
            f"then folded above the answer, with its length: {view['summary']!r}")


def check_server_gone(t, page, srv):
    srv.stop()
    page.type_and_enter("Anyone there?")
    view = page.last_answer()
    t.check(view["state"] == "error" and "Cannot reach the server" in view["error"], f"server gone: {view['error']!r}")


def screenshots(browser, args, out_dir):
    """The README's pictures: a real model's answer to the prime-number question, light, dark, narrow."""
    with Server(args.gorae, args.real_model, "--ctx", "4096") as srv:
        page = Page(browser, srv.url)

        def shot(name, width, height, scheme, end=False):
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, page.s)
            browser.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}, page.s)
            time.sleep(0.3)
            # The question and the answer's start, or its end with the timings.
            page.js(f"(l => {{ l.scrollTop = {'l.scrollHeight' if end else '0'}; return true; }})(document.getElementById('log'))")
            time.sleep(0.2)
            page.screenshot(os.path.join(out_dir, f"chat_{name}.png"))

        page.set_setting("temperature", 0)
        page.set_setting("max_tokens", 600)
        page.type_and_enter("Write a Python function that checks if a number is prime.")
        view = page.last_answer(timeout=300)
        print("the real model's answer:", json.dumps(page.stored()["messages"][-1]))
        shot("light", 1180, 820, "light")
        shot("dark", 1180, 820, "dark", end=True)
        shot("narrow", 380, 800, "light")
        return view


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gorae", required=True)
    p.add_argument("--make-model", required=True)
    p.add_argument("--screenshots", help="also save the README's screenshots in this folder (needs --real-model)")
    p.add_argument("--real-model", help="a real model (directory or GGUF) for the screenshots")
    args = p.parse_args()
    if not CHROMIUM:
        print("chromium is not installed (scripts/install_deps.sh installs it): skipped")
        sys.exit(SKIP)
    t = Checks()
    browser = Browser()
    tmp = tempfile.mkdtemp(prefix="gorae_page_test_")
    pages = []
    start = time.time()
    try:
        with TestModel(args.make_model, "qwen2_5") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv:
            page = Page(browser, srv.url)
            pages.append(page)
            t0 = time.time()
            page.reload()
            print(f"page load: {time.time() - t0:.2f} s")
            check_chat(t, page, srv, os.path.basename(model.dir))
            check_tools(t, page, srv)
            check_rendering(t, page, tmp)
            check_list(t, page)
            check_server_gone(t, page, srv)
        with TestModel(args.make_model, "r1") as model, \
                Server(args.gorae, model.dir, "--ctx", "2048", "--api-key", "sesame") as srv:
            page = Page(browser, srv.url)
            pages.append(page)
            check_reasoning_and_key(t, page, srv)
        for page in pages:
            errors = [e for e in page.errors() if "Failed to load resource" not in e]
            t.check(not errors, f"no errors in the page's console: {errors}")
        if args.screenshots:
            view = screenshots(browser, args, args.screenshots)
            t.check(view and view["state"] == "done", f"the real model answered: {view}")
    finally:
        browser.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"page test: {time.time() - start:.1f} s")
    t.finish("server_page_test")


if __name__ == "__main__":
    main()
