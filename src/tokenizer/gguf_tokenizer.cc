// GGUF tokenizer metadata <-> tokenizer.json. Reading builds the tokenizer.json text that says
// the same thing and hands it to Tokenizer::FromJson, so there is one loader and one encoder;
// the same text is what `gorae convert` writes beside a model converted back from GGUF.
#include "tokenizer/gguf_tokenizer.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr char kModelKey[] = "tokenizer.ggml.model";
constexpr char kPreKey[] = "tokenizer.ggml.pre";
constexpr char kTokensKey[] = "tokenizer.ggml.tokens";
constexpr char kTypesKey[] = "tokenizer.ggml.token_type";
constexpr char kMergesKey[] = "tokenizer.ggml.merges";
constexpr char kBosKey[] = "tokenizer.ggml.bos_token_id";
constexpr char kEosKey[] = "tokenizer.ggml.eos_token_id";
constexpr char kPadKey[] = "tokenizer.ggml.padding_token_id";
constexpr char kAddBosKey[] = "tokenizer.ggml.add_bos_token";
constexpr char kAddEosKey[] = "tokenizer.ggml.add_eos_token";
constexpr char kChatTemplateKey[] = "tokenizer.chat_template";

// llama.cpp's token types (LLAMA_TOKEN_TYPE_*, gguf-py's TokenType).
enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// One row of llama.cpp's pre-tokenizer table (llama-vocab.cpp, llm_tokenizer_bpe), with the
// regexes as the models' tokenizer.json files spell them. Each regex is a Split with behaviour
// Isolated (llama.cpp's unicode_regex_split keeps matches and the text between them), then a
// ByteLevel step without prefix space.
struct PreSpec {
  std::string name;                  // what the writer puts in tokenizer.ggml.pre
  std::vector<std::string> aliases;  // other names llama.cpp reads as the same type
  std::vector<std::string> splits;
  bool gpt2_regex = false;     // ByteLevel(use_regex = true): GPT-2's own pattern, no Splits
  bool nfc = false;            // NFC normalizer (Qwen2's tokenizer.json has one)
  bool ignore_merges = false;  // a piece that is itself a vocab entry is not merged (Llama 3)
  bool add_bos = false;        // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
};

