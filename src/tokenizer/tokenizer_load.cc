// Reading tokenizer.json and tokenizer_config.json into a Tokenizer.
#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/json_field.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

using nlohmann::json;

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
    // e.byte is the 1-based offset of the error; give a line number as well.
    size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    size_t line = 1 + std::count(text.begin(), text.begin() + std::min(byte, text.size()), '\n');
    return InvalidArgument("{}: invalid JSON at line {} (byte {}): {}", name, line, e.byte, e.what());
  }
}

// A special token in tokenizer_config.json is a string or {"content": ...} (AddedToken).
std::optional<std::string> TokenName(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return std::nullopt;
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

Status ParseAddedTokens(const json& j, const std::string& where, std::vector<AddedToken>* out) {
  if (j.is_null()) return Status::Ok();
  if (!j.is_array()) return InvalidArgument("{}: expected an array", where);
  for (size_t i = 0; i < j.size(); ++i) {
    const json& t = j[i];
    std::string w = fmt::format("{}[{}]", where, i);
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string())
      return InvalidArgument("{}: expected an object with integer \"id\" and string \"content\"", w);
    AddedToken a;
    int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id > 100'000'000) return InvalidArgument("{}.id: {} is out of range", w, id);
    a.id = static_cast<int32_t>(id);
    a.content = t["content"].get<std::string>();
    GORAE_RETURN_IF_ERROR(ReadOptionalField(t, "special", w, &a.special));
    GORAE_RETURN_IF_ERROR(ReadOptionalField(t, "lstrip", w, &a.lstrip));
    GORAE_RETURN_IF_ERROR(ReadOptionalField(t, "rstrip", w, &a.rstrip));
    GORAE_RETURN_IF_ERROR(ReadOptionalField(t, "single_word", w, &a.single_word));
    a.normalized = !a.special;
    GORAE_RETURN_IF_ERROR(ReadOptionalField(t, "normalized", w, &a.normalized));
    out->push_back(std::move(a));
  }
  return Status::Ok();
}

}  // namespace

