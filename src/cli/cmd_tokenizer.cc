// gorae tokenizer encode|decode|info|chat|train: text in and out of gorae, over stdin/stdout
// so that scripts can use it.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

namespace gorae::cli {
namespace {

using gorae::tokenizer::Tokenizer;

std::string ReadStdin() {
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) data.append(buf, n);
  return data;
}

void WriteStdout(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

int Encode(const std::string& model, bool bos) {
  auto tok = Tokenizer::Load(model);
  if (!tok.ok()) return ReportError(tok.status().ToString());
  auto ids = (*tok)->Encode(ReadStdin(), bos);
  if (!ids.ok()) return ReportError("stdin: " + ids.status().ToString());
  std::string out = "[";
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) out += ",";
    out += std::to_string((*ids)[i]);
  }
  out += "]\n";
  WriteStdout(out);
  return 0;
}

int Decode(const std::string& model, bool skip_special) {
  auto tok = Tokenizer::Load(model);
  if (!tok.ok()) return ReportError(tok.status().ToString());
  std::string input = ReadStdin();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    return ReportError(std::string("stdin: expected a JSON array of token ids: ") + e.what());
  }
  if (!j.is_array()) return ReportError("stdin: expected a JSON array of token ids");
  std::vector<int32_t> ids;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer() || j[i].get<int64_t>() < INT32_MIN || j[i].get<int64_t>() > INT32_MAX)
      return ReportError(fmt::format("stdin: element {} is not an integer token id: {}", i, j[i].dump()));
    ids.push_back(static_cast<int32_t>(j[i].get<int64_t>()));
  }
  auto text = (*tok)->Decode(ids, skip_special);
  if (!text.ok()) return ReportError("stdin: " + text.status().ToString());
  WriteStdout(*text);
  return 0;
}

int Info(const std::string& model) {
  auto tok = Tokenizer::Load(model);
  if (!tok.ok()) return ReportError(tok.status().ToString());
  const Tokenizer& t = **tok;
  auto name = [&](int32_t id) -> std::string {
    if (id < 0) return "(none)";
    auto b = t.TokenBytes(id);
    return fmt::format("{} {}", id, nlohmann::json(std::string(*b)).dump());
  };
  size_t special = 0;
  for (const auto& a : t.added_tokens()) special += a.special;
  std::string out = fmt::format(
      "vocab_size: {}\nmodel_vocab: {}\nmerges: {}\nadded_tokens: {} ({} special)\nbos: {}\neos: {}\n"
      "end_of_turn: {}\npad: {}\nchat_template: {}\n",
      t.vocab_size(), t.model().token_to_id().size(), t.model().merge_count(), t.added_tokens().size(),
      special, name(t.bos_id()), name(t.eos_id()), name(t.eot_id()), name(t.pad_id()),
      t.chat_template().ok() ? std::string(ChatTemplateName(t.chat_template().value()))
                             : "unsupported (" + t.chat_template().status().message() + ")");
  out += "special tokens:\n";
  for (const auto& a : t.added_tokens()) {
    if (a.special && a.content.find("place▁holder") == std::string::npos)
      out += fmt::format("  {} {}\n", a.id, nlohmann::json(a.content).dump());
  }
  WriteStdout(out);
  return 0;
}

// stdin: {"messages": [...]} or a bare array of {"role", "content", "reasoning_content"?}.
int Chat(const std::string& model, bool add_generation_prompt) {
  auto tok = Tokenizer::Load(model);
  if (!tok.ok()) return ReportError(tok.status().ToString());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ReadStdin());
  } catch (const nlohmann::json::parse_error& e) {
    return ReportError(std::string("stdin: invalid JSON: ") + e.what());
  }
  if (j.is_object() && j.contains("messages")) j = j["messages"];
  if (!j.is_array()) return ReportError("stdin: expected an array of messages or {\"messages\": [...]}");
  std::vector<tokenizer::ChatMessage> messages;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return ReportError(fmt::format("stdin: message {}: expected string \"role\" and \"content\"", i));
    tokenizer::ChatMessage msg{m["role"].get<std::string>(), m["content"].get<std::string>(), std::nullopt};
    if (m.contains("reasoning_content") && m["reasoning_content"].is_string())
      msg.reasoning_content = m["reasoning_content"].get<std::string>();
    messages.push_back(std::move(msg));
  }
  auto text = (*tok)->RenderChat(messages, add_generation_prompt);
  if (!text.ok()) return ReportError(model + ": " + text.status().ToString());
  WriteStdout(*text);
  return 0;
}

}  // namespace

void AddTokenizerCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("tokenizer", "Tokenize text (Hugging Face tokenizer.json) and train tokenizers");
  cmd->require_subcommand(1);

  struct Options {
    std::string model;
    bool bos = false, skip_special = false, generation_prompt = false;
    tokenizer::TrainerOptions train;
  };
  auto opt = std::make_shared<Options>();

  auto* enc = cmd->add_subcommand("encode", "Read UTF-8 text on stdin, print a JSON array of ids");
  enc->add_option("--model", opt->model, "Model directory with tokenizer.json")->required();
  enc->add_flag("--bos", opt->bos, "Put the BOS token first");
  enc->callback([=] { *exit_code = Encode(opt->model, opt->bos); });

  auto* dec = cmd->add_subcommand("decode", "Read a JSON array of ids on stdin, print the text");
  dec->add_option("--model", opt->model, "Model directory with tokenizer.json")->required();
  dec->add_flag("--skip-special", opt->skip_special, "Leave out special tokens");
  dec->callback([=] { *exit_code = Decode(opt->model, opt->skip_special); });

  auto* info = cmd->add_subcommand("info", "Print vocabulary size and special tokens");
  info->add_option("--model", opt->model, "Model directory with tokenizer.json")->required();
  info->callback([=] { *exit_code = Info(opt->model); });

  auto* chat = cmd->add_subcommand("chat", "Render a conversation (JSON on stdin) with the model's chat template");
  chat->add_option("--model", opt->model, "Model directory with tokenizer_config.json")->required();
  chat->add_flag("--add-generation-prompt", opt->generation_prompt, "End with the assistant prompt");
  chat->callback([=] { *exit_code = Chat(opt->model, opt->generation_prompt); });

  auto* train = cmd->add_subcommand("train", "Train a byte-level BPE tokenizer on text files");
  train->add_option("--data", opt->train.files, "Text files (UTF-8)")->required()->check(CLI::ExistingFile);
  train->add_option("--vocab-size", opt->train.vocab_size, "Vocabulary size including special tokens")->required();
  train->add_option("--out", opt->train.out_dir, "Output directory (tokenizer.json, tokenizer_config.json)")->required();
  train->add_option("--min-frequency", opt->train.min_frequency, "Merge only pairs seen at least this often");
  train->add_option("--threads", opt->train.threads, "Threads for counting words (0: all cores)");
  train->add_flag("--split-digits", opt->train.split_digits,
                  "Pre-tokenize every digit on its own (as Qwen2/Llama 2) instead of runs of up to 3");
  train->add_flag("!--no-progress", opt->train.progress, "Do not draw the progress bar");
  train->callback([=] {
    Status s = tokenizer::TrainTokenizer(opt->train);
    *exit_code = s.ok() ? 0 : ReportError(s.ToString());
  });
}

}  // namespace gorae::cli
