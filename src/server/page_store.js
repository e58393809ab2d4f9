// The chat page's conversations, kept in this browser's localStorage (never on the server), and
// their export and import as JSON.
//
// One key holds everything: {version: 1, current: id, conversations: [conversation]}, with
//   conversation = {id, title, created, updated, settings, messages: [message]}
//   settings     = {system, temperature, top_p, max_tokens, seed, extra}   (extra: JSON text of
//                  more request fields, e.g. {"tools": [...], "top_k": 40})
//   message      = {role: "user" | "assistant" | "tool", content, and for answers: reasoning,
//                  tool_calls, finish, stopped, error, stats; for tool results: tool_call_id}
// An export is {format: "gorae-chat", version: 1, conversations: [...]}; an import also takes
// one conversation or a list of them, and gives new ids to any that clash.
"use strict";

const Store = (() => {
  const KEY = "gorae.chat.v1";
  const DEFAULT_SETTINGS = { system: "", temperature: 0.7, top_p: 1, max_tokens: "", seed: "", extra: "" };
  const ROLES = new Set(["user", "assistant", "tool"]);

  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);

  function newConversation(settings) {
    const now = Date.now();
    return { id: newId(), title: "New chat", created: now, updated: now,
             settings: Object.assign({}, DEFAULT_SETTINGS, settings || {}), messages: [] };
  }

  // Checks one message read from storage or a file; returns a clean copy or throws.
  function cleanMessage(m, where) {
    if (!m || typeof m !== "object" || !ROLES.has(m.role)) throw new Error(where + ": role must be user, assistant or tool");
    const out = { role: m.role, content: m.content == null ? "" : String(m.content) };
    if (typeof m.reasoning === "string") out.reasoning = m.reasoning;
    else if (typeof m.reasoning_content === "string") out.reasoning = m.reasoning_content;  // an API message
    if (Array.isArray(m.tool_calls)) {
      out.tool_calls = m.tool_calls.map((c, i) => {
        const f = (c && c.function) || {};
        if (typeof f.name !== "string") throw new Error(where + ": tool_calls[" + i + "] has no function name");
        return { id: String(c.id || "call_" + i), type: "function",
                 function: { name: f.name, arguments: typeof f.arguments === "string" ? f.arguments : JSON.stringify(f.arguments || {}) } };
      });
    }
    if (m.role === "tool") out.tool_call_id = String(m.tool_call_id || "");
    for (const k of ["finish", "error"]) if (typeof m[k] === "string") out[k] = m[k];
    if (m.stopped === true) out.stopped = true;
    if (m.stats && typeof m.stats === "object") out.stats = m.stats;
    return out;
  }

  function cleanConversation(c, where) {
    if (!c || typeof c !== "object" || !Array.isArray(c.messages)) throw new Error(where + ": expected an object with messages");
    const out = newConversation(c.settings && typeof c.settings === "object" ? c.settings : {});
    if (typeof c.id === "string" && c.id) out.id = c.id;
    if (typeof c.title === "string" && c.title) out.title = c.title;
    if (typeof c.created === "number") out.created = c.created;
    if (typeof c.updated === "number") out.updated = c.updated;
    out.messages = c.messages.map((m, i) => cleanMessage(m, where + " message " + (i + 1)));
    return out;
  }

  function load() {
    let state = null;
    try {
      const raw = JSON.parse(localStorage.getItem(KEY) || "null");
      if (raw && raw.version === 1 && Array.isArray(raw.conversations)) {
        state = { current: raw.current, conversations: [] };
        raw.conversations.forEach((c, i) => {
          try { state.conversations.push(cleanConversation(c, "conversation " + (i + 1))); } catch (e) { console.warn(e); }
        });
      }
    } catch (e) {
      console.warn("gorae: stored conversations unreadable, starting afresh", e);
    }
    if (!state) state = { current: null, conversations: [] };
    if (!state.conversations.length) state.conversations.push(newConversation());
    if (!state.conversations.some((c) => c.id === state.current)) state.current = state.conversations[0].id;
    return state;
  }

  // Returns "" or a message saying why it could not be saved (the quota, usually ~5 MB).
  function save(state) {
    try {
      localStorage.setItem(KEY, JSON.stringify({ version: 1, current: state.current, conversations: state.conversations }));
      return "";
    } catch (e) {
      return "Could not save the conversations in this browser (" + e.name + "): export them, then delete some.";
    }
  }

  function exportJson(conversations) {
    return JSON.stringify({ format: "gorae-chat", version: 1, exported: new Date().toISOString(), conversations }, null, 2);
  }

  // Parses an exported file; returns the conversations to add (ids made unique against `state`).
  function importJson(text, state) {
    let data;
    try { data = JSON.parse(text); } catch (e) { throw new Error("not JSON: " + e.message); }
    const list = Array.isArray(data) ? data : Array.isArray(data && data.conversations) ? data.conversations : [data];
    const taken = new Set(state.conversations.map((c) => c.id));
    return list.map((c, i) => {
      const conv = cleanConversation(c, "conversation " + (i + 1));
      if (taken.has(conv.id)) conv.id = newId();
      taken.add(conv.id);
      return conv;
    });
  }

  return { DEFAULT_SETTINGS, newConversation, load, save, exportJson, importJson };
})();