Status Tokenizer::Init(std::string_view tokenizer_json, std::string_view config_json, const std::string& name) {
  GORAE_ASSIGN_OR_RETURN(json j, ParseJson(tokenizer_json, name));
  if (!j.is_object()) return InvalidArgument("{}: expected a JSON object at top level", name);
  if (!j.contains("model")) return InvalidArgument("{}: missing field \"model\"", name);

  auto field = [&](const char* key) -> const json& {
    static const json null_json;
    return j.contains(key) ? j[key] : null_json;
  };
  GORAE_ASSIGN_OR_RETURN(normalizer_, Normalizer::FromJson(field("normalizer"), name + ": normalizer"));
  GORAE_ASSIGN_OR_RETURN(pre_tokenizer_, PreTokenizer::FromJson(field("pre_tokenizer"), name + ": pre_tokenizer"));
  GORAE_ASSIGN_OR_RETURN(model_, BpeModel::FromJson(j["model"], name + ": model", pre_tokenizer_.byte_level));
  GORAE_RETURN_IF_ERROR(ParseAddedTokens(field("added_tokens"), name + ": added_tokens", &added_));

  // Decoder: only ByteLevel (every supported tokenizer is byte-level).
  const json& dec = field("decoder");
  std::string dec_type = dec.is_object() ? dec.value("type", std::string()) : std::string();
  if (dec_type != "ByteLevel")
    return Unsupported("{}: decoder: type '{}' is not supported (only ByteLevel)", name,
                       dec.is_null() ? std::string("null") : dec_type);

  // Post-processor: ByteLevel (offsets only) or a TemplateProcessing whose single-sequence
  // template is [BOS, $A] (Llama 3). Its BOS is what add_bos puts first.
  std::string template_bos;
  const json& post = field("post_processor");
  std::function<Status(const json&, const std::string&)> parse_post = [&](const json& p, const std::string& w) -> Status {
    if (p.is_null()) return Status::Ok();
    std::string type = p.is_object() ? p.value("type", std::string()) : std::string();
    if (type == "ByteLevel") return Status::Ok();
    if (type == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
      for (size_t i = 0; i < p["processors"].size(); ++i)
        GORAE_RETURN_IF_ERROR(parse_post(p["processors"][i], fmt::format("{}.processors[{}]", w, i)));
      return Status::Ok();
    }
    if (type == "TemplateProcessing" && p.contains("single") && p["single"].is_array()) {
      const json& single = p["single"];
      bool ok = !single.empty() && single.back().contains("Sequence");
      for (size_t i = 0; ok && i + 1 < single.size(); ++i) {
        ok = single[i].contains("SpecialToken") && i == 0;
        if (ok) template_bos = single[i]["SpecialToken"].value("id", std::string());
      }
      if (ok) return Status::Ok();
      return Unsupported("{}: only the templates '$A' and '<bos> $A' are supported", w);
    }
    return Unsupported("{}: post-processor type '{}' is not supported", w, type);
  };
  GORAE_RETURN_IF_ERROR(parse_post(post, name + ": post_processor"));

  // Ids: the model vocabulary, then added tokens (which may reuse vocab ids).
  const auto& vocab = model_.id_to_token();
  int32_t max_id = static_cast<int32_t>(vocab.size()) - 1;
  for (const auto& a : added_) max_id = std::max(max_id, a.id);
  id_bytes_.assign(max_id + 1, std::string());
  id_flags_.assign(max_id + 1, 0);
  for (const auto& [tok, id] : model_.token_to_id()) {
    id_flags_[id] |= 1;
    // The ByteLevel decoder maps a token through the alphabet, or keeps its UTF-8 text when
    // it holds characters outside the alphabet (e.g. special tokens kept in the vocab).
    auto raw = ByteLevelToBytes(tok);
    id_bytes_[id] = raw ? *raw : tok;
  }
  std::vector<const AddedToken*> raw_tokens, normalized_tokens;
  for (auto& a : added_) {
    id_flags_[a.id] |= 1;
    if (a.special) id_flags_[a.id] |= 2;
    // `tokenizers` runs normalized tokens through the normalizer before matching them, and
    // id_to_token / decode give that normalized form too.
    a.pattern = a.normalized ? normalizer_.Apply(a.content) : a.content;
    auto raw = ByteLevelToBytes(a.pattern);
    id_bytes_[a.id] = raw ? *raw : a.pattern;
    (a.normalized ? normalized_tokens : raw_tokens).push_back(&a);
  }
  raw_matcher_.Build(raw_tokens);
  normalized_matcher_.Build(normalized_tokens);

  // tokenizer_config.json: special-token names and the chat template.
  json cfg = json::object();
  if (!config_json.empty()) {
    GORAE_ASSIGN_OR_RETURN(cfg, ParseJson(config_json, name + " (tokenizer_config.json)"));
    if (!cfg.is_object()) return InvalidArgument("tokenizer_config.json: expected a JSON object");
  }
  auto lookup = [&](const std::optional<std::string>& s) -> int32_t {
    if (!s) return -1;
    auto id = TokenToId(*s);
    return id ? *id : -1;
  };
  auto bos_name = TokenName(cfg, "bos_token");
  if (!bos_name && !template_bos.empty()) bos_name = template_bos;
  bos_id_ = lookup(bos_name);
  if (bos_id_ >= 0) bos_token_ = *bos_name;
  auto eos_name = TokenName(cfg, "eos_token");
  eos_id_ = lookup(eos_name);
  if (eos_id_ >= 0) eos_token_ = *eos_name;
  pad_id_ = lookup(TokenName(cfg, "pad_token"));
  eot_id_ = eos_id_;
  for (const char* eot : {"<|eot_id|>", "<|im_end|>"}) {
    if (auto id = TokenToId(eot)) {
      eot_id_ = *id;
      break;
    }
  }

  if (cfg.contains("chat_template")) {
    const json& ct = cfg["chat_template"];
    std::string text;
    if (ct.is_string()) {
      text = ct.get<std::string>();
    } else if (ct.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const auto& e : ct)
        if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template"))
          text = e["template"].get<std::string>();
    }
    chat_template_text_ = text;
    chat_template_ = text.empty() ? Result<ChatTemplateKind>(Unsupported("tokenizer_config.json: chat_template has no default template"))
                                  : IdentifyChatTemplate(text);
  } else {
    chat_template_ = Status(StatusCode::kUnsupported, "tokenizer_config.json has no chat_template");
  }
  return Status::Ok();
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::FromJson(std::string_view tokenizer_json,
                                                             std::string_view config_json,
                                                             const std::string& name) {
  std::shared_ptr<Tokenizer> tok(new Tokenizer());
  try {
    GORAE_RETURN_IF_ERROR(tok->Init(tokenizer_json, config_json, name));
  } catch (const nlohmann::json::exception& e) {
    // A field read without its own type check (ReadOptionalField) had the wrong JSON type: name
    // the file at least, never let the exception end the program.
    return InvalidArgument("{} (or its tokenizer_config.json): a field has the wrong JSON type: {}", name, e.what());
  }
  return std::shared_ptr<const Tokenizer>(std::move(tok));
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::Load(const std::string& model_dir) {
  const std::string tj = model_dir + "/tokenizer.json";
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadFile(tj));
  std::string config;
  const std::string cj = model_dir + "/tokenizer_config.json";
  if (std::ifstream(cj).good()) {
    GORAE_ASSIGN_OR_RETURN(config, ReadFile(cj));
  }
  return FromJson(text, config, tj);
}

}  // namespace gorae::tokenizer