const std::vector<PreSpec>& PreSpecs() {
  static const std::vector<PreSpec> specs = [] {
    std::vector<PreSpec> s;
    s.push_back({"deepseek-v3", {}, {R"(\p{N}{1,3})", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                                     "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
                                     "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}});
    // The letter class of DeepSeek LLM's tokenizer.json (cased letters). Written with escapes
    // where NFC would change a character (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A):
    // copies that went through NFC turn "K-ℭ" into "K-ℭ" (most of the BMP) and break ranges.
    s.push_back({"deepseek-llm",
                 {},
                 {"[\r\n]",
                  "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-"
                  "\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳ"
                  "Ꙁ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb"
                  "\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+",
                  "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}});
    s.push_back({"qwen2",
                 {"deepseek-r1-qwen"},
                 {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
                 false, /*nfc=*/true});
    s.push_back({"llama-bpe",
                 {"llama3", "llama-v3"},
                 {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
                 false, false, /*ignore_merges=*/true, /*add_bos=*/true});
    s.push_back({"gpt-2", {"gpt2"}, {}, /*gpt2_regex=*/true});
    s.push_back({"default",
                 {},
                 {R"([\p{P}\$\+<=>\^~\|]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
                  R"(\p{N}+)", "[0-9][0-9][0-9]"}});
    return s;
  }();
  return specs;
}

std::string KnownPreNames() {
  std::string out;
  for (const PreSpec& s : PreSpecs()) {
    out += out.empty() ? "" : ", ";
    out += s.name;
    for (const auto& a : s.aliases) out += "/" + a;
  }
  return out;
}

const PreSpec* FindPreSpec(std::string_view name) {
  for (const PreSpec& s : PreSpecs()) {
    if (s.name == name) return &s;
    for (const auto& a : s.aliases)
      if (a == name) return &s;
  }
  return nullptr;
}

ojson ByteLevelJson(bool use_regex) {
  return ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

ojson PreTokenizerJson(const PreSpec& spec) {
  ojson steps = ojson::array();
  for (const std::string& re : spec.splits)
    steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
  steps.push_back(ByteLevelJson(spec.gpt2_regex));
  return ojson{{"type", "Sequence"}, {"pretokenizers", steps}};
}

// ---- pre-tokenizer recognition (writer) ----

// A canonical description of a flattened pre-tokenizer, one string per step, so two spellings
// of the same pipeline compare equal (nesting, trim_offsets, "\r" written raw or escaped).
std::string CanonicalRegex(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

template <typename Json>
void DescribePre(const Json& j, std::vector<std::string>* out) {
  if (j.is_null()) return;
  if (!j.is_object()) {
    out->push_back("?");
    return;
  }
  const std::string type = j.value("type", std::string());
  if (type == "Sequence" && j.contains("pretokenizers")) {
    for (const auto& e : j["pretokenizers"]) DescribePre(e, out);
  } else if (type == "Split") {
    const auto& p = j.value("pattern", Json::object());
    std::string pat = p.contains("Regex") ? "regex " + CanonicalRegex(p.value("Regex", std::string()))
                                          : "string " + p.value("String", std::string());
    out->push_back(fmt::format("Split({}, {}, invert={})", pat, j.value("behavior", std::string()),
                               j.value("invert", false)));
  } else if (type == "ByteLevel") {
    out->push_back(fmt::format("ByteLevel(add_prefix_space={}, use_regex={})", j.value("add_prefix_space", true),
                               j.value("use_regex", true)));
  } else if (type == "Digits") {
    out->push_back(fmt::format("Digits(individual_digits={})", j.value("individual_digits", false)));
  } else {
    out->push_back(type.empty() ? "?" : type);
  }
}

void DescribeNormalizer(const json& j, std::vector<std::string>* out) {
  if (j.is_null()) return;
  const std::string type = j.is_object() ? j.value("type", std::string()) : "?";
  if (type == "Sequence" && j.contains("normalizers")) {
    for (const auto& e : j["normalizers"]) DescribeNormalizer(e, out);
  } else {
    out->push_back(type);
  }
}

std::vector<std::string> DescribeSpec(const PreSpec& spec) {
  std::vector<std::string> out;
  DescribePre(PreTokenizerJson(spec), &out);
  return out;
}

// ---- small helpers ----

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IOError("{}: read failed", path);
  return ss.str();
}

Result<json> ParseJson(std::string_view text, const std::string& name) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return InvalidArgument("{}: invalid JSON: {}", name, e.what());
  }
}

// A JSON string literal for valid UTF-8 `s` (UTF-8 is kept; quote, backslash and control
// characters are escaped), without building a json value per token.
void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      *out += fmt::format("\\u{:04x}", c);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

// llama.cpp's convert_hf_to_gguf.py does_token_look_special.
bool LooksSpecial(std::string_view t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  auto wraps = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return wraps("<|", "|>") || wraps("<\uff5c", "\uff5c>") || wraps("<unused", ">");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GGUF -> tokenizer.json

constexpr char kNoVocabulary[] = "none";

bool GgufHasTokenizer(const GgufFile& file) {
  if (!file.Has(kModelKey)) return false;
  const auto model = file.GetString(kModelKey);
  return !model.ok() || *model != kNoVocabulary;
}

void MarkGgufWithoutTokenizer(GgufWriter* w) { w->SetString(kModelKey, kNoVocabulary); }

Result<HfTokenizerFiles> GgufToHfTokenizer(const GgufFile& f) {
  const std::string& path = f.path();
  if (!f.Has(kModelKey)) return NotFound("{}: no tokenizer in the file (key '{}' is missing)", path, kModelKey);
  GORAE_ASSIGN_OR_RETURN(std::string model, f.GetString(kModelKey));
  if (model == kNoVocabulary) {
    return NotFound("{}: no tokenizer in the file ({} is '{}', a model run from token ids)", path, kModelKey, model);
  }
  if (model != "gpt2") {
    const char* what = model == "llama" ? " (SentencePiece)"
                       : model == "bert" ? " (WordPiece)"
                       : model == "t5"   ? " (Unigram)"
                                         : "";
    return Unsupported("{}: {} '{}'{} is not supported: gorae reads byte-level BPE tokenizers ('gpt2')", path,
                       kModelKey, model, what);
  }
  std::string pre = "default";  // what llama.cpp assumes when the key is absent (old files)
  if (f.Has(kPreKey)) {
    GORAE_ASSIGN_OR_RETURN(pre, f.GetString(kPreKey));
  }
  const PreSpec* spec = FindPreSpec(pre);
  if (spec == nullptr)
    return Unsupported("{}: {} '{}' is not a pre-tokenizer gorae knows ({})", path, kPreKey, pre, KnownPreNames());

  if (!f.Has(kTokensKey)) return NotFound("{}: key '{}' is missing (the vocabulary)", path, kTokensKey);
  GORAE_ASSIGN_OR_RETURN(std::vector<std::string> tokens, f.GetStringArray(kTokensKey));
  if (tokens.empty()) return InvalidArgument("{}: {} is empty", path, kTokensKey);
  if (tokens.size() > 100'000'000) return InvalidArgument("{}: {} has {} entries", path, kTokensKey, tokens.size());
  std::vector<int64_t> types(tokens.size(), kNormal);  // llama.cpp: no types means all normal
  if (f.Has(kTypesKey)) {
    GORAE_ASSIGN_OR_RETURN(types, f.GetIntArray(kTypesKey));
    if (types.size() != tokens.size())
      return InvalidArgument("{}: {} has {} entries but {} has {}", path, kTypesKey, types.size(), kTokensKey,
                             tokens.size());
  }
  if (!f.Has(kMergesKey))
    return NotFound("{}: key '{}' is missing (a gpt2 tokenizer needs its merges)", path, kMergesKey);
  GORAE_ASSIGN_OR_RETURN(std::vector<std::string> merges, f.GetStringArray(kMergesKey));

  // Vocabulary: normal tokens. Control, unknown and user-defined tokens: added tokens.
  std::string vocab_text, added_text;
  std::unordered_map<std::string_view, int32_t> normal;
  normal.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (size_t bad = FindInvalidUtf8(t); bad != std::string::npos)
      return InvalidArgument("{}: {}[{}] is not valid UTF-8 (byte {})", path, kTokensKey, i, bad);
    const int64_t type = types[i];
    if (type == kUnused) continue;
    if (type == kByte)
      return Unsupported("{}: {}[{}] '{}' has token type 6 (byte), which SentencePiece vocabularies use; a gpt2 "
                         "vocabulary has none", path, kTokensKey, i, t);
    if (type < kNormal || type > kByte)
      return InvalidArgument("{}: {}[{}] = {}: expected a token type 1..6", path, kTypesKey, i, type);
    if (type == kNormal) {
      if (t.empty()) continue;  // llama.cpp renames it "[EMPTY_i]"; BPE can never produce it
      auto [it, fresh] = normal.emplace(t, static_cast<int32_t>(i));
      if (!fresh)
        return InvalidArgument("{}: {}[{}] '{}' repeats token {}", path, kTokensKey, i, t, it->second);
      vocab_text += vocab_text.empty() ? "\n" : ",\n";
      vocab_text += "      ";
      AppendJsonString(t, &vocab_text);
      vocab_text += fmt::format(": {}", i);
      continue;
    }
    if (t.empty()) return InvalidArgument("{}: {}[{}] is an empty added token", path, kTokensKey, i);
    const bool special = type != kUserDefined;
    // Control tokens are matched in the raw text; user-defined ones, like `tokenizers`' default
    // for non-special added tokens, in the normalized text (normalized=true).
    added_text += added_text.empty() ? "\n" : ",\n";
    added_text += fmt::format("    {{\"id\": {}, \"content\": ", i);
    AppendJsonString(t, &added_text);
    added_text += fmt::format(", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": {}, "
                              "\"special\": {}}}", special ? "false" : "true", special ? "true" : "false");
  }

  // Merges: "left right", split at the first space after the first byte as llama.cpp does.
  std::string merges_text;
  merges_text.reserve(merges.size() * 24);
  std::string merged;
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos)
      return InvalidArgument("{}: {}[{}] '{}': expected \"left right\"", path, kMergesKey, r, m);
    const std::string_view a = std::string_view(m).substr(0, sp), b = std::string_view(m).substr(sp + 1);
    merged.assign(a);
    merged += b;
    for (std::string_view part : {a, b, std::string_view(merged)}) {
      if (!normal.count(part))
        return InvalidArgument("{}: {}[{}] '{}' needs token '{}', which is not a normal token of {}", path,
                               kMergesKey, r, m, part, kTokensKey);
    }
    merges_text += merges_text.empty() ? "\n      [" : ",\n      [";
    AppendJsonString(a, &merges_text);
    merges_text += ", ";
    AppendJsonString(b, &merges_text);
    merges_text += "]";
  }

  // Special tokens, by id. BOS counts only when it is added (llama.cpp's add_bos): a Tokenizer
  // with a BOS puts it first (see tokenizer.h), a Qwen2 file names one but never adds it.
  auto special_name = [&](const char* key) -> Result<std::optional<std::string>> {
    if (!f.Has(key)) return std::optional<std::string>();
    GORAE_ASSIGN_OR_RETURN(uint32_t id, f.GetU32(key));
    if (id >= tokens.size())
      return InvalidArgument("{}: {} = {} is past the end of {} ({} tokens)", path, key, id, kTokensKey, tokens.size());
    if (types[id] == kUnused || tokens[id].empty()) return std::optional<std::string>();
    return std::optional<std::string>(tokens[id]);
  };
  GORAE_ASSIGN_OR_RETURN(auto bos, special_name(kBosKey));
  GORAE_ASSIGN_OR_RETURN(auto eos, special_name(kEosKey));
  GORAE_ASSIGN_OR_RETURN(auto pad, special_name(kPadKey));
  bool add_bos = spec->add_bos;
  if (f.Has(kAddBosKey)) {
    GORAE_ASSIGN_OR_RETURN(add_bos, f.GetBool(kAddBosKey));
  }
  std::optional<bool> add_eos;
  if (f.Has(kAddEosKey)) {
    GORAE_ASSIGN_OR_RETURN(add_eos, f.GetBool(kAddEosKey));
  }
  std::optional<std::string> chat_template;
  if (f.Has(kChatTemplateKey)) {
    GORAE_ASSIGN_OR_RETURN(chat_template, f.GetString(kChatTemplateKey));
  }
  const bool bos_added = add_bos && bos.has_value();

  // tokenizer.json. The post-processor adds BOS the way Llama 3's does, so `transformers` adds
  // it as llama.cpp would.
  ojson post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  if (bos_added) {
    const int64_t bos_id = f.GetU32(kBosKey).value();
    auto special = [](const std::string& t, int type_id) { return ojson{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}}; };
    auto seq = [](const char* s, int type_id) { return ojson{{"Sequence", {{"id", s}, {"type_id", type_id}}}}; };
    ojson tp = {{"type", "TemplateProcessing"},
                {"single", {special(*bos, 0), seq("A", 0)}},
                {"pair", {special(*bos, 0), seq("A", 0), special(*bos, 1), seq("B", 1)}},
                {"special_tokens", {{*bos, {{"id", *bos}, {"ids", {bos_id}}, {"tokens", {*bos}}}}}}};
    post = ojson{{"type", "Sequence"}, {"processors", {post, tp}}};
  }
  ojson normalizer = spec->nfc ? ojson{{"type", "NFC"}} : ojson(nullptr);
  ojson decoder = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};

  HfTokenizerFiles out;
  std::string& tj = out.tokenizer_json;
  tj.reserve(vocab_text.size() + merges_text.size() + added_text.size() + 4096);
  tj += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
  tj += added_text;
  tj += added_text.empty() ? "],\n" : "\n  ],\n";
  tj += "  \"normalizer\": " + normalizer.dump() + ",\n";
  tj += "  \"pre_tokenizer\": " + PreTokenizerJson(*spec).dump() + ",\n";
  tj += "  \"post_processor\": " + post.dump() + ",\n";
  tj += "  \"decoder\": " + decoder.dump() + ",\n";
  tj += fmt::format(
      "  \"model\": {{\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
      "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
      "    \"byte_fallback\": false,\n    \"ignore_merges\": {},\n    \"vocab\": {{",
      spec->ignore_merges);
  tj += vocab_text;
  tj += "\n    },\n    \"merges\": [";
  tj += merges_text;
  tj += "\n    ]\n  }\n}\n";

  // tokenizer_config.json
  ojson cfg = {{"add_bos_token", bos_added}};
  if (add_eos) cfg["add_eos_token"] = *add_eos;
  cfg["bos_token"] = bos_added ? ojson(*bos) : ojson(nullptr);
  cfg["eos_token"] = eos ? ojson(*eos) : ojson(nullptr);
  if (pad) cfg["pad_token"] = *pad;
  cfg["unk_token"] = nullptr;
  cfg["clean_up_tokenization_spaces"] = false;
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  if (chat_template) cfg["chat_template"] = *chat_template;
  try {
    out.tokenizer_config_json = cfg.dump(2) + "\n";
  } catch (const json::exception& e) {  // invalid UTF-8 in the chat template
    return InvalidArgument("{}: {}: {}", path, kChatTemplateKey, e.what());
  }
  return out;
}

Result<std::shared_ptr<const Tokenizer>> LoadGgufTokenizer(const GgufFile& file) {
  GORAE_ASSIGN_OR_RETURN(HfTokenizerFiles hf, GgufToHfTokenizer(file));
  return Tokenizer::FromJson(hf.tokenizer_json, hf.tokenizer_config_json, file.path() + " (tokenizer.ggml.*)");
}

Result<std::shared_ptr<const Tokenizer>> LoadGgufTokenizer(const std::string& gguf_path) {
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(gguf_path));
  return LoadGgufTokenizer(*file);
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json -> GGUF

Result<std::string> GgufPreTokenizerName(const json& j) {
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    return InvalidArgument("not a tokenizer.json (no \"model\" object)");
  const json& model = j["model"];
  if (model.value("type", std::string("BPE")) != "BPE")
    return Unsupported("model type '{}': GGUF's gpt2 tokenizer is byte-level BPE", model.value("type", std::string()));
  std::vector<std::string> pre, norm;
  static const json null_json;
  DescribePre(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : null_json, &pre);
  DescribeNormalizer(j.contains("normalizer") ? j["normalizer"] : null_json, &norm);
  const bool ignore_merges = model.value("ignore_merges", false);
  for (const PreSpec& spec : PreSpecs()) {
    const std::vector<std::string> want_norm = spec.nfc ? std::vector<std::string>{"NFC"} : std::vector<std::string>{};
    if (DescribeSpec(spec) == pre && norm == want_norm && ignore_merges == spec.ignore_merges) return spec.name;
  }
  std::string steps;
  for (const auto& s : pre) steps += (steps.empty() ? "" : ", ") + s;
  std::string norms;
  for (const auto& s : norm) norms += (norms.empty() ? "" : ", ") + s;
  return Unsupported(
      "its pre-tokenizer [{}] (normalizer [{}], ignore_merges {}) is none of the llama.cpp pre-tokenizers gorae "
      "writes ({}), so llama.cpp could not reproduce it",
      steps, norms, ignore_merges, KnownPreNames());
}

Result<GgufTokenizerWritten> AddTokenizerToGguf(std::string_view tokenizer_json, std::string_view config_json,
                                                const GgufTokenizerOptions& o, const std::string& name,
                                                GgufWriter* w) {
  GORAE_ASSIGN_OR_RETURN(auto tok, Tokenizer::FromJson(tokenizer_json, config_json, name));
  GORAE_ASSIGN_OR_RETURN(json j, ParseJson(tokenizer_json, name));
  json cfg = json::object();
  if (!config_json.empty()) {
    GORAE_ASSIGN_OR_RETURN(cfg, ParseJson(config_json, name + " (tokenizer_config.json)"));
  }
  auto pre = GgufPreTokenizerName(j);
  if (!pre.ok()) return Status(pre.status().code(), fmt::format("{}: {}", name, pre.status().message()));
  if (!tok->model().byte_level()) return Unsupported("{}: not a byte-level BPE tokenizer", name);

  const int64_t n_tok = tok->vocab_size();
  const int64_t n = o.vocab_size > 0 ? o.vocab_size : n_tok;
  if (n < n_tok)
    return InvalidArgument("{}: the tokenizer has ids up to {} but the model's vocab_size is {}", name, n_tok - 1, n);
  std::vector<std::string> tokens(n);
  std::vector<int64_t> types(n, kUnused);
  for (int64_t i = 0; i < n; ++i) tokens[i] = fmt::format("[PAD{}]", i);
  for (const auto& [text, id] : tok->model().token_to_id()) {
    tokens[id] = text;
    types[id] = kNormal;
  }
  GgufTokenizerWritten written;
  for (const AddedToken& a : tok->added_tokens()) {
    tokens[a.id] = a.content;  // as the converter does; a reader normalizes user-defined ones again
    types[a.id] = a.special || LooksSpecial(a.content) ? kControl : kUserDefined;
    if (a.lstrip || a.rstrip || a.single_word)
      written.lost.push_back(fmt::format("added token {} '{}': lstrip/rstrip/single_word have no GGUF key", a.id,
                                         a.content));
  }

  // Merges as gguf-py writes them: "left right"; pairs with a space inside a part get U+0120 for it.
  std::vector<std::string> merges;
  const json& jm = j["model"]["merges"];
  merges.reserve(jm.size());
  for (const auto& e : jm) {
    if (e.is_string()) {
      merges.push_back(e.get<std::string>());
    } else {
      std::string m;
      for (int k = 0; k < 2; ++k) {
        if (k) m += ' ';
        for (char c : e[k].get<std::string>()) m += c == ' ' ? std::string("\u0120") : std::string(1, c);
      }
      merges.push_back(std::move(m));
    }
  }

  w->SetString(kModelKey, "gpt2");
  w->SetString(kPreKey, *pre);
  w->SetStringArray(kTokensKey, tokens);
  w->SetIntArray(kTypesKey, GgufType::kI32, types);
  w->SetStringArray(kMergesKey, merges);
  auto set_id = [&](const char* key, int64_t id, int64_t fallback) {
    if (id < 0) id = fallback;
    if (id >= 0 && id < n) w->SetU32(key, static_cast<uint32_t>(id));
  };
  set_id(kBosKey, tok->bos_id(), o.config_bos_id);
  set_id(kEosKey, tok->eos_id(), o.config_eos_id);
  set_id(kPadKey, tok->pad_id(), o.config_pad_id);
  const json add_bos = cfg.value("add_bos_token", json());
  w->SetBool(kAddBosKey, add_bos.is_boolean() ? add_bos.get<bool>() : tok->bos_id() >= 0);
  const json add_eos = cfg.value("add_eos_token", json());
  if (add_eos.is_boolean()) w->SetBool(kAddEosKey, add_eos.get<bool>());

  // Chat template: a string, or named templates (gguf-py: the default one under the plain key,
  // the others under tokenizer.chat_template.<name>, their names in tokenizer.chat_templates).
  const json ct = cfg.value("chat_template", json());
  if (ct.is_string()) {
    w->SetString(kChatTemplateKey, ct.get<std::string>());
  } else if (ct.is_array()) {
    std::vector<std::string> names;
    for (const auto& e : ct) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["template"].is_string()) continue;
      std::string nm = e["name"].is_string() ? e["name"].get<std::string>() : std::string();
      for (char& c : nm)  // gguf-py keeps [A-Za-z0-9] in template names
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      if (nm.empty()) continue;
      if (nm == "default") {
        w->SetString(kChatTemplateKey, e["template"].get<std::string>());
      } else {
        w->SetString(std::string(kChatTemplateKey) + "." + nm, e["template"].get<std::string>());
        names.push_back(nm);
      }
    }
    if (!names.empty()) w->SetStringArray("tokenizer.chat_templates", names);
  }
  written.pre = *pre;
  written.tokens = n;
  written.merges = static_cast<int64_t>(merges.size());
  return written;
}

Result<GgufTokenizerWritten> AddTokenizerToGguf(const std::string& model_dir, const GgufTokenizerOptions& o,
                                                GgufWriter* w) {
  const std::string tj = model_dir + "/tokenizer.json";
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadFile(tj));
  std::string config;
  const std::string cj = model_dir + "/tokenizer_config.json";
  if (std::ifstream(cj).good()) {
    GORAE_ASSIGN_OR_RETURN(config, ReadFile(cj));
  }
  return AddTokenizerToGguf(text, config, o, tj, w);
}

}  // namespace gorae::tokenizer
