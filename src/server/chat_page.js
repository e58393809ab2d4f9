// The chat page's chat: the conversation list, the settings of each conversation, and the
// streamed answers of /v1/chat/completions with their reasoning, tool calls and timings.
// Rendering of model text is page_render.js's (sanitized Markdown); storage is page_store.js's.
//
// While an answer streams, only that message is painted again, at most once per animation
// frame: deltas only change the message object, and paint() brings its view up to date.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(text, cls, onClick, title) {
  const b = el("button", cls, text);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

const state = Store.load();
const server = { model: "", context: 0 };  // from GET /v1/models
// The answer being streamed: {controller, conv, msg, view}. One at a time, in any conversation;
// view is null while its conversation is not the one shown.
let running = null;

const conv = () => state.conversations.find((c) => c.id === state.current);
const touch = (c) => { c.updated = Date.now(); };

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function persist() {
  const problem = Store.save(state);
  if (problem) notice(problem);
}

// ---- The conversation list ----

function renderSidebar() {
  const list = $("conversations");
  list.textContent = "";
  for (const c of [...state.conversations].sort((a, b) => b.updated - a.updated)) {
    const li = el("li");
    li.dataset.id = c.id;
    if (c.id === state.current) li.classList.add("current");
    const title = button(c.title, "conv-title", () => switchTo(c.id), c.title);
    const rename = button("\u270E", "icon rename", () => startRename(li, c), "Rename");
    // Delete asks for a second click rather than a confirm() dialog, which would block the page.
    const del = button("\u2715", "icon delete", () => {
      if (del.classList.contains("confirm")) return deleteConversation(c.id);
      del.classList.add("confirm");
      del.textContent = "Delete?";
      setTimeout(() => { del.classList.remove("confirm"); del.textContent = "\u2715"; }, 3000);
    }, "Delete");
    li.append(title, rename, del);
    list.appendChild(li);
  }
}

function startRename(li, c) {
  const input = el("input");
  input.value = c.title;
  li.textContent = "";
  li.appendChild(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (keep && title) {
      c.title = title;
      persist();
    }
    renderSidebar();
    $("title").textContent = conv().title;
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") finish(true);
    if (ev.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

function switchTo(id) {
  state.current = id;
  persist();
  renderAll();
  $("app").classList.remove("drawer-open");
}

function newChat() {
  const c = conv();
  if (c && !c.messages.length) return $("input").focus();  // this one is still empty
  const fresh = Store.newConversation(c ? c.settings : undefined);  // the last settings used
  state.conversations.push(fresh);
  switchTo(fresh.id);
  $("input").focus();
}

function deleteConversation(id) {
  if (running && running.conv.id === id) running.controller.abort();
  state.conversations = state.conversations.filter((c) => c.id !== id);
  if (!state.conversations.length) state.conversations.push(Store.newConversation());
  if (!conv()) state.current = [...state.conversations].sort((a, b) => b.updated - a.updated)[0].id;
  persist();
  renderAll();
}

// ---- Settings (per conversation; the API key is per browser) ----

function renderSettings() {
  const s = conv().settings;
  for (const input of document.querySelectorAll("[data-setting]")) input.value = s[input.dataset.setting] ?? "";
  checkExtra();
}

// The extra fields as an object, or throws saying what is wrong with them.
function extraFields(text) {
  if (!text.trim()) return {};
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new Error("More request fields: not JSON (" + e.message + ")"); }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("More request fields: expected a JSON object");
  return v;
}

function checkExtra() {
  const area = $("set-extra");
  try {
    extraFields(area.value);
    area.classList.remove("invalid");
    area.title = "";
  } catch (e) {
    area.classList.add("invalid");
    area.title = e.message;
  }
}

// ---- Messages ----

const prettyJson = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; } };

