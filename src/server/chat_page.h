// The self-contained chat page (HTML, CSS and JavaScript in one document, no external assets,
// so it works offline). Source: chat_page.html, compiled in by CMake.
#pragma once

#include <string_view>

namespace gorae::server {

std::string_view ChatPageHtml();

}  // namespace gorae::server
