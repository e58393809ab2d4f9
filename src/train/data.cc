#include "train/data.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace gorae::train {

namespace {

constexpr char kMagic[8] = {'G', 'O', 'R', 'A', 'E', 'T', 'O', 'K'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 40;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Splits text into paragraphs at blank lines (lines holding only whitespace).
void SplitParagraphs(const std::string& text, std::vector<std::string>* out) {
  std::istringstream in(text);
  std::string line, cur;
  auto flush = [&]() {
    if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out->push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
    } else {
      cur += line;
      cur += '\n';
    }
  }
  flush();
}

}  // namespace

Result<std::vector<std::string>> ReadDocuments(const std::vector<std::string>& files) {
  std::vector<std::string> docs;
  if (files.empty()) return InvalidArgument("no data files given");
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return IOError("cannot read data file '{}'", path);
    const size_t before = docs.size();
    if (EndsWith(path, ".jsonl")) {
      std::string line;
      int64_t lineno = 0;
      while (std::getline(in, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return Corruption("{}:{}: not valid JSON", path, lineno);
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
          return InvalidArgument("{}:{}: expected an object with a string field \"text\"", path, lineno);
        }
        docs.push_back(j["text"].get<std::string>());
      }
    } else {
      std::stringstream ss;
      ss << in.rdbuf();
      SplitParagraphs(ss.str(), &docs);
    }
    if (docs.size() == before) return InvalidArgument("data file '{}' holds no text", path);
  }
  return docs;
}

Status WriteTokenShard(const std::string& path, int64_t vocab_size, const std::vector<uint32_t>& tokens,
                       int64_t num_documents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IOError("cannot write '{}'", tmp);
    const uint32_t version = kVersion, reserved = 0;
    const uint64_t v = static_cast<uint64_t>(vocab_size), n = tokens.size(), d = static_cast<uint64_t>(num_documents);
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&version), 4);
    out.write(reinterpret_cast<const char*>(&reserved), 4);
    out.write(reinterpret_cast<const char*>(&v), 8);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(reinterpret_cast<const char*>(&d), 8);
    out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 4));
    if (!out.flush()) return IOError("cannot write '{}'", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return IOError("cannot rename '{}' to '{}'", tmp, path);
  return Status::Ok();
}

Result<std::unique_ptr<TokenShard>> TokenShard::Open(const std::string& path) {
  auto s = std::unique_ptr<TokenShard>(new TokenShard());
  GORAE_ASSIGN_OR_RETURN(s->file_, MappedFile::Open(path));
  const uint8_t* p = s->file_->data();
  const size_t size = s->file_->size();
  if (size < kHeader || std::memcmp(p, kMagic, 8) != 0) return Corruption("'{}' is not a gorae token shard", path);
  uint32_t version;
  uint64_t v, n, d;
  std::memcpy(&version, p + 8, 4);
  std::memcpy(&v, p + 16, 8);
  std::memcpy(&n, p + 24, 8);
  std::memcpy(&d, p + 32, 8);
  if (version != kVersion) return Corruption("'{}': shard version {} (expected {})", path, version, kVersion);
  if (n > (size - kHeader) / 4 || kHeader + n * 4 != size) {
    return Corruption("'{}': header says {} tokens, file has {} bytes", path, n, size);
  }
  s->tokens_ = reinterpret_cast<const uint32_t*>(p + kHeader);
  s->size_ = static_cast<int64_t>(n);
  s->vocab_ = static_cast<int64_t>(v);
  s->docs_ = static_cast<int64_t>(d);
  for (int64_t i = 0; i < s->size_; ++i) {
    if (s->tokens_[i] >= v) return Corruption("'{}': token {} at index {} is not below vocab size {}", path, s->tokens_[i], i, v);
  }
  return s;
}

Result<ShardSummary> BuildShards(const std::vector<std::string>& documents, const tokenizer::Tokenizer& tok,
                                 double val_fraction, const std::string& out_dir) {
  if (documents.empty()) return InvalidArgument("no documents to train on");
  if (val_fraction < 0 || val_fraction >= 1) return InvalidArgument("val fraction must be in [0, 1), got {}", val_fraction);
  const int32_t eos = tok.eos_id() >= 0 ? tok.eos_id() : tok.eot_id();
  if (eos < 0) return InvalidArgument("the tokenizer has no EOS token to separate documents");
  GORAE_ASSIGN_OR_RETURN(auto encoded, tok.EncodeBatch(documents, /*add_bos=*/tok.bos_id() >= 0));
  std::vector<uint32_t> train, val;
  ShardSummary s;
  const int64_t every = val_fraction > 0 ? std::max<int64_t>(2, std::llround(1.0 / val_fraction)) : 0;
  const bool by_document = every > 0 && static_cast<int64_t>(documents.size()) >= every;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const bool to_val = by_document && static_cast<int64_t>(i) % every == every - 1;
    auto& dst = to_val ? val : train;
    for (int32_t id : encoded[i]) dst.push_back(static_cast<uint32_t>(id));
    dst.push_back(static_cast<uint32_t>(eos));
    ++(to_val ? s.val_docs : s.train_docs);
  }
  if (!by_document && val_fraction > 0) {  // too few documents: hold out the stream's tail
    const size_t cut = train.size() - static_cast<size_t>(static_cast<double>(train.size()) * val_fraction);
    val.assign(train.begin() + static_cast<std::ptrdiff_t>(cut), train.end());
    train.resize(cut);
    s.val_docs = 1;
  }
  s.train_tokens = static_cast<int64_t>(train.size());
  s.val_tokens = static_cast<int64_t>(val.size());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return IOError("cannot create directory '{}': {}", out_dir, ec.message());
  GORAE_RETURN_IF_ERROR(WriteTokenShard(out_dir + "/train.bin", tok.vocab_size(), train, s.train_docs));
  GORAE_RETURN_IF_ERROR(WriteTokenShard(out_dir + "/val.bin", tok.vocab_size(), val, s.val_docs));
  return s;
}