function toolCallCard(call) {
  const card = el("div", "tool-card call");
  const head = el("div", "tool-head");
  head.append("Tool call ", el("code", "tool-name", call.function.name), " ", el("span", "call-id", call.id));
  const code = el("code", "hljs language-json");
  code.innerHTML = Render.codeHtml(prettyJson(call.function.arguments), "json");
  const pre = el("pre");
  pre.appendChild(code);
  card.append(head, pre);
  return card;
}

function toolName(c, id) {
  for (const m of c.messages) for (const call of m.tool_calls || []) if (call.id === id) return call.function.name;
  return "tool";
}

function toolResultNode(c, m) {
  const div = el("div", "msg tool");
  const card = el("div", "tool-card result");
  const head = el("div", "tool-head");
  head.append("Result of ", el("code", "tool-name", toolName(c, m.tool_call_id)), " ", el("span", "call-id", m.tool_call_id));
  const pretty = prettyJson(m.content);
  const code = el("code", "hljs");
  code.innerHTML = Render.codeHtml(pretty, pretty === m.content ? "plaintext" : "json");
  const pre = el("pre");
  pre.appendChild(code);
  card.append(head, pre);
  div.appendChild(card);
  return div;
}

// Under an answer that asked for tools (the last message): a box per call for its result.
function toolAnswerForm(c, m) {
  const form = el("div", "tool-card tool-answer");
  const areas = m.tool_calls.map((call) => {
    const label = el("label", "", "Result of " + call.function.name + " (" + call.id + ")");
    const area = el("textarea");
    area.rows = 2;
    area.dataset.callId = call.id;
    form.append(label, area);
    return area;
  });
  form.appendChild(button("Send results", "send-results", () => {
    if (running) return;  // one answer at a time
    for (const area of areas) c.messages.push({ role: "tool", tool_call_id: area.dataset.callId, content: area.value });
    touch(c);
    persist();
    renderLog();
    generate();
  }));
  return form;
}

function statsText(m) {
  const s = m.stats || {};
  const parts = [];
  if (s.completion_tokens != null) parts.push(s.completion_tokens + " tokens");
  if (s.tokens_per_s) parts.push(s.tokens_per_s.toFixed(1) + " tok/s");
  if (s.ttft_ms != null) parts.push("first token " + (s.ttft_ms / 1000).toFixed(2) + " s");
  if (s.prompt_tokens != null) parts.push("prompt " + s.prompt_tokens + (s.cached_tokens ? " (" + s.cached_tokens + " cached)" : ""));
  if (m.finish === "length") {
    const full = server.context && s.prompt_tokens + s.completion_tokens >= server.context;
    parts.push(full ? "finish: length (the context is full)" : "finish: length (max tokens reached)");
  } else if (m.finish) {
    parts.push("finish: " + m.finish);
  } else if (!m.error) {
    parts.push(s.total_ms != null ? "stopped after " + (s.total_ms / 1000).toFixed(1) + " s" : "stopped");
  }
  return parts.join(" \u00b7 ");
}

function assistantView(c, m) {
  const div = el("div", "msg assistant");
  const body = el("div", "body");
  const details = el("details", "reasoning-block");
  const summary = el("summary");
  const reasoning = el("div", "reasoning");
  details.append(summary, reasoning);
  const answer = el("div", "answer md");
  const tools = el("div", "tool-calls");
  const error = el("div", "error-text");
  const meta = el("div", "meta");
  body.append(details, answer, tools, error, meta);
  const actions = el("div", "actions");
  div.append(body, actions);
  const view = { c, m, div, details, summary, reasoning, answer, tools, error, meta, actions,
                 md: new Render.MarkdownView(answer), shownReasoning: -1, shownContent: -1, shownCalls: "" };
  paint(view, running && running.msg === m);
  return view;
}

