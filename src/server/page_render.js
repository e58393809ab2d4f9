// The chat page's rendering of model output: Markdown (marked) with highlighted code
// (highlight.js) and math (KaTeX), always put through DOMPurify before it touches the DOM,
// because the model's text is untrusted: a prompt-injected answer must not run script.
//
// Raw HTML in an answer is shown as text, not rendered: models write "<div>" in prose when they
// talk about HTML, and showing what they wrote is both more faithful and safer. Images become
// links, so that a page with no network makes no requests to other hosts unless clicked.
"use strict";

const Render = (() => {
  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // Auto-detection (a fence without a language) only among languages a chat is likely to show:
  // trying all 185 on every streamed frame would cost tens of milliseconds.
  hljs.configure({
    hideUpgradeWarningAcceptNoSupportOrSecurityUpdates: true,  // Debian ships 9.18; no console noise
    languages: ["python", "javascript", "typescript", "bash", "shell", "cpp", "c", "java", "go", "rust",
                "json", "yaml", "xml", "css", "sql", "markdown", "plaintext"],
  });

  function highlight(code, lang) {
    try {
      if (lang && hljs.getLanguage(lang)) return hljs.highlight(lang, code, true).value;
      return hljs.highlightAuto(code).value;
    } catch (e) {
      return escapeHtml(code);
    }
  }

  function math(tex, display) {
    // throwOnError false: a half-streamed or wrong formula shows as red source, not an exception.
    // trust stays false (the default), so \href, \url and \html* are refused.
    return katex.renderToString(tex, { displayMode: display, throwOnError: false, maxExpand: 500, maxSize: 20 });
  }

  const renderer = {};  // overrides of marked's renderer (marked.use wraps each)
  renderer.code = (code, infostring) => {
    const lang = (infostring || "").match(/\S*/)[0];
    return '<div class="code-block"><div class="code-head"><span class="code-lang">' + escapeHtml(lang || "code") +
      '</span><button type="button" class="copy-code">Copy</button></div><pre><code class="hljs' +
      (lang ? " language-" + escapeHtml(lang) : "") + '">' + highlight(code.replace(/\n$/, ""), lang) + "</code></pre></div>";
  };
  renderer.html = (html) => escapeHtml(html);
  renderer.image = (href, title, text) =>
    '<a href="' + escapeHtml(href || "") + '">' + escapeHtml(text || href || "image") + "</a>";

  // Math: $...$ and \(...\) inline, $$...$$ and \[...\] displayed. A "$" needs a non-space after
  // the opening one and before the closing one, and no digit after it (Pandoc's rule), so that
  // "$5 and $10" stays prose.
  const mathExtensions = [
    {
      name: "mathBlock", level: "block",
      start: (src) => { const m = src.match(/\$\$|\\\[/); return m ? m.index : undefined; },
      tokenizer(src) {
        const m = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n|$)/.exec(src);
        if (m) return { type: "mathBlock", raw: m[0], text: (m[1] || m[2]).trim() };
      },
      renderer: (token) => '<div class="math-block">' + math(token.text, true) + "</div>",
    },
    {
      name: "mathInline", level: "inline",
      start: (src) => { const m = src.match(/\$|\\\(/); return m ? m.index : undefined; },
      tokenizer(src) {
        let m = /^\$\$([^$]+?)\$\$/.exec(src);
        if (m) return { type: "mathInline", raw: m[0], text: m[1], display: true };
        m = /^\\\(([\s\S]+?)\\\)/.exec(src) || /^\$(?![\s$])((?:\\.|[^\\$\n])*?[^\s\\$])\$(?!\d)/.exec(src);
        if (m) return { type: "mathInline", raw: m[0], text: m[1], display: false };
      },
      renderer: (token) => math(token.text, token.display),
    },
  ];
  marked.use({ renderer, extensions: mathExtensions, gfm: true, headerIds: false, mangle: false });

  // KaTeX writes MathML (<semantics>, <annotation>) beside its HTML for screen readers.
  const PURIFY = { ADD_TAGS: ["semantics", "annotation"], ADD_ATTR: ["encoding"] };
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A" && node.getAttribute("href")) {  // links open beside the chat
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });

  // Markdown -> sanitized HTML (a string), for whole texts.
  function markdownHtml(text) {
    return DOMPurify.sanitize(marked.parse(text), PURIFY);
  }

  // Code -> sanitized highlighted HTML (tool-call arguments, tool results).
  function codeHtml(code, lang) {
    return DOMPurify.sanitize(highlight(code, lang), PURIFY);
  }

  // A message's Markdown kept in step with a growing text. The text is split into top-level
  // blocks (marked's lexer, which is cheap); a block whose source is unchanged keeps its DOM, so
  // while an answer streams only its last block or two are rendered again, and a reader's
  // selection or scroll inside earlier blocks survives. Each block is a "display: contents" div,
  // so the wrappers do not change the layout.
  class MarkdownView {
    constructor(el) {
      this.el = el;
      this.blocks = [];  // [{raw, node}], in document order
    }

    update(text) {
      // marked takes a fence for code only once a newline follows its last line; while an answer
      // streams, that line is usually unfinished, and the block would flip between code and
      // paragraph token by token. A final newline changes nothing else.
      const tokens = marked.lexer(text.endsWith("\n") ? text : text + "\n");
      let keep = 0;
      while (keep < tokens.length && keep < this.blocks.length && this.blocks[keep].raw === tokens[keep].raw) keep++;
      for (const b of this.blocks.splice(keep)) b.node.remove();
      for (let i = keep; i < tokens.length; i++) {
        const one = [tokens[i]];
        one.links = tokens.links;  // reference-style links defined anywhere in the text
        const node = document.createElement("div");
        node.className = "blk";
        node.innerHTML = DOMPurify.sanitize(marked.parser(one), PURIFY);
        this.el.appendChild(node);
        this.blocks.push({ raw: tokens[i].raw, node });
      }
    }
  }

  // Copies text to the clipboard: the Clipboard API where the page is a secure context
  // (http://127.0.0.1 or localhost), else the older execCommand (a LAN address over http).
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) { /* permission refused: try the old way */ }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  return { escapeHtml, markdownHtml, codeHtml, MarkdownView, copyText };
})();
