#include "train/sft.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <fmt/format.h>

#include "core/json_field.h"
#include "core/threads.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/loop_common.h"
#include "train/model_step.h"
#include "train/train_model.h"

namespace gorae::train {

namespace fs = std::filesystem;
using tokenizer::ChatMessage;
using tokenizer::Tokenizer;

Result<Conversation> ParseConversation(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("messages")) {
    return InvalidArgument("{}: expected an object with a \"messages\" array", where);
  }
  const nlohmann::json& msgs = j["messages"];
  if (!msgs.is_array()) return InvalidArgument("{}: \"messages\" must be an array, got {}", where, msgs.type_name());
  Conversation conv;
  conv.source = where;
  bool has_assistant = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const nlohmann::json& m = msgs[i];
    if (!m.is_object()) return InvalidArgument("{}: message {} is not an object", where, i + 1);
    if (!m.contains("role") || !m["role"].is_string()) {
      return InvalidArgument("{}: message {} has no string \"role\"", where, i + 1);
    }
    const std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant") {
      return InvalidArgument("{}: message {}: role '{}' is not system, user or assistant", where, i + 1, role);
    }
    if (!m.contains("content") || !m["content"].is_string()) {
      return InvalidArgument("{}: message {} ({}): \"content\" must be a string, got {}", where, i + 1, role,
                             m.contains("content") ? m["content"].type_name() : "nothing");
    }
    ChatMessage msg{role, m["content"].get<std::string>(), std::nullopt};
    if (auto it = m.find("reasoning_content"); it != m.end() && !it->is_null()) {
      if (role != "assistant") {
        return InvalidArgument("{}: message {} ({}): reasoning_content belongs to assistant messages only", where,
                               i + 1, role);
      }
      if (!it->is_string()) {
        return InvalidArgument("{}: message {}: \"reasoning_content\" must be a string, got {}", where, i + 1,
                               it->type_name());
      }
      msg.reasoning_content = it->get<std::string>();
    }
    has_assistant |= role == "assistant";
    conv.messages.push_back(std::move(msg));
  }
  if (!has_assistant) return InvalidArgument("{}: the conversation has no assistant message to learn from", where);
  return conv;
}

Result<std::vector<Conversation>> ReadConversations(const std::vector<std::string>& files) {
  std::vector<Conversation> out;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("{}: cannot open", path);
    std::string line;
    int64_t line_no = 0, found = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = fmt::format("{}:{}", path, line_no);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        return InvalidArgument("{}: not valid JSON ({})", where, e.what());
      }
      GORAE_ASSIGN_OR_RETURN(Conversation conv, ParseConversation(j, where));
      out.push_back(std::move(conv));
      ++found;
    }
    if (in.bad()) return IOError("{}: read failed", path);
    if (found == 0) return InvalidArgument("{}: no conversations (expected one JSON object per line)", path);
  }
  return out;
}

namespace {

// Re-checks an in-memory conversation as a file's line would be checked.
Status CheckConversation(const Conversation& conv) {
  nlohmann::json msgs = nlohmann::json::array();
  for (const ChatMessage& m : conv.messages) {
    nlohmann::json j = {{"role", m.role}, {"content", m.content}};
    if (m.reasoning_content) j["reasoning_content"] = *m.reasoning_content;
    msgs.push_back(std::move(j));
  }
  return ParseConversation({{"messages", msgs}}, conv.source.empty() ? "conversation" : conv.source).status();
}

bool StartsWith(const std::vector<int32_t>& whole, const std::vector<int32_t>& prefix) {
  return prefix.size() <= whole.size() && std::equal(prefix.begin(), prefix.end(), whole.begin());
}

}  // namespace