// Brings an answer's view up to date with its message; cheap when little changed.
function paint(view, streaming) {
  const { c, m } = view;
  view.div.dataset.state = streaming ? "streaming" : m.error ? "error" : m.finish ? "done" : "stopped";
  view.div.dataset.finish = m.finish || "";
  view.div.classList.toggle("error", !!m.error);
  const reasoning = m.reasoning || "";
  if (reasoning.length !== view.shownReasoning) {
    view.details.hidden = !reasoning;
    view.reasoning.textContent = reasoning;
    view.shownReasoning = reasoning.length;
    view.reasoningChars = Array.from(reasoning).length;  // characters, not UTF-16 units
  }
  const thinking = streaming && !m.content && !m.tool_calls;
  const secs = m.stats && m.stats.reasoning_ms != null ? (m.stats.reasoning_ms / 1000).toFixed(1) + " s, " : "";
  view.summary.textContent = thinking ? "Thinking\u2026" : "Reasoning (" + secs + view.reasoningChars + " characters)";
  if (m.content.length !== view.shownContent) {
    view.md.update(m.content);
    view.shownContent = m.content.length;
  }
  const calls = JSON.stringify(m.tool_calls || []);
  if (calls !== view.shownCalls) {
    view.tools.textContent = "";
    for (const call of m.tool_calls || []) view.tools.appendChild(toolCallCard(call));
    view.shownCalls = calls;
  }
  view.error.textContent = m.error || "";
  view.meta.textContent = streaming ? "" : statsText(m);
  view.actions.textContent = "";
  if (streaming) return;
  const last = c.messages[c.messages.length - 1] === m;
  if (last && m.tool_calls && m.tool_calls.length && m.finish === "tool_calls" && !running) {
    view.tools.appendChild(toolAnswerForm(c, m));
    view.shownCalls = "";  // the form is not part of the cards: rebuild next time
  }
  if (m.content) {
    const copy = button("Copy", "copy-message", async () => {
      copy.textContent = (await Render.copyText(m.content)) ? "Copied" : "Copy failed";
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    }, "Copy the answer as Markdown");
    view.actions.appendChild(copy);
  }
  if (last && !running) {
    view.actions.appendChild(button("Regenerate", "regenerate", () => {
      if (running) return;
      c.messages.pop();
      persist();
      renderLog();
      generate();
    }, "Ask again for this answer"));
  }
}

function userNode(c, m, i) {
  const div = el("div", "msg user");
  div.dataset.index = i;
  div.appendChild(el("div", "body", m.content));
  const actions = el("div", "actions");
  const lastUser = c.messages.findLastIndex((x) => x.role === "user") === i;
  if (lastUser && !running) actions.appendChild(button("Edit", "edit", () => startEdit(c, i, div), "Edit and send again"));
  div.appendChild(actions);
  return div;
}

// Edit-and-resend of the last user message: what came after it is dropped.
function startEdit(c, i, div) {
  const box = el("div", "edit-box");
  const area = el("textarea");
  area.value = c.messages[i].content;
  area.rows = Math.min(12, Math.max(2, area.value.split("\n").length));
  const actions = el("div", "actions");
  actions.append(button("Cancel", "cancel", renderLog), button("Send", "resend", () => {
    const text = area.value.trim();
    if (!text || running) return;
    c.messages.splice(i);
    c.messages.push({ role: "user", content: text });
    touch(c);
    persist();
    renderLog();
    generate();
  }));
  box.append(area, actions);
  div.textContent = "";
  div.appendChild(box);
  area.focus();
}

function renderLog() {
  const log = $("log");
  log.textContent = "";
  const c = conv();
  c.messages.forEach((m, i) => {
    if (m.role === "user") return log.appendChild(userNode(c, m, i));
    if (m.role === "tool") return log.appendChild(toolResultNode(c, m));
    const view = assistantView(c, m);
    if (running && running.msg === m) running.view = view;
    log.appendChild(view.div);
  });
  if (running && running.conv !== c) running.view = null;
  log.scrollTop = log.scrollHeight;
  updateControls();
}

// Only the last user message offers Edit, and only the last answer Regenerate: rebuilding the
// (plain-text) user messages and dropping stale buttons is cheaper than rendering the log again.
function refreshActions() {
  const c = conv();
  for (const div of $("log").querySelectorAll(".msg.user")) {
    const i = Number(div.dataset.index);
    div.replaceWith(userNode(c, c.messages[i], i));
  }
  if (running) for (const b of $("log").querySelectorAll(".regenerate, .tool-answer")) b.remove();
}

