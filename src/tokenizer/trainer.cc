#include "tokenizer/trainer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <queue>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tokenizer/added_vocab.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

using ojson = nlohmann::ordered_json;

// The DeepSeek-V3 pre-tokenizer (or, with split_digits, its digit rule made one digit per
// piece), as written into the trained tokenizer.json.
ojson PreTokenizerJson(bool split_digits) {
  auto split = [](const char* re) {
    return ojson{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  return ojson{
      {"type", "Sequence"},
      {"pretokenizers",
       {split(split_digits ? R"(\p{N})" : R"(\p{N}{1,3})"), split("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
        split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
              "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
        ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
}

uint64_t PairKey(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
  uint32_t stamp = 0;  // last merge that visited this word (dedupes the index lists)
};

class ProgressBar {
 public:
  ProgressBar(bool enabled, std::string label, int64_t total)
      : enabled_(enabled), label_(std::move(label)), total_(total), start_(Clock::now()) {}
  void Update(int64_t done, bool force = false) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    int width = 30, fill = total_ > 0 ? static_cast<int>(width * done / total_) : 0;
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %.1fs", label_.c_str(), std::string(fill, '#').c_str(),
                 std::string(width - fill, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), secs);
    if (force) std::fprintf(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::string label_;
  int64_t total_;
  Clock::time_point start_, last_{};
};

// Reads the files, checks UTF-8, and cuts the text into chunks at line ends (pre-tokenizer
// pieces never span a chunk end except for runs of newlines, which only matters for counts).
Status ReadCorpus(const std::vector<std::string>& files, std::vector<std::string>* texts) {
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("{}: cannot open", path);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t bad = FindInvalidUtf8(data);
    if (bad != std::string::npos) {
      size_t line = 1 + std::count(data.begin(), data.begin() + bad, '\n');
      return InvalidArgument("{}:{}: not valid UTF-8 (byte offset {})", path, line, bad);
    }
    texts->push_back(std::move(data));
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& TrainerSpecialTokens() {
  static const std::vector<std::string> tokens = {
      "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>",
      "<think>", "</think>"};
  return tokens;
}

Status TrainTokenizer(const TrainerOptions& opt) {
  const auto& specials = TrainerSpecialTokens();
  const int n_special = static_cast<int>(specials.size());
  if (opt.vocab_size < n_special + 256)
    return InvalidArgument("--vocab-size {} is too small: need at least {} (special tokens + 256 bytes)",
                           opt.vocab_size, n_special + 256);
  if (opt.files.empty()) return InvalidArgument("no training files given");

  ojson pre_json = PreTokenizerJson(opt.split_digits);
  GORAE_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::FromJson(nlohmann::json::parse(pre_json.dump()), "pre_tokenizer"));
  std::vector<AddedToken> special_tokens;
  for (int i = 0; i < n_special; ++i) special_tokens.push_back({i, specials[i], true});
  std::vector<const AddedToken*> special_ptrs;
  for (const auto& t : special_tokens) special_ptrs.push_back(&t);
  AddedTokenMatcher matcher;
  matcher.Build(special_ptrs);

  std::vector<std::string> texts;
  GORAE_RETURN_IF_ERROR(ReadCorpus(opt.files, &texts));
  // Chunks of about 1 MB ending at a newline, spread over the threads.
  std::vector<std::string_view> chunks;
  size_t total_bytes = 0;
  for (const std::string& t : texts) {
    total_bytes += t.size();
    size_t pos = 0;
    while (pos < t.size()) {
      size_t end = std::min(t.size(), pos + (1 << 20));
      size_t nl = t.find('\n', end);
      end = nl == std::string::npos ? t.size() : nl + 1;
      chunks.push_back(std::string_view(t).substr(pos, end - pos));
      pos = end;
    }
  }

  // 1. Count pre-tokenized pieces, one map per thread, then merge.
  int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unordered_map<std::string, int64_t>> counts(threads);
  std::atomic<size_t> next_chunk{0}, done_bytes{0};
  ProgressBar count_bar(opt.progress, "counting words (MB)", static_cast<int64_t>(total_bytes >> 20));
  std::vector<Status> worker_status(threads);
  auto count_worker = [&](int t) {
    std::vector<Segment> segs;
    std::vector<std::string_view> pieces;
    std::deque<std::string> arena;
    for (size_t c; (c = next_chunk.fetch_add(1)) < chunks.size();) {
      segs.clear();
      matcher.Split(chunks[c], &segs);
      for (const Segment& s : segs) {
        if (s.id >= 0) continue;
        pieces.clear();
        arena.clear();
        Status st = pre.Apply(s.text, &pieces, &arena);
        if (!st.ok()) {
          worker_status[t] = st;
          return;
        }
        for (auto p : pieces) ++counts[t][std::string(p)];
      }
      done_bytes += chunks[c].size();
      if (t == 0) count_bar.Update(static_cast<int64_t>(done_bytes.load() >> 20));
    }
  };
  {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(count_worker, t);
    count_worker(0);
    for (auto& th : pool) th.join();
  }
  count_bar.Update(static_cast<int64_t>(total_bytes >> 20), true);
  for (const Status& st : worker_status) GORAE_RETURN_IF_ERROR(st);
  for (int t = 1; t < threads; ++t) {
    for (auto& [k, v] : counts[t]) counts[0][k] += v;
    counts[t].clear();
  }

  // 2. Words as byte-token ids. Ids: specials, then the 256 bytes in byte order, then merges.
  std::vector<std::string> id_to_raw;  // raw bytes of each non-special token (index id - n_special)
  for (int b = 0; b < 256; ++b) id_to_raw.push_back(std::string(1, static_cast<char>(b)));
  std::vector<Word> words;
  words.reserve(counts[0].size());
  for (auto& [piece, c] : counts[0]) {
    Word w;
    w.count = c;
    for (unsigned char ch : piece) w.syms.push_back(n_special + ch);
    words.push_back(std::move(w));
  }
  counts[0].clear();
  // Sorting makes the result independent of hash-map iteration order.
  std::sort(words.begin(), words.end(), [](const Word& a, const Word& b) { return a.syms < b.syms; });

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  for (uint32_t wi = 0; wi < words.size(); ++wi) {
    const Word& w = words[wi];
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      uint64_t k = PairKey(w.syms[i], w.syms[i + 1]);
      pair_count[k] += w.count;
      auto& list = where[k];
      if (list.empty() || list.back() != wi) list.push_back(wi);
    }
  }
  // Max-heap on (count, then smaller pair key); entries go stale and are re-checked on pop.
  using Entry = std::pair<int64_t, uint64_t>;
  auto cmp = [](const Entry& a, const Entry& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
  for (auto& [k, c] : pair_count) heap.push({c, k});

  // 3. Merge loop.
  const int target_merges = opt.vocab_size - n_special - 256;
  std::vector<std::pair<int32_t, int32_t>> merges;
  ProgressBar merge_bar(opt.progress, "merges", target_merges);
  uint32_t stamp = 0;
  std::vector<uint64_t> touched;
  auto add_pairs = [&](const Word& w, int64_t sign, uint32_t wi, bool index) {
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      uint64_t k = PairKey(w.syms[i], w.syms[i + 1]);
      pair_count[k] += sign * w.count;
      if (index) {
        auto& list = where[k];
        if (list.empty() || list.back() != wi) list.push_back(wi);
        touched.push_back(k);
      }
    }
  };
  while (static_cast<int>(merges.size()) < target_merges && !heap.empty()) {
    auto [c, k] = heap.top();
    heap.pop();
    auto it = pair_count.find(k);
    int64_t current = it == pair_count.end() ? 0 : it->second;
    if (current != c) {
      if (current > 0) heap.push({current, k});
      continue;
    }
    if (c < opt.min_frequency || c <= 0) break;
    int32_t a = static_cast<int32_t>(k >> 32), b = static_cast<int32_t>(k & 0xffffffffu);
    int32_t new_id = n_special + static_cast<int32_t>(id_to_raw.size());
    id_to_raw.push_back(id_to_raw[a - n_special] + id_to_raw[b - n_special]);
    merges.push_back({a, b});
    ++stamp;
    touched.clear();
    std::vector<uint32_t> list = std::move(where[k]);
    where.erase(k);
    for (uint32_t wi : list) {
      Word& w = words[wi];
      if (w.stamp == stamp) continue;
      w.stamp = stamp;
      // Remove the word's pairs, merge every non-overlapping (a, b) left to right, add back.
      add_pairs(w, -1, wi, false);
      size_t out = 0;
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
          w.syms[out++] = new_id;
          ++i;
        } else {
          w.syms[out++] = w.syms[i];
        }
      }
      w.syms.resize(out);
      add_pairs(w, +1, wi, true);
    }
    pair_count.erase(k);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t t : touched) {
      int32_t l = static_cast<int32_t>(t >> 32), r = static_cast<int32_t>(t & 0xffffffffu);
      if (l == new_id || r == new_id) heap.push({pair_count[t], t});  // only these grew
    }
    merge_bar.Update(static_cast<int64_t>(merges.size()));
  }
  merge_bar.Update(static_cast<int64_t>(merges.size()), true);

  // 4. Write tokenizer.json and tokenizer_config.json.
  auto show = [&](int32_t id) { return BytesToByteLevel(id_to_raw[id - n_special]); };
  ojson added = ojson::array();
  for (int i = 0; i < n_special; ++i) {
    bool is_special = specials[i] != "<think>" && specials[i] != "</think>";  // kept on skip_special
    added.push_back({{"id", i}, {"content", specials[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", is_special}});
  }
  ojson vocab = ojson::object();
  for (int i = 0; i < n_special; ++i) vocab[specials[i]] = i;
  for (size_t i = 0; i < id_to_raw.size(); ++i) vocab[show(n_special + static_cast<int32_t>(i))] = n_special + i;
  ojson merges_json = ojson::array();
  for (auto [a, b] : merges) merges_json.push_back({show(a), show(b)});
  ojson tj = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_json},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", merges_json}}}};
  ojson cj = {{"add_bos_token", true},
              {"add_eos_token", false},
              {"bos_token", specials[0]},
              {"eos_token", specials[1]},
              {"pad_token", specials[2]},
              {"unk_token", nullptr},
              {"clean_up_tokenization_spaces", false},
              {"model_max_length", 131072},
              {"tokenizer_class", "PreTrainedTokenizerFast"},
              {"chat_template", std::string(GoraeChatTemplate())}};

  mkdir(opt.out_dir.c_str(), 0755);  // an existing directory is fine; failures show on open
  for (auto& [name, j] : {std::pair<std::string, ojson*>{"tokenizer.json", &tj}, {"tokenizer_config.json", &cj}}) {
    const std::string path = opt.out_dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    if (!out) return IOError("{}: cannot create", path);
    out << j->dump(1, ' ', false) << "\n";
    if (!out) return IOError("{}: write failed", path);
  }
  if (opt.progress)
    std::fprintf(stderr, "wrote %s/tokenizer.json: %d tokens (%d special, 256 bytes, %zu merges) from %zu words, %.1f MB\n",
                 opt.out_dir.c_str(), n_special + static_cast<int>(id_to_raw.size()), n_special, merges.size(),
                 words.size(), total_bytes / 1e6);
  return Status::Ok();
}

}  // namespace gorae::tokenizer