Result<SftExample> RenderForSft(const Tokenizer& tok, const Conversation& conv) {
  const std::string where = conv.source.empty() ? "conversation" : conv.source;
  GORAE_RETURN_IF_ERROR(CheckConversation(conv));
  if (!tok.chat_template().ok()) return tok.chat_template().status().WithContext(where);
  const tokenizer::ChatTemplateKind kind = tok.chat_template().value();
  const std::string_view name = tokenizer::ChatTemplateName(kind);
  auto render = [&](size_t n, bool generation_prompt) -> Result<std::vector<int32_t>> {
    const std::vector<ChatMessage> part(conv.messages.begin(), conv.messages.begin() + static_cast<ptrdiff_t>(n));
    GORAE_ASSIGN_OR_RETURN(std::string text, tok.RenderChat(part, generation_prompt));
    return tok.Encode(text);  // the template writes the BOS itself
  };
  SftExample ex;
  ex.source = where;
  GORAE_ASSIGN_OR_RETURN(ex.tokens, render(conv.messages.size(), false));
  ex.train.assign(ex.tokens.size(), 0);
  for (size_t i = 0; i < conv.messages.size(); ++i) {
    const ChatMessage& m = conv.messages[i];
    if (m.role != "assistant") continue;
    if (m.reasoning_content && !m.reasoning_content->empty() && kind != tokenizer::ChatTemplateKind::kGorae) {
      return InvalidArgument("{}: message {}: the {} chat template does not render reasoning_content (it would be "
                             "dropped); put the reasoning in content or use a gorae tokenizer",
                             where, i + 1, name);
    }
    GORAE_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, render(i, true));
    GORAE_ASSIGN_OR_RETURN(std::vector<int32_t> turn, render(i + 1, false));
    if (!StartsWith(turn, prompt)) {
      return InvalidArgument("{}: message {}: with the {} chat template the generation prompt is not a prefix of the "
                             "rendered assistant turn, so the assistant's tokens cannot be told apart",
                             where, i + 1, name);
    }
    if (!StartsWith(ex.tokens, turn)) {
      return InvalidArgument("{}: message {}: with the {} chat template the conversation up to this turn does not "
                             "render as a prefix of the whole conversation (a system message after the first turn?)",
                             where, i + 1, name);
    }
    std::fill(ex.train.begin() + static_cast<ptrdiff_t>(prompt.size()),
              ex.train.begin() + static_cast<ptrdiff_t>(turn.size()), 1);
  }
  return ex;
}

nlohmann::json SftOptions::ToJson() const {
  return {{"model", model}, {"data", data}, {"in_memory_conversations", conversations.size()}, {"epochs", epochs},
          {"steps", steps}, {"seed", seed}, {"batch", batch}, {"accum", accum}, {"seq", seq}, {"lr", lr},
          {"min_lr_ratio", min_lr_ratio}, {"warmup", warmup}, {"schedule", schedule},
          {"wsd_decay_fraction", wsd_decay_fraction}, {"beta1", adamw.beta1}, {"beta2", adamw.beta2},
          {"adam_eps", adamw.eps}, {"weight_decay", adamw.weight_decay}, {"clip", clip}, {"mtp_lambda", mtp_lambda},
          {"bias_gamma", bias_gamma}, {"balance_alpha", balance_alpha}, {"val_fraction", val_fraction},
          {"eval_every", eval_every}, {"save_every", save_every}};
}

Result<SftOptions> SftOptions::FromJson(const nlohmann::json& j, std::string_view where) {
  SftOptions o;
  JsonFields f(j, std::string(where));
  ReadOptimizerOptions(f, o);
  ReadSupervisedLoopOptions(f, o);
  f.Required("model", &o.model)
      .Required("data", &o.data)
      .Required("epochs", &o.epochs);
  if (!f.status().ok()) return Corruption("{}", f.status().message());
  return o;
}