function updateContextUse() {
  const answers = conv().messages.filter((m) => m.role === "assistant" && m.stats && m.stats.prompt_tokens != null);
  const s = answers.length ? answers[answers.length - 1].stats : null;
  const used = s ? s.prompt_tokens + (s.completion_tokens || 0) : 0;
  $("context-use").textContent = s && server.context ? used + " / " + server.context + " tokens" : "";
  $("context-use").classList.toggle("bad", !!server.context && used >= 0.9 * server.context);
}

function updateControls() {
  $("send").hidden = !!running;
  $("stop").hidden = !running;
}

function renderAll() {
  renderSidebar();
  renderSettings();
  renderLog();
  updateContextUse();
  $("title").textContent = conv().title;
}

// ---- Talking to the server ----

function requestMessages(c) {
  const out = [];
  if (String(c.settings.system || "").trim()) out.push({ role: "system", content: c.settings.system });
  for (const m of c.messages) {
    if (m.role === "user") out.push({ role: "user", content: m.content });
    else if (m.role === "tool") out.push({ role: "tool", tool_call_id: m.tool_call_id, content: m.content });
    else if (m.content || (m.tool_calls && m.tool_calls.length)) {  // a failed, empty attempt is left out
      // The reasoning is not sent back: DeepSeek's models are trained to see only past answers.
      const a = { role: "assistant", content: m.content };
      if (m.tool_calls && m.tool_calls.length) a.tool_calls = m.tool_calls;
      out.push(a);
    }
  }
  return out;
}

function requestBody(c) {
  const s = c.settings;
  const number = (v) => (v === "" || v == null || isNaN(Number(v)) ? null : Number(v));
  const body = { messages: requestMessages(c), stream: true, stream_options: { include_usage: true } };
  if (server.model) body.model = server.model;
  if (number(s.temperature) != null) body.temperature = number(s.temperature);
  if (number(s.top_p) != null) body.top_p = number(s.top_p);
  if (number(s.max_tokens) != null) body.max_tokens = Math.round(number(s.max_tokens));
  if (number(s.seed) != null) body.seed = Math.round(number(s.seed));
  const extra = extraFields(String(s.extra || ""));
  delete extra.messages;  // the conversation is the page's
  delete extra.stream;
  return Object.assign(body, extra);
}

async function httpError(response) {
  let message = "", code = "";
  try {
    const j = await response.json();
    message = (j.error && j.error.message) || "";
    code = (j.error && j.error.code) || "";
  } catch (e) { /* not JSON */ }
  if (response.status === 401) return "The server needs an API key (Settings, API key)" + (message ? ": " + message : ".");
  if (code === "context_length_exceeded") {
    const hint = /max_tokens/.test(message) ? "Lower Max tokens in Settings (empty: the rest of the context)."
                                            : "Start a new chat, or edit the last message to be shorter.";
    return "The conversation does not fit in the model's context" + (server.context ? " (" + server.context + " tokens)" : "") +
      ": " + message + "\n" + hint;
  }
  return "The server refused the request (HTTP " + response.status + ")" + (message ? ": " + message : ".");
}

// Reads a server-sent-event stream, calling onData with each parsed "data:" payload. Returns
// true if the stream ended with [DONE], false if the connection closed before it.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;  // comments (": waiting") keep the line alive
        const data = line.slice(5).trim();
        if (data === "[DONE]") return true;
        onData(JSON.parse(data));
      }
    }
  }
}

// Tool-call deltas: the first of a call has its index, id and name; later ones add arguments.
function mergeToolCalls(m, deltas) {
  m.tool_calls = m.tool_calls || [];
  for (const d of deltas) {
    const i = d.index ?? m.tool_calls.length;
    const call = m.tool_calls[i] || (m.tool_calls[i] = { id: "", type: "function", function: { name: "", arguments: "" } });
    if (d.id) call.id = d.id;
    if (d.function && d.function.name) call.function.name += d.function.name;
    if (d.function && d.function.arguments) call.function.arguments += d.function.arguments;
  }
}

