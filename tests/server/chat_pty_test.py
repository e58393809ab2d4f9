"""`gorae chat` driven through a pseudo-terminal, as a person would use it: answers stream to
the terminal, history carries over turns (each answer must equal what `gorae serve` answers
for the same conversation, greedy), /reset forgets it, Ctrl-C stops an answer but not the
program (nor does it end it at the prompt), /exit quits with status 0. With --tools, a required
call is shown as such and equals the server's, the typed result goes back to the model, and
its answer equals the server's for the same conversation; a bad tools file is named."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import tempfile
import time

from server_harness import Checks, Server, TestModel, parse_args, post


class Terminal:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: the pty is its controlling terminal, so Ctrl-C is SIGINT
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.out = ""

    def read_until(self, marker, timeout=30):
        """Returns the output up to `marker` (consumed); '\\r\\n' is read as '\\n'."""
        deadline = time.time() + timeout
        while marker not in self.out:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"waiting for {marker!r}; got {self.out[-300:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError(f"terminal closed waiting for {marker!r}; got {self.out[-300:]!r}")
                self.out += data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        before, self.out = self.out.split(marker, 1)
        return before

    def send(self, text):
        os.write(self.fd, text.encode())

    def wait_exit(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:  # keep draining so the child never blocks on a full terminal
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 65536)
            except OSError:
                pass
        return None

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def answer_of(text_before_prompt, message):
    """The terminal shows: the echoed message, a newline, the answer, a newline, '> '."""
    echoed = message + "\n"
    assert text_before_prompt.startswith(echoed), repr(text_before_prompt[:80])
    body = text_before_prompt[len(echoed):]
    return body[:-1] if body.endswith("\n") else body


def main():
    args = parse_args()
    t = Checks()
    with TestModel(args.make_model) as model, Server(args.gorae, model.dir, "--ctx", "512") as srv:
        def api(messages):
            status, body = post(srv.url + "/v1/chat/completions",
                                {"messages": messages, "temperature": 0, "max_tokens": 20})
            return body["choices"][0]["message"]["content"]

        term = Terminal([args.gorae, "chat", "--model", model.dir, "--temperature", "0", "--max-tokens", "20",
                         "--ctx", "512", "--threads", "1"])
        try:
            banner = term.read_until("> ")
            t.check("/reset" in banner and "/exit" in banner, "banner explains the commands")
            term.send("hello\r")
            first = answer_of(term.read_until("\n> "), "hello")
            want = api([{"role": "user", "content": "hello"}])
            t.check(first == want, f"first answer == server's ({first!r} vs {want!r})")
            term.send("and then?\r")
            second = answer_of(term.read_until("\n> "), "and then?")
            want2 = api([{"role": "user", "content": "hello"}, {"role": "assistant", "content": first},
                         {"role": "user", "content": "and then?"}])
            t.check(second == want2, "second answer uses the history (== server's for the whole conversation)")
            term.send("/reset\r")
            t.check("(history cleared)" in term.read_until("\n> "), "/reset clears")
            term.send("hello\r")
            again = answer_of(term.read_until("\n> "), "hello")
            t.check(again == first, "after /reset the first answer comes again")
            term.send("/exit\r")
            code = term.wait_exit()
            t.check(code == 0, f"/exit quits with 0 (got {code})")
        finally:
            term.kill()

        # Ctrl-C: a long answer is stopped, the program goes on.
        # The answer (60000 tokens) is far more than the terminal buffers hold, so it cannot finish
        # while the test is not reading: the Ctrl-C always arrives mid-answer.
        term = Terminal([args.gorae, "chat", "--model", model.dir, "--max-tokens", "60000", "--ignore-eos",
                         "--ctx", "65536", "--threads", "1"])
        try:
            term.read_until("> ")
            term.send("\x03")  # at the prompt: a hint, not an exit
            t.check("Ctrl-C stops an answer" in term.read_until("> "), "Ctrl-C at the prompt does not quit")
            term.send("tell me everything\r")
            term.read_until("tell me everything\n")
            term.read_until(" ", timeout=30)  # the answer is streaming (random text has spaces)
            term.send("\x03")
            t.check(len(term.read_until("[stopped]\n> ")) < 600000, "Ctrl-C stops the answer and prompts again")
            term.send("hi\r")
            term.read_until("hi\n")
            term.read_until(" ", timeout=30)  # answering (a Ctrl-C before would only drop the typed line)
            term.send("\x03")
            term.read_until("[stopped]\n> ")
            term.send("\x04")  # Ctrl-D at the prompt: quit
            code = term.wait_exit()
            t.check(code == 0, f"Ctrl-D quits with 0 (got {code})")
        finally:
            term.kill()
    check_tools(args, t)
    t.finish("server_chat_pty_test")


WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
                          "required": ["city"], "additionalProperties": False}}}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check_tools(args, t):
    with TestModel(args.make_model, "qwen2_5") as model, Server(args.gorae, model.dir, "--ctx", "2048") as srv, \
            tempfile.TemporaryDirectory() as tmp:
        tools_file = os.path.join(tmp, "tools.json")
        with open(tools_file, "w") as f:
            json.dump([WEATHER], f)
        question = "Weather in Seoul?"

        def api(messages, choice):
            status, body = post(srv.url + "/v1/chat/completions",
                                {"messages": messages, "tools": [WEATHER], "tool_choice": choice,
                                 "temperature": 0, "max_tokens": 80})
            return body["choices"][0]["message"]

        term = Terminal([args.gorae, "chat", "--model", model.dir, "--temperature", "0", "--max-tokens", "80",
                         "--ctx", "2048", "--threads", "1", "--tools", tools_file, "--tool-choice", "required"])
        try:
            banner = ANSI.sub("", term.read_until("\n> "))
            t.check("tools (required): get_weather" in banner, f"the banner lists the tools: {banner!r}")
            term.send(question + "\r")
            shown = ANSI.sub("", term.read_until("[get_weather result]"))
            term.read_until("> ")
            want = api([{"role": "user", "content": question}], "required")
            call = want["tool_calls"][0]["function"]
            t.check(f"[tool call] get_weather {call['arguments']}\n" in shown,
                    f"the required call is shown, == the server's ({shown!r} vs {call})")
            term.send("21 degrees\r")
            answer = ANSI.sub("", term.read_until("\n> "))
            history = [{"role": "user", "content": question},
                       {"role": "assistant", "content": want["content"], "tool_calls": want["tool_calls"]},
                       {"role": "tool", "tool_call_id": want["tool_calls"][0]["id"], "content": "21 degrees"}]
            want2 = api(history, "auto")
            if want2.get("tool_calls"):
                t.check(False, f"the answer to the result has no call on this seed: {want2}")
            else:
                t.check(answer == "21 degrees\n" + (want2["content"] or ""),
                        f"the answer to the typed result == the server's ({answer!r} vs {want2['content']!r})")
            term.send("/exit\r")
            t.check(term.wait_exit() == 0, "/exit quits with 0 after a tool loop")
        finally:
            term.kill()

        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump([{"type": "function", "function": {"name": "no spaces allowed"}}], f)
        for argv, needle in ((["--tools", os.path.join(tmp, "missing.json")], "missing.json"),
                             (["--tools", bad], "bad.json: tools[0].function.name"),
                             (["--tools", tools_file, "--tool-choice", "nope"], "tool_choice"),
                             (["--tool-choice", "required"], "--tool-choice needs --tools")):
            r = subprocess.run([args.gorae, "chat", "--model", model.dir] + argv, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=60)
            t.check(r.returncode != 0 and needle in r.stderr, f"{argv}: exit {r.returncode}, {r.stderr.strip()!r}")


if __name__ == "__main__":
    main()