namespace {

Status CheckOptions(const SftOptions& o) {
  if (o.out.empty()) return InvalidArgument("--out DIR is required");
  if (o.steps < 0 || !(o.epochs > 0)) return InvalidArgument("--steps must be >= 0 and --epochs > 0");
  if (o.batch <= 0 || o.accum <= 0 || o.seq < 2) {
    return InvalidArgument("--batch, --accum must be positive and --seq >= 2 (got {}, {}, {})", o.batch, o.accum, o.seq);
  }
  if (!(o.lr > 0) || o.min_lr_ratio < 0 || o.min_lr_ratio > 1) return InvalidArgument("--lr must be > 0 and --min-lr-ratio in [0, 1]");
  if (o.adamw.beta1 < 0 || o.adamw.beta1 >= 1 || o.adamw.beta2 < 0 || o.adamw.beta2 >= 1 || !(o.adamw.eps > 0)) {
    return InvalidArgument("AdamW needs betas in [0, 1) and eps > 0");
  }
  if (o.clip < 0 || o.bias_gamma < 0 || o.balance_alpha < 0 || o.mtp_lambda < 0 || o.adamw.weight_decay < 0) {
    return InvalidArgument("--clip, --bias-gamma, --balance-alpha, --mtp-lambda, --weight-decay must be >= 0");
  }
  if (o.val_fraction < 0 || o.val_fraction >= 1) return InvalidArgument("--val-fraction must be in [0, 1)");
  if (o.eval_every <= 0 || o.save_every <= 0) return InvalidArgument("--eval-every, --save-every must be positive");
  if (o.data.empty() && o.conversations.empty()) return InvalidArgument("give --data FILE.jsonl (conversations)");
  return Status::Ok();
}

// --model may name a model directory or a `gorae pretrain --out` directory (its checkpoint/).
Result<std::string> ResolveModelDir(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("--model DIR is required");
  if (fs::exists(fs::path(dir) / "config.json")) return dir;
  if (fs::exists(fs::path(dir) / "checkpoint" / "config.json")) return (fs::path(dir) / "checkpoint").string();
  if (!fs::exists(dir)) return NotFound("--model '{}' does not exist", dir);
  return NotFound("'{}' has no config.json: --model takes a model directory (config.json, *.safetensors, "
                  "tokenizer.json) or the --out directory of `gorae pretrain`", dir);
}

// The base model: config.json (DeepSeek-V2/V3), weights in any stored dtype, MTP modules when
// config.json declares them and the weights hold them.
Result<std::unique_ptr<TrainModel>> LoadBaseModel(const std::string& dir) {
  GORAE_ASSIGN_OR_RETURN(auto loaded, LoadTrainConfig(dir + "/config.json"));
  const ModelConfig& config = loaded.first;
  int64_t depth = std::max<int64_t>(loaded.second, 0);
  GORAE_ASSIGN_OR_RETURN(auto weights, Checkpoint::Open(dir));
  if (depth > 0 && weights->Find(fmt::format("model.layers.{}.eh_proj.weight", config.num_hidden_layers)) == nullptr) {
    fmt::print(stderr, "note: {}/config.json declares {} MTP module(s) but the weights hold none: fine-tuning without MTP\n",
               dir, depth);
    depth = 0;
  }
  GORAE_ASSIGN_OR_RETURN(auto model, TrainModel::Create(config, depth));
  GORAE_RETURN_IF_ERROR(model->LoadFrom(*weights));
  return model;
}

Status CopyTokenizer(const std::string& from, const std::string& to) {
  if (!fs::exists(fs::path(from) / "tokenizer.json")) {
    return NotFound("'{}' has no tokenizer.json: SFT renders conversations with the model's own tokenizer and chat "
                    "template, so --model must hold tokenizer.json and tokenizer_config.json", from);
  }
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return IOError("cannot create '{}': {}", to, ec.message());
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path src = fs::path(from) / name;
    if (!fs::exists(src)) continue;
    fs::copy_file(src, fs::path(to) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return IOError("cannot copy '{}' to '{}': {}", src.string(), to, ec.message());
  }
  return Status::Ok();
}

// The rendered examples, split into training and validation sets.
struct SftData {
  std::vector<SftExample> train, val;
  int64_t truncated = 0, skipped = 0, longest = 0;
  uint64_t fingerprint = 0xcbf29ce484222325ull;  // FNV-1a over every example's tokens and mask
};

void Fingerprint(uint64_t& h, const SftExample& ex) {
  auto mix = [&h](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  mix(ex.tokens.size());
  for (size_t i = 0; i < ex.tokens.size(); ++i) mix(static_cast<uint64_t>(ex.tokens[i]) * 2 + ex.train[i]);
}

Result<SftData> PrepareData(const Tokenizer& tok, const std::vector<Conversation>& convs, int64_t seq,
                            double val_fraction) {
  SftData d;
  const int64_t k = val_fraction > 0 ? std::max<int64_t>(2, std::llround(1.0 / val_fraction)) : 0;
  for (size_t i = 0; i < convs.size(); ++i) {
    GORAE_ASSIGN_OR_RETURN(SftExample ex, RenderForSft(tok, convs[i]));
    d.longest = std::max<int64_t>(d.longest, static_cast<int64_t>(ex.tokens.size()));
    if (static_cast<int64_t>(ex.tokens.size()) > seq) {
      ++d.truncated;
      ex.tokens.resize(static_cast<size_t>(seq));
      ex.train.resize(static_cast<size_t>(seq));
    }
    // Position 0 is never a target: only tokens 1.. can be learned.
    if (std::count(ex.train.begin() + 1, ex.train.end(), 1) == 0) {
      ++d.skipped;
      continue;
    }
    Fingerprint(d.fingerprint, ex);
    const bool held_out = k > 0 && static_cast<int64_t>(i) % k == k - 1;
    (held_out ? d.val : d.train).push_back(std::move(ex));
  }
  if (d.train.empty()) {
    return InvalidArgument("no training conversations left ({} given, {} held out for validation, {} with no assistant "
                           "token within --seq {})", convs.size(), d.val.size(), d.skipped, seq);
  }
  return d;
}

// Examples padded to the longest one (at least min_T + 1 tokens): inputs, next-token targets,
// and the loss weight of each target (1 on assistant tokens, 0 on context and padding).
Batch PadBatch(const std::vector<SftExample>& examples, const std::vector<int64_t>& which, int32_t pad, int64_t min_T,
               int64_t* real_tokens) {
  int64_t longest = 0;
  for (int64_t i : which) longest = std::max<int64_t>(longest, static_cast<int64_t>(examples[i].tokens.size()));
  Batch b;
  b.B = static_cast<int64_t>(which.size());
  b.T = std::max(longest - 1, min_T);
  b.tokens.assign(static_cast<size_t>(b.B * (b.T + 1)), pad);
  b.mask.assign(static_cast<size_t>(b.B * b.T), 0.0f);
  *real_tokens = 0;
  for (int64_t r = 0; r < b.B; ++r) {
    const SftExample& ex = examples[which[r]];
    const int64_t n = static_cast<int64_t>(ex.tokens.size());
    std::copy(ex.tokens.begin(), ex.tokens.end(), b.tokens.begin() + r * (b.T + 1));
    for (int64_t t = 0; t + 1 < n; ++t) b.mask[r * b.T + t] = ex.train[t + 1];
    *real_tokens += n - 1;
  }
  return b;
}

// The order examples are visited in: one seeded shuffle per epoch, micro-batches in order
// (the last of an epoch may be smaller). The state saved in checkpoints is the RNG state from
// before the current epoch's shuffle, the epoch and the cursor, so a resumed run visits the
// same examples in the same order.
class EpochOrder {
 public:
  EpochOrder(int64_t n, uint64_t epoch_state, int64_t epoch, int64_t cursor) : n_(n), epoch_(epoch) {
    Shuffle(epoch_state);
    cursor_ = cursor;
  }
  std::vector<int64_t> Next(int64_t batch) {
    if (cursor_ >= n_) {
      ++epoch_;
      Shuffle(rng_.state);
    }
    const int64_t take = std::min(batch, n_ - cursor_);
    std::vector<int64_t> out(order_.begin() + cursor_, order_.begin() + cursor_ + take);
    cursor_ += take;
    return out;
  }
  uint64_t epoch_state() const { return epoch_state_; }
  int64_t epoch() const { return epoch_; }
  int64_t cursor() const { return cursor_; }
  double progress() const { return static_cast<double>(epoch_) + static_cast<double>(cursor_) / static_cast<double>(n_); }

 private:
  void Shuffle(uint64_t state) {
    epoch_state_ = state;
    rng_.state = state;
    order_.resize(static_cast<size_t>(n_));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    for (int64_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rng_.Below(static_cast<uint64_t>(i) + 1)]);
    cursor_ = 0;
  }
  int64_t n_;
  int64_t epoch_ = 0, cursor_ = 0;
  uint64_t epoch_state_ = 0;
  Rng rng_;
  std::vector<int64_t> order_;
};

}  // namespace