let paintPending = false;
let lastSave = 0;
function schedulePaint() {
  if (paintPending) return;
  paintPending = true;
  const run = () => {
    paintPending = false;
    if (!running || !running.view) return;
    const log = $("log");
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;  // follow only if at the end
    paint(running.view, true);
    if (stick) log.scrollTop = log.scrollHeight;
    if (performance.now() - lastSave > 2000) {  // a reload mid-answer keeps most of it
      lastSave = performance.now();
      persist();
    }
  };
  if (document.hidden) setTimeout(run, 200);  // no animation frames in a hidden tab
  else requestAnimationFrame(run);
}

const nextFrame = () => new Promise((resolve) => {
  requestAnimationFrame(() => resolve());
  setTimeout(resolve, 100);
});

async function generate() {
  const c = conv();
  let body;
  try {
    body = requestBody(c);
  } catch (e) {
    notice(e.message);
    return;
  }
  notice("");
  const m = { role: "assistant", content: "" };
  c.messages.push(m);
  touch(c);
  persist();
  const r = running = { controller: new AbortController(), conv: c, msg: m, view: null };
  if (conv() === c) {
    refreshActions();
    r.view = assistantView(c, m);
    r.view.details.open = true;  // the reasoning shows as it streams, then folds
    $("log").appendChild(r.view.div);
    $("log").scrollTop = $("log").scrollHeight;
  }
  updateControls();
  const t0 = performance.now();
  let tFirst = null, tContent = null, usage = null, finish = "";
  try {
    const headers = { "Content-Type": "application/json" };
    const key = $("api_key").value;
    if (key) headers.Authorization = "Bearer " + key;
    let response;
    try {
      response = await fetch("/v1/chat/completions",
                             { method: "POST", headers, body: JSON.stringify(body), signal: r.controller.signal });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new Error("Cannot reach the server at " + location.origin + ": it may have stopped, or the network is down (" + e.message + ").");
    }
    if (!response.ok) throw new Error(await httpError(response));
    let complete;
    try {
      complete = await readEvents(response, (chunk) => {
        if (chunk.error) throw new Error("The server stopped the answer: " + chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices && chunk.choices[0];
        if (!choice) return;
        const d = choice.delta || {};
        if (tFirst === null && (d.reasoning_content || d.content || d.tool_calls)) tFirst = performance.now();
        if (d.reasoning_content) m.reasoning = (m.reasoning || "") + d.reasoning_content;
        if (d.content) {
          if (tContent === null) tContent = performance.now();
          m.content += d.content;
        }
        if (d.tool_calls) mergeToolCalls(m, d.tool_calls);
        if (choice.finish_reason) finish = choice.finish_reason;
        schedulePaint();
      });
    } catch (e) {
      if (e.name === "AbortError" || /^The server stopped/.test(e.message)) throw e;
      if (e instanceof SyntaxError) throw new Error("The server sent an event that is not JSON (" + e.message + ").");
      throw new Error("The connection to the server broke during the answer (" + e.message + "): it may have stopped.");
    }
    if (!complete) throw new Error("The connection closed before the answer finished: the server may have stopped.");
    m.finish = finish;
  } catch (e) {
    if (e.name === "AbortError") m.stopped = true;  // Stop: the partial answer is kept
    else m.error = e.message || String(e);
  }
  const tEnd = performance.now();
  m.stats = { total_ms: Math.round(tEnd - t0) };
  if (tFirst !== null) m.stats.ttft_ms = Math.round(tFirst - t0);
  if (m.reasoning && tFirst !== null) m.stats.reasoning_ms = Math.round((tContent ?? tEnd) - tFirst);
  if (usage) {
    m.stats.prompt_tokens = usage.prompt_tokens;
    m.stats.completion_tokens = usage.completion_tokens;
    m.stats.cached_tokens = (usage.prompt_tokens_details && usage.prompt_tokens_details.cached_tokens) || 0;
    // Decode speed: the tokens after the first over the time after it (prefill excluded).
    if (tFirst !== null && usage.completion_tokens > 1 && tEnd > tFirst) {
      m.stats.tokens_per_s = (usage.completion_tokens - 1) / ((tEnd - tFirst) / 1000);
    }
  }
  touch(c);
  persist();
  if (r.view) {
    paint(r.view, true);
    await nextFrame();  // the last streamed state is seen before the reasoning folds
  }
  running = null;
  if (r.view) {
    r.view.details.open = false;
    paint(r.view, false);
  }
  if (conv() === c) refreshActions();  // Edit comes back
  updateContextUse();
  updateControls();
}

function send(text) {
  const c = conv();
  c.messages.push({ role: "user", content: text });
  if (c.title === "New chat") c.title = text.split("\n")[0].slice(0, 48);
  touch(c);
  persist();
  renderSidebar();
  $("title").textContent = c.title;
  $("log").appendChild(userNode(c, c.messages[c.messages.length - 1], c.messages.length - 1));
  generate();
}

async function loadModelInfo() {
  try {
    const r = await fetch("/v1/models");
    const m = (await r.json()).data[0];
    server.model = m.id;
    server.context = m.context_length || 0;
    $("model").textContent = m.id + (server.context ? " \u00b7 " + server.context + " ctx" : "");
    $("model").classList.remove("bad");
  } catch (e) {
    $("model").textContent = "server unreachable";
    $("model").classList.add("bad");
  }
  updateContextUse();
}

// ---- Wiring ----

$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("input").value.trim();
  if (!text || running) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => { if (running) running.controller.abort(); });
