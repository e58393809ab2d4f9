// gorae_page_embed: a build-time tool that writes the chat page, with every script and style it
// needs inlined, as one C++ source file defining gorae::server::ChatPageHtml().
//
//   gorae_page_embed OUT.cc TEMPLATE.html NAME=KIND:PATH ...
//
// Each "@embed(NAME)@" in the template is replaced by the file at PATH, prepared for where it
// goes by KIND:
//   js         inside <script>: "</script" and "<!--" are written "\x3C/script" and "\x3C!--"
//              (the same characters in a JS string, regex or template literal, where they can
//              only occur), so the HTML parser cannot end or "escape" the script early;
//   css        inside <style>: refused if it contains "</style";
//   css-fonts  css, with each url(REL.woff2) found next to the file made a data: URI and the
//              woff/ttf fallbacks after it dropped (every browser that runs the page reads woff2);
//   hljs(a,b)  js: highlight.js 9's one-file build (its core, then one
//              hljs.registerLanguage("name", ...); per language) cut down to languages a, b, ...:
//              all 185 are 846 KB, a chat's usual ones a fifth of that. A file not laid out so
//              goes in whole, with a warning.
// Every placeholder must have an asset and every asset a placeholder, so a typo fails the
// build instead of shipping a page without its Markdown renderer.
//
// The page goes out as ordinary string literals, printable ASCII as is and everything else as
// 3-digit octal escapes (which, unlike \x, cannot swallow a following character): this needs
// no raw-string delimiter that the libraries' text might contain, and compiles fast at any size.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "gorae_page_embed: %s\n", what.c_str());
  std::exit(1);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) Fail("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

// Replaces every occurrence of `from` (ASCII case-insensitive) with `to`.
std::string ReplaceAllNoCase(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool hit = i + from.size() <= text.size();
    for (size_t k = 0; hit && k < from.size(); ++k) hit = std::tolower(static_cast<unsigned char>(text[i + k])) == from[k];
    if (hit) {
      out += to;
      i += from.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string InlineFonts(const std::string& css, const fs::path& dir) {
  // KaTeX's rules read src:url(fonts/X.woff2) format('woff2'),url(fonts/X.woff) format('woff'),...
  const std::string no_fallbacks =
      std::regex_replace(css, std::regex(R"(,\s*url\([^)]*\.(woff|ttf)\)\s*format\(['"][a-z]+['"]\))"), "");
  const std::regex woff2(R"(url\(['"]?([^)'"]+\.woff2)['"]?\))");
  std::string out;
  auto last = no_fallbacks.cbegin();
  for (std::sregex_iterator it(no_fallbacks.begin(), no_fallbacks.end(), woff2), end; it != end; ++it) {
    out.append(last, (*it)[0].first);
    out += "url(data:font/woff2;base64," + Base64(ReadFile(dir / (*it)[1].str())) + ")";
    last = (*it)[0].second;
  }
  out.append(last, no_fallbacks.cend());
  return out;
}

std::string HljsSubset(const std::string& text, const std::string& list, const fs::path& path) {
  const std::string marker = "hljs.registerLanguage(\"";
  std::vector<size_t> starts;
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) starts.push_back(at);
  if (starts.empty()) {
    std::fprintf(stderr, "gorae_page_embed: warning: %s is not highlight.js 9's one-file build; embedding all of it\n",
                 path.c_str());
    return text;
  }
  std::map<std::string, std::string> languages;  // name -> its registerLanguage statement
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t name_end = text.find('"', starts[i] + marker.size());
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    languages[text.substr(starts[i] + marker.size(), name_end - starts[i] - marker.size())] =
        text.substr(starts[i], end - starts[i]);
  }
  std::string out = text.substr(0, starts[0]);  // the core
  std::stringstream names(list);
  for (std::string name; std::getline(names, name, ',');) {
    const auto it = languages.find(name);
    if (it == languages.end()) {
      std::fprintf(stderr, "gorae_page_embed: warning: %s has no language '%s'\n", path.c_str(), name.c_str());
      continue;
    }
    out += it->second;
  }
  return out;
}

std::string EscapeScript(const std::string& js) {
  return ReplaceAllNoCase(ReplaceAllNoCase(js, "</script", "\\x3C/script"), "<!--", "\\x3C!--");
}

std::string Prepare(const std::string& kind, const fs::path& path) {
  const std::string text = ReadFile(path);
  if (kind == "js") return EscapeScript(text);
  if (kind.rfind("hljs(", 0) == 0 && kind.back() == ')') return EscapeScript(HljsSubset(text, kind.substr(5, kind.size() - 6), path));
  if (kind != "css" && kind != "css-fonts") Fail("unknown kind '" + kind + "' for " + path.string() + " (js, css, css-fonts, hljs(...))");
  if (ReplaceAllNoCase(text, "</style", "") != text) Fail(path.string() + " contains \"</style\"");
  return kind == "css" ? text : InlineFonts(text, path.parent_path());
}

// The page as C++ string literals, one per source line of at most ~160 characters.
std::string CppLiterals(const std::string& bytes) {
  std::string out = "\"";
  size_t line = 0;
  for (unsigned char c : bytes) {
    const size_t before = out.size();
    if (c == '"' || c == '\\' || c == '?') {  // '?': no trigraphs, whatever the language mode
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03o", c);
      out += esc;
    }
    line += out.size() - before;
    if (c == '\n' || line >= 160) {
      out += "\"\n    \"";
      line = 0;
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Fail("usage: gorae_page_embed OUT.cc TEMPLATE.html NAME=KIND:PATH ...");
  std::map<std::string, std::pair<std::string, fs::path>> assets;  // name -> (kind, path)
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('='), colon = arg.find(':', eq);
    if (eq == std::string::npos || colon == std::string::npos) Fail("expected NAME=KIND:PATH, got '" + arg + "'");
    assets[arg.substr(0, eq)] = {arg.substr(eq + 1, colon - eq - 1), arg.substr(colon + 1)};
  }

  const std::string tmpl = ReadFile(argv[2]);
  const std::regex placeholder(R"(@embed\(([A-Za-z0-9_]+)\)@)");
  std::string page, sizes;
  std::map<std::string, bool> used;
  auto last = tmpl.cbegin();
  for (std::sregex_iterator it(tmpl.begin(), tmpl.end(), placeholder), end; it != end; ++it) {
    const std::string name = (*it)[1].str();
    const auto a = assets.find(name);
    if (a == assets.end()) Fail(std::string(argv[2]) + " embeds '" + name + "', which was not given");
    page.append(last, (*it)[0].first);
    const std::string text = Prepare(a->second.first, a->second.second);
    page += text;
    used[name] = true;
    sizes += "//   " + name + ": " + a->second.second.string() + " (" + a->second.first + "), " +
             std::to_string(text.size()) + " bytes\n";
    last = (*it)[0].second;
  }
  page.append(last, tmpl.cend());
  for (const auto& [name, a] : assets) {
    if (!used.count(name)) Fail(std::string(argv[2]) + " has no @embed(" + name + ")@ for " + a.second.string());
  }

  std::ofstream out(argv[1], std::ios::binary);
  out << "// Generated at build time by gorae_page_embed (src/server/page_embed/) from\n// " << argv[2]
      << " and these files: do not edit.\n"
      << sizes << "// The whole page: " << page.size() << " bytes.\n"
      << "#include \"server/chat_page.h\"\n\nnamespace gorae::server {\n\nnamespace {\nconstexpr char kPage[] =\n    "
      << CppLiterals(page) << ";\n}  // namespace\n\n"
      << "std::string_view ChatPageHtml() { return {kPage, sizeof(kPage) - 1}; }\n\n}  // namespace gorae::server\n";
  if (!out.good()) Fail(std::string("cannot write ") + argv[1]);
  return 0;
}