Status RunSft(const SftOptions& cli) {
  SftOptions o = cli;
  const std::string ckpt_dir = cli.out + "/checkpoint", tok_dir = cli.out + "/tokenizer";
  const std::string metrics_path = cli.out + "/metrics.jsonl";
  if (cli.out.empty()) return InvalidArgument("--out DIR is required");
  LoadedCheckpoint ck;
  if (cli.resume) {
    GORAE_ASSIGN_OR_RETURN(ck, LoadCheckpointMeta(ckpt_dir));
    GORAE_ASSIGN_OR_RETURN(o, SftOptions::FromJson(ck.trainer_state["options"], ck.dir + "/trainer_state.json: options"));
    o.out = cli.out;
    o.conversations = cli.conversations;
    o.steps = std::max(cli.steps, o.steps);  // a resumed run may be extended, never cut below
    o.threads = cli.threads;
    o.parallel = cli.parallel;
    o.progress = cli.progress;
    o.stop_after = cli.stop_after;
  } else if (fs::exists(ckpt_dir)) {
    return InvalidArgument("'{}' already holds a checkpoint: pass --resume to continue it, or choose another --out",
                           cli.out);
  }
  GORAE_RETURN_IF_ERROR(CheckOptions(o));
  GORAE_RETURN_IF_ERROR(dist::CheckSameOnAllRanks("the sft options", o.ToJson().dump()));
  if (o.parallel.expert_parallel > 1) {
    return Unsupported("--expert-parallel is supported by pretrain only so far (sft's last micro-batch of an epoch may "
                       "leave a rank without rows, and every rank must join every all-to-all)");
  }
  SetNumThreads(o.threads);
  if (!cli.resume) {  // resume reads the files again, perhaps from another directory
    for (std::string& f : o.data) f = fs::absolute(f).string();
  }

  // Model, tokenizer (kept in OUT/tokenizer, so resume and every checkpoint use the same files).
  std::unique_ptr<TrainModel> model;
  if (cli.resume) {
    GORAE_ASSIGN_OR_RETURN(model, TrainModel::Create(ck.config, ck.mtp_depth));
  } else {
    GORAE_ASSIGN_OR_RETURN(std::string model_dir, ResolveModelDir(o.model));
    GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] { return CopyTokenizer(model_dir, tok_dir); }));
    GORAE_ASSIGN_OR_RETURN(model, LoadBaseModel(model_dir));
    fmt::print(stderr, "base model: {}\n", model_dir);
  }
  GORAE_ASSIGN_OR_RETURN(auto tok, Tokenizer::Load(tok_dir));
  if (!tok->chat_template().ok()) return tok->chat_template().status().WithContext(o.model);
  const ModelConfig& config = model->config();
  if (config.vocab_size < tok->vocab_size()) {
    return InvalidArgument("the tokenizer of '{}' has {} tokens but the model's vocab_size is {}", o.model,
                           tok->vocab_size(), config.vocab_size);
  }
  if (config.max_position_embeddings > 0 && o.seq > config.max_position_embeddings) {
    return InvalidArgument("--seq {} is longer than the model's max_position_embeddings {}", o.seq,
                           config.max_position_embeddings);
  }
  const int32_t pad = tok->pad_id() >= 0 ? tok->pad_id() : (tok->eos_id() >= 0 ? tok->eos_id() : tok->eot_id());
  if (pad < 0) return InvalidArgument("the tokenizer of '{}' has no pad or end-of-sequence token to pad with", o.model);

  // Conversations -> examples.
  std::vector<Conversation> convs;
  if (!o.data.empty()) {
    GORAE_ASSIGN_OR_RETURN(convs, ReadConversations(o.data));
  }
  for (const Conversation& c : o.conversations) {
    convs.push_back(c);
    if (convs.back().source.empty()) convs.back().source = fmt::format("conversation {}", convs.size());
  }
  GORAE_ASSIGN_OR_RETURN(SftData data, PrepareData(*tok, convs, o.seq, o.val_fraction));
  int64_t train_tokens = 0, assistant_tokens = 0;
  for (const SftExample& ex : data.train) {
    train_tokens += static_cast<int64_t>(ex.tokens.size());
    assistant_tokens += std::count(ex.train.begin(), ex.train.end(), 1);
  }
  fmt::print(stderr, "data: {} conversations, {} for training ({} tokens, {} of them assistant), {} for validation; "
             "chat template {}\n", convs.size(), data.train.size(), train_tokens, assistant_tokens, data.val.size(),
             tokenizer::ChatTemplateName(tok->chat_template().value()));
  if (data.truncated > 0 || data.skipped > 0) {
    fmt::print(stderr, "warning: {} conversations longer than --seq {} were cut (longest {} tokens); {} of them kept "
               "no assistant token and were skipped\n", data.truncated, o.seq, data.longest, data.skipped);
  }
  const std::string fingerprint = fmt::format("{:016x}", data.fingerprint);

  const int64_t micro_per_epoch = (static_cast<int64_t>(data.train.size()) + o.batch - 1) / o.batch;
  if (!cli.resume && o.steps == 0) {
    o.steps = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.epochs * static_cast<double>(micro_per_epoch) /
                                                                  static_cast<double>(o.accum))));
  }
  const int64_t depth = model->mtp_depth();
  std::vector<Batch> val_batches;
  for (size_t i = 0; i < data.val.size(); i += static_cast<size_t>(o.batch)) {
    std::vector<int64_t> which;
    for (size_t j = i; j < std::min(data.val.size(), i + static_cast<size_t>(o.batch)); ++j) which.push_back(static_cast<int64_t>(j));
    int64_t unused = 0;
    val_batches.push_back(PadBatch(data.val, which, pad, depth + 1, &unused));
  }

  // Parameters, optimizer and data order.
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return IOError("cannot create '{}': {}", o.out, ec.message());
  AdamWState full_opt = NewAdamWState(*model);
  int64_t step = 0, tokens_seen = 0;
  uint64_t epoch_state = o.seed * 0x2545f4914f6cdd1dull + 1;
  int64_t epoch = 0, cursor = 0;
  if (cli.resume) {
    GORAE_RETURN_IF_ERROR(LoadCheckpointWeights(ck, *model, full_opt));
    if (ck.data_fingerprint != fingerprint) {
      return InvalidArgument("the conversations render to other tokens than those the checkpoint in '{}' was trained "
                             "on (fingerprint {} vs {}): resume with the same data and tokenizer",
                             ck.dir, fingerprint, ck.data_fingerprint.empty() ? "?" : ck.data_fingerprint);
    }
    step = ck.step;
    epoch_state = ck.rng_state;
    epoch = ck.epoch;
    cursor = ck.cursor;
    tokens_seen = ck.tokens_seen;
    GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] { return TrimMetrics(metrics_path, step); }));
    fmt::print(stderr, "resumed from {} at step {}\n", ck.dir, step);
  } else if (dist::IsRoot()) {
    std::ofstream(metrics_path, std::ios::trunc);
  }
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<GradReducer> reducer, MakeGradReducer(*model, o.parallel));
  AdamWState opt = RankOptimizerState(reducer.get(), full_opt);
  full_opt = {};
  EpochOrder order(static_cast<int64_t>(data.train.size()), epoch_state, epoch, cursor);

  GORAE_ASSIGN_OR_RETURN(Schedule kind, ParseSchedule(o.schedule));
  LrSchedule sched{kind, o.lr, o.min_lr_ratio, o.warmup >= 0 ? o.warmup : o.steps / 20, o.steps, o.wsd_decay_fraction};
  Objective obj;
  obj.mtp_lambda = o.mtp_lambda;
  obj.balance_alpha = o.balance_alpha;
  ModelStep runner(*model);
  StepSettings settings{o.accum, obj, o.adamw, 0.0, o.clip, o.bias_gamma};
  fmt::print(stderr, "{}\n", DescribeModel(*model));
  fmt::print(stderr, "sft: {} steps of {} x {} conversations ({:.2f} epochs)\n", o.steps, o.accum, o.batch,
             static_cast<double>(o.steps * o.accum) / static_cast<double>(micro_per_epoch));

  auto save = [&]() -> Status {
    nlohmann::json state = {{"kind", "sft"}, {"step", step}, {"rng_state", order.epoch_state()},
                            {"epoch", order.epoch()}, {"cursor", order.cursor()}, {"tokens_seen", tokens_seen},
                            {"data_fingerprint", fingerprint}, {"options", o.ToJson()}};
    return SaveFromRoot(reducer.get(), opt, [&](const AdamWState& full) {
      return SaveCheckpoint(ckpt_dir, *model, full, state, tok_dir);
    });
  };

  std::ofstream metrics;
  if (dist::IsRoot()) metrics.open(metrics_path, std::ios::app);
  const int64_t first_step = step;
  ProgressLine progress(o.progress && dist::IsRoot(), first_step, o.steps);
  double last_val = std::nan("");
  while (step < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    settings.lr = LearningRate(sched, step);
    int64_t step_tokens = 0, step_targets = 0, step_slots = 0;
    auto next_batch = [&]() {
      int64_t real = 0;
      Batch b = PadBatch(data.train, order.Next(o.batch), pad, depth + 1, &real);
      step_tokens += real;
      step_slots += b.B * b.T;
      for (float w : b.mask) step_targets += w > 0;
      return b;
    };
    auto report = TrainOneStep(*model, runner, opt, settings, next_batch, step + 1, ckpt_dir, reducer.get());
    if (!report.ok()) {
      progress.Break();
      return report.status();
    }
    ++step;
    tokens_seen += step_tokens;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tokens_per_s = static_cast<double>(step_tokens) / dt;

    nlohmann::ordered_json m = StepMetrics(*model, runner, *report, step, tokens_per_s, tokens_seen, o.bias_gamma);
    m["epoch"] = order.progress();
    m["targets"] = step_targets;
    m["padding"] = 1.0 - static_cast<double>(step_tokens) / static_cast<double>(step_slots);
    if (!val_batches.empty() && (step % o.eval_every == 0 || step == o.steps || step == first_step + 1)) {
      last_val = ValidationLoss(runner, val_batches, obj);
      m["val_loss"] = last_val;
    }
    if (dist::IsRoot()) {
      metrics << m.dump() << "\n";
      metrics.flush();
    }

    progress.Update(step, report->loss, last_val, report->lr, tokens_per_s);
    const bool stopping = o.stop_after > 0 && step - first_step >= o.stop_after;
    if (step % o.save_every == 0 || step == o.steps || stopping) {
      GORAE_RETURN_IF_ERROR(save());
      GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] {
        return WriteMetricsPlot(o.out, "gorae sft: cross-entropy on assistant tokens");
      }));
    }
    if (stopping) break;
  }
  progress.Break();
  fmt::print(stderr, "done: step {}, checkpoint {}, metrics {}, plot {}/loss.svg\n", step, ckpt_dir, metrics_path, o.out);
  return Status::Ok();
}

}  // namespace gorae::train
