// The chat page served at GET /: one self-contained document (its scripts, styles and fonts
// inlined, no external assets, so it works offline). Sources: chat_page.html, chat_page.css,
// page_render.js, page_store.js, chat_page.js and the Debian packages of marked, DOMPurify,
// highlight.js and KaTeX, put together at build time by gorae_page_embed (page_embed/).
#pragma once

#include <string_view>

namespace gorae::server {

std::string_view ChatPageHtml();

}  // namespace gorae::server