$("new-chat").addEventListener("click", newChat);
$("menu").addEventListener("click", () => $("app").classList.toggle("drawer-open"));
$("backdrop").addEventListener("click", () => $("app").classList.remove("drawer-open"));
$("settings-toggle").addEventListener("click", () => {
  const open = $("settings").hidden;
  $("settings").hidden = !open;
  $("settings-toggle").setAttribute("aria-expanded", String(open));
});
for (const input of document.querySelectorAll("[data-setting]")) {
  input.addEventListener("input", () => {
    conv().settings[input.dataset.setting] = input.value;
    if (input.id === "set-extra") checkExtra();
    persist();
  });
}
$("api_key").value = localStorage.getItem("gorae_api_key") || "";
$("api_key").addEventListener("change", () => localStorage.setItem("gorae_api_key", $("api_key").value));

// Copy buttons of code blocks: one listener for all, as blocks are re-rendered while streaming.
$("log").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button.copy-code");
  if (!b) return;
  const ok = await Render.copyText(b.closest(".code-block").querySelector("pre code").textContent);
  b.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => { b.textContent = "Copy"; }, 1500);
});

$("export").addEventListener("click", () => {
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([Store.exportJson(state.conversations)], { type: "application/json" }));
  a.download = "gorae-chats-" + new Date().toISOString().slice(0, 10) + ".json";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});
$("import-button").addEventListener("click", () => $("import").click());
$("import").addEventListener("change", async () => {
  const file = $("import").files[0];
  $("import").value = "";
  if (!file) return;
  try {
    const added = Store.importJson(await file.text(), state);
    state.conversations.push(...added);
    if (added.length) state.current = added[0].id;
    persist();
    renderAll();
    notice("");
  } catch (e) {
    notice("Could not import " + file.name + ": " + e.message);
  }
});

// Another tab of this page changed the conversations: take its version, unless answering.
window.addEventListener("storage", (ev) => {
  if (ev.key !== "gorae.chat.v1" || running) return;
  const fresh = Store.load();
  state.conversations = fresh.conversations;
  if (!conv()) state.current = fresh.current;
  renderAll();
});

renderAll();
loadModelInfo();