uint64_t Rng::Next() {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Batch SampleBatch(const TokenShard& shard, int64_t B, int64_t T, Rng& rng) {
  Batch b;
  b.B = B;
  b.T = T;
  b.tokens.resize(static_cast<size_t>(B * (T + 1)));
  b.mask.assign(static_cast<size_t>(B * T), 1.0f);
  const uint64_t starts = static_cast<uint64_t>(shard.size() - T);  // caller checks size > T
  for (int64_t i = 0; i < B; ++i) {
    const int64_t off = static_cast<int64_t>(rng.Below(starts));
    for (int64_t t = 0; t <= T; ++t) b.tokens[i * (T + 1) + t] = static_cast<int>(shard.tokens()[off + t]);
  }
  return b;
}

std::vector<Batch> SequentialBatches(const TokenShard& shard, int64_t B, int64_t T, int64_t max_batches) {
  std::vector<Batch> out;
  const int64_t windows = shard.size() > T ? (shard.size() - 1) / T : 0;
  for (int64_t w0 = 0; w0 < windows && static_cast<int64_t>(out.size()) < max_batches; w0 += B) {
    Batch b;
    b.B = std::min(B, windows - w0);
    b.T = T;
    b.tokens.resize(static_cast<size_t>(b.B * (T + 1)));
    b.mask.assign(static_cast<size_t>(b.B * T), 1.0f);
    for (int64_t i = 0; i < b.B; ++i) {
      const int64_t off = (w0 + i) * T;
      for (int64_t t = 0; t <= T; ++t) b.tokens[i * (T + 1) + t] = static_cast<int>(shard.tokens()[off + t]);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<std::string> SyntheticReasoningCorpus(int64_t documents, uint64_t seed) {
  Rng rng{seed};
  auto in = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(hi - lo + 1))); };
  std::vector<std::string> docs;
  for (int64_t d = 0; d < documents; ++d) {
    std::string s;
    switch (d % 3) {
      case 0: {  // column addition with carries
        const int64_t a = in(10, 999), b = in(10, 999);
        s = fmt::format("Problem: {} + {}\n<think>\n", a, b);
        int64_t x = a, y = b, carry = 0, place = 1, sum = 0;
        while (x > 0 || y > 0 || carry > 0) {
          const int64_t dx = x % 10, dy = y % 10, t = dx + dy + carry;
          s += fmt::format("{} + {} + carry {} = {}, write {} carry {}\n", dx, dy, carry, t, t % 10, t / 10);
          sum += (t % 10) * place;
          carry = t / 10;
          place *= 10;
          x /= 10;
          y /= 10;
        }
        s += fmt::format("</think>\nAnswer: {}\n", sum);
        break;
      }
      case 1: {  // a x + b = c
        const int64_t a = in(2, 9), x = in(-12, 12), b = in(-20, 20), c = a * x + b;
        s = fmt::format("Problem: solve {}x + {} = {}\n<think>\n", a, b, c);
        s += fmt::format("subtract {} from both sides: {}x = {} - {} = {}\n", b, a, c, b, c - b);
        s += fmt::format("divide both sides by {}: x = {} / {} = {}\n", a, c - b, a, x);
        s += fmt::format("check: {} * {} + {} = {}\n</think>\nAnswer: x = {}\n", a, x, b, a * x + b, x);
        break;
      }
      default: {  // countdown: combine three numbers to reach the target
        const int64_t a = in(2, 12), b = in(2, 12), c = in(2, 20);
        const char* ops[] = {"+", "-", "*"};
        const int o1 = static_cast<int>(rng.Below(3)), o2 = static_cast<int>(rng.Below(3));
        auto apply = [](int64_t u, int o, int64_t v) { return o == 0 ? u + v : o == 1 ? u - v : u * v; };
        const int64_t ab = apply(a, o1, b), target = apply(ab, o2, c);
        s = fmt::format("Problem: use {} {} {} to make {}\n<think>\n", a, b, c, target);
        s += fmt::format("{} {} {} = {}\n{} {} {} = {}\n</think>\nAnswer: ({} {} {}) {} {} = {}\n", a, ops[o1], b, ab, ab,
                         ops[o2], c, target, a, ops[o1], b, ops[o2], c, target);
        break;
      }
    }
    docs.push_back(std::move(s));
  }
  return docs;
}

}  // namespace gorae::train
