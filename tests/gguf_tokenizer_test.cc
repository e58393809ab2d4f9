// The tokenizer in GGUF metadata (tokenizer/gguf_tokenizer.h): tokenizer.json -> GGUF keys ->
// Tokenizer must encode and decode id for id like the tokenizer.json it came from, on the
// Hugging Face golden files of tests/tokenizer/golden; files written by llama.cpp's gguf-py
// (tests/golden/gguf/tokenizer_*.gguf, tools/gguf_tokenizer_golden.py) load to the same; bad
// metadata gives errors naming the key.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace gorae::tokenizer {
namespace {

namespace fs = std::filesystem;

std::string Src(const std::string& rel) { return std::string(GORAE_SOURCE_DIR) + "/" + rel; }
std::string DeepSeekDir() { return Src("../shared/data/deepseek-v3-tokenizer"); }
std::string Temp(const std::string& name) {
  return (fs::temp_directory_path() / fmt::format("gorae_gguf_tok_{}_{}", getpid(), name)).string();
}

std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::shared_ptr<const Tokenizer> LoadDirOrFail(const std::string& dir) {
  auto tok = Tokenizer::Load(dir);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? *tok : nullptr;
}

std::shared_ptr<const Tokenizer> LoadGgufOrFail(const std::string& path) {
  auto tok = LoadGgufTokenizer(path);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? *tok : nullptr;
}

// Writes the tokenizer of `dir` as a GGUF file holding only tokenizer metadata.
std::string WriteTokenizerGguf(const std::string& dir, const std::string& name, int64_t vocab_size,
                               std::string* pre = nullptr) {
  GgufWriter w;
  w.SetString("general.architecture", "deepseek2");
  GgufTokenizerOptions o;
  o.vocab_size = vocab_size;
  auto written = AddTokenizerToGguf(dir, o, &w);
  EXPECT_TRUE(written.ok()) << written.status().ToString();
  if (pre && written.ok()) *pre = written->pre;
  const std::string path = Temp(name + ".gguf");
  EXPECT_TRUE(w.Write(path).ok());
  return path;
}

// Added tokens that are not special in tokenizer.json but look special (llama.cpp's rule), so
// GGUF stores them as control tokens.
std::set<int32_t> ControlByLook(const Tokenizer& t) {
  std::set<int32_t> ids;
  for (const auto& a : t.added_tokens()) {
    const std::string& c = a.content;
    const bool looks = (c.starts_with("<|") && c.ends_with("|>")) ||
                       (c.starts_with("<\uff5c") && c.ends_with("\uff5c>"));
    if (!a.special && looks) ids.insert(a.id);
  }
  return ids;
}

// Every id decodes to the same bytes, with the same validity and specialness.
void ExpectSameVocabulary(const Tokenizer& want, const Tokenizer& got) {
  ASSERT_EQ(got.vocab_size(), want.vocab_size());
  const std::set<int32_t> by_look = ControlByLook(want);
  int mismatches = 0;
  for (int32_t id = 0; id < want.vocab_size() && mismatches < 10; ++id) {
    const bool valid = want.IsValidId(id);
    if (got.IsValidId(id) != valid) {
      ADD_FAILURE() << "id " << id << " valid " << valid << " vs " << !valid;
      ++mismatches;
      continue;
    }
    if (!valid) continue;
    if (*got.TokenBytes(id) != *want.TokenBytes(id)) {
      ADD_FAILURE() << "id " << id << " bytes differ";
      ++mismatches;
    }
    if (got.IsSpecial(id) != (want.IsSpecial(id) || by_look.count(id) > 0)) {
      ADD_FAILURE() << "id " << id << " special " << got.IsSpecial(id);
      ++mismatches;
    }
  }
  EXPECT_EQ(got.bos_id(), want.bos_id());
  EXPECT_EQ(got.eos_id(), want.eos_id());
  EXPECT_EQ(got.eot_id(), want.eot_id());
  EXPECT_EQ(got.pad_id(), want.pad_id());
  ASSERT_EQ(got.chat_template().ok(), want.chat_template().ok());
  if (want.chat_template().ok()) {
    EXPECT_EQ(*got.chat_template(), *want.chat_template());
  }
  EXPECT_EQ(got.model().merge_count(), want.model().merge_count());
}

// Encodes every golden row with both tokenizers; ids must equal the golden ids (which are the
// Hugging Face ones), and decoding must give the same text.
void CheckEncodeGolden(const Tokenizer& want, const Tokenizer& got, const std::string& golden,
                       bool got_has_no_bos = false) {
  auto rows = ReadJsonl(golden);
  ASSERT_GT(rows.size(), 100u) << golden;
  const std::set<int32_t> by_look = ControlByLook(want);
  // GGUF has no lstrip/rstrip/single_word: rows with such a token are left out (and counted).
  std::vector<std::string> stripping;
  for (const auto& a : want.added_tokens())
    if (a.lstrip || a.rstrip || a.single_word) stripping.push_back(a.content);
  int failures = 0, left_out = 0;
  for (const auto& row : rows) {
    const std::string text = row["text"].get<std::string>();
    bool strips = false;
    for (const auto& c : stripping) strips |= text.find(c) != std::string::npos;
    if (strips) {
      ++left_out;
      continue;
    }
    const bool add_bos = row.value("add_bos", false);
    auto ids = row["ids"].get<std::vector<int32_t>>();
    if (add_bos && got_has_no_bos && !ids.empty() && ids[0] == want.bos_id()) ids.erase(ids.begin());
    auto a = got.Encode(text, add_bos);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    if (*a != ids) {
      ADD_FAILURE() << "encode mismatch for " << nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                    << "\n  want " << nlohmann::json(ids).dump() << "\n  got  " << nlohmann::json(*a).dump();
      if (++failures > 10) return;
      continue;
    }
    EXPECT_EQ(*got.Decode(*a), *want.Decode(*a)) << text;
    // Skipping special tokens also skips those GGUF made control tokens.
    std::vector<int32_t> kept;
    for (int32_t id : *a)
      if (!by_look.count(id)) kept.push_back(id);
    EXPECT_EQ(*got.Decode(*a, true), *want.Decode(kept, true)) << text;
  }
  EXPECT_LE(left_out, 5) << golden;
}

// ---- DeepSeek-V3: the real tokenizer, through GGUF and back ----

class DeepSeekV3Gguf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(DeepSeekDir() + "/tokenizer.json")) return;
    ref_ = Tokenizer::Load(DeepSeekDir()).value();
    path_ = WriteTokenizerGguf(DeepSeekDir(), "deepseek_v3", 129280, &pre_);  // V3's config vocab_size
    gguf_ = LoadGgufTokenizer(path_).value();
  }
  static void TearDownTestSuite() {
    if (!path_.empty()) fs::remove(path_);
  }
  void SetUp() override {
    if (!ref_) GTEST_SKIP() << "no " << DeepSeekDir();
  }
  static std::shared_ptr<const Tokenizer> ref_, gguf_;
  static std::string path_, pre_;
};
std::shared_ptr<const Tokenizer> DeepSeekV3Gguf::ref_, DeepSeekV3Gguf::gguf_;
std::string DeepSeekV3Gguf::path_, DeepSeekV3Gguf::pre_;

TEST_F(DeepSeekV3Gguf, KeysAsLlamaCppWritesThem) {
  auto f = GgufFile::Open(path_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(pre_, "deepseek-v3");
  EXPECT_EQ(g.GetString("tokenizer.ggml.model").value(), "gpt2");
  EXPECT_EQ(g.GetString("tokenizer.ggml.pre").value(), "deepseek-v3");
  auto tokens = g.GetStringArray("tokenizer.ggml.tokens").value();
  auto types = g.GetIntArray("tokenizer.ggml.token_type").value();
  ASSERT_EQ(tokens.size(), 129280u);
  ASSERT_EQ(types.size(), 129280u);
  EXPECT_EQ(tokens[0], "<\uff5cbegin\u2581of\u2581sentence\uff5c>");
  EXPECT_EQ(types[0], 3);  // control
  EXPECT_EQ(tokens[128803], "<\uff5cUser\uff5c>");
  EXPECT_EQ(types[128803], 3);  // not special in tokenizer.json, but looks special
  EXPECT_EQ(tokens[1000], ref_->model().id_to_token()[1000]);
  EXPECT_EQ(types[1000], 1);
  EXPECT_EQ(tokens[129000], "[PAD129000]");
  EXPECT_EQ(types[129000], 5);  // unused
  EXPECT_EQ(g.ArrayLength("tokenizer.ggml.merges").value(), 127741u);
  EXPECT_EQ(g.GetStringArray("tokenizer.ggml.merges").value()[0], "\u0120 t");
  EXPECT_EQ(g.GetU32("tokenizer.ggml.bos_token_id").value(), 0u);
  EXPECT_EQ(g.GetU32("tokenizer.ggml.eos_token_id").value(), 1u);
  EXPECT_EQ(g.GetU32("tokenizer.ggml.padding_token_id").value(), 1u);
  EXPECT_TRUE(g.GetBool("tokenizer.ggml.add_bos_token").value());
  EXPECT_FALSE(g.GetBool("tokenizer.ggml.add_eos_token").value());
  EXPECT_TRUE(g.GetString("tokenizer.chat_template").value().starts_with("{% if not add_generation_prompt"));
}

TEST_F(DeepSeekV3Gguf, SameVocabularyAndSpecialIds) { ExpectSameVocabulary(*ref_, *gguf_); }

TEST_F(DeepSeekV3Gguf, EncodeGolden) {
  CheckEncodeGolden(*ref_, *gguf_, Src("tests/tokenizer/golden/deepseek_v3_encode.jsonl"));
}

TEST_F(DeepSeekV3Gguf, DecodeGolden) {
  // Decoding arbitrary ids (with and without skip_special) gives the golden text; the only
  // difference GGUF makes is that tokens such as <｜User｜> count as special when skipping.
  const std::set<int32_t> by_look = ControlByLook(*ref_);
  ASSERT_EQ(by_look.size(), 14u);
  for (const auto& row : ReadJsonl(Src("tests/tokenizer/golden/deepseek_v3_decode.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    const bool skip = row["skip_special"].get<bool>();
    EXPECT_EQ(*gguf_->Decode(ids, skip), row["text"].get<std::string>()) << nlohmann::json(ids).dump();
  }
  std::vector<int32_t> ids = {128803, 19923, 128804, 128798, 1};  // <｜User｜>Hello<｜Assistant｜><think><eos>
  EXPECT_EQ(*gguf_->Decode(ids), *ref_->Decode(ids));
  EXPECT_EQ(*gguf_->Decode(ids, true), *ref_->Decode(std::vector<int32_t>{19923, 128798}, true));
}

TEST_F(DeepSeekV3Gguf, ChatAndStreaming) {
  std::vector<ChatMessage> msgs = {{"system", "Be brief.", std::nullopt}, {"user", "2+2?", std::nullopt},
                                   {"assistant", "4", std::nullopt}, {"user", "and 3+3?", std::nullopt}};
  auto a = gguf_->RenderChat(msgs, true), b = ref_->RenderChat(msgs, true);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*gguf_->Encode(*a), *ref_->Encode(*b));
  EXPECT_EQ(*gguf_->Encode("plain text", true), *ref_->Encode("plain text", true));
}

TEST_F(DeepSeekV3Gguf, ToHfFilesLoadTheSame) {
  // GGUF -> tokenizer.json + tokenizer_config.json (what `gorae convert` writes beside a model
  // converted back to Hugging Face form) loads through the ordinary tokenizer.json path.
  auto f = GgufFile::Open(path_);
  ASSERT_TRUE(f.ok());
  auto hf = GgufToHfTokenizer(**f);
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  auto tok = Tokenizer::FromJson(hf->tokenizer_json, hf->tokenizer_config_json, "round trip");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectSameVocabulary(*ref_, **tok);
  auto cfg = nlohmann::json::parse(hf->tokenizer_config_json);
  EXPECT_EQ(cfg["bos_token"], "<\uff5cbegin\u2581of\u2581sentence\uff5c>");
  EXPECT_TRUE(cfg["add_bos_token"].get<bool>());
  // and back to GGUF: the same keys again
  GgufWriter w;
  auto pre = AddTokenizerToGguf(hf->tokenizer_json, hf->tokenizer_config_json, {129280}, "round trip", &w);
  ASSERT_TRUE(pre.ok()) << pre.status().ToString();
  const std::string again = Temp("again.gguf");
  ASSERT_TRUE(w.Write(again).ok());
  auto g2 = GgufFile::Open(again);
  ASSERT_TRUE(g2.ok());
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"})
    EXPECT_EQ((*g2)->GetStringArray(key).value(), (*f)->GetStringArray(key).value()) << key;
  EXPECT_EQ((*g2)->GetIntArray("tokenizer.ggml.token_type").value(), (*f)->GetIntArray("tokenizer.ggml.token_type").value());
  fs::remove(again);
}

// ---- the style tokenizers of tests/tokenizer/data ----

class StyleGguf : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(StyleGguf, EncodeGolden) {
  const auto [style, want_pre] = GetParam();
  const std::string dir = Src(std::string("tests/tokenizer/data/") + style);
  std::string pre;
  const std::string path = WriteTokenizerGguf(dir, style, 0, &pre);
  EXPECT_EQ(pre, want_pre);
  {  // the writer says what GGUF loses: [MASK] strips the spaces around it
    GgufWriter w;
    auto written = AddTokenizerToGguf(dir, {}, &w);
    ASSERT_TRUE(written.ok());
    ASSERT_EQ(written->lost.size(), 1u);
    EXPECT_NE(written->lost[0].find("'[MASK]'"), std::string::npos) << written->lost[0];
  }
  auto ref = LoadDirOrFail(dir);
  auto got = LoadGgufOrFail(path);
  ASSERT_TRUE(ref && got);
  ExpectSameVocabulary(*ref, *got);
  CheckEncodeGolden(*ref, *got, Src(std::string("tests/tokenizer/golden/") + style + "_encode.jsonl"));
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, StyleGguf,
                         ::testing::Values(std::pair{"qwen2_style", "qwen2"}, std::pair{"llama3_style", "llama-bpe"}));

TEST(GgufTokenizerWrite, RefusesPreTokenizersLlamaCppLacks) {
  // gpt2_style puts Digits before a prefix-space ByteLevel; split_behaviors uses every Split
  // behaviour. llama.cpp has neither, so the writer says so instead of writing a wrong name.
  for (const char* style : {"gpt2_style", "split_behaviors"}) {
    GgufWriter w;
    auto r = AddTokenizerToGguf(Src(std::string("tests/tokenizer/data/") + style), {}, &w);
    ASSERT_FALSE(r.ok()) << style;
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("pre-tokenizer"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(style), std::string::npos) << r.status().message();
  }
}

TEST(GgufTokenizerWrite, VocabSizeSmallerThanTokenizerIsAnError) {
  GgufWriter w;
  GgufTokenizerOptions o;
  o.vocab_size = 1000;
  auto r = AddTokenizerToGguf(Src("tests/tokenizer/data/qwen2_style"), o, &w);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vocab_size is 1000"), std::string::npos) << r.status().message();
}

// ---- files written by llama.cpp's own gguf-py ----

TEST(GgufPyGolden, LoadsAndMatchesOurWriter) {
  // tools/gguf_tokenizer_golden.py runs convert_hf_to_gguf.py's vocabulary code (get_vocab_base,
  // SpecialVocab) with gguf-py on the style tokenizers.
  for (const auto& [style, pre] : {std::pair{"qwen2_style", "qwen2"}, std::pair{"llama3_style", "llama-bpe"}}) {
    SCOPED_TRACE(style);
    const std::string golden = Src(std::string("tests/golden/gguf/tokenizer_") + style + ".gguf");
    const std::string dir = Src(std::string("tests/tokenizer/data/") + style);
    auto theirs = GgufFile::Open(golden);
    ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
    EXPECT_EQ((*theirs)->GetString("tokenizer.ggml.pre").value(), pre);
    auto ref = LoadDirOrFail(dir);
    auto got = LoadGgufTokenizer(**theirs);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    // llama3_style has its BOS only in its post-processor template, which gguf-py's SpecialVocab
    // does not read (real Llama 3 also names it in tokenizer_config.json): that file has no BOS.
    const bool no_bos = !(*theirs)->Has("tokenizer.ggml.bos_token_id");
    if (std::string(style) == "llama3_style") {
      EXPECT_TRUE(no_bos);
    }
    EXPECT_EQ((*got)->bos_id(), no_bos ? -1 : ref->bos_id());
    EXPECT_EQ((*got)->vocab_size(), ref->vocab_size());
    EXPECT_EQ((*got)->eos_id(), ref->eos_id());
    CheckEncodeGolden(*ref, **got, Src(std::string("tests/tokenizer/golden/") + style + "_encode.jsonl"), no_bos);

    // Our writer gives the same tokens, types and merges.
    const std::string ours_path = WriteTokenizerGguf(dir, std::string("ours_") + style, 0);
    auto ours = GgufFile::Open(ours_path);
    ASSERT_TRUE(ours.ok());
    for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"})
      EXPECT_EQ((*ours)->GetString(key).value(), (*theirs)->GetString(key).value()) << key;
    for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"})
      EXPECT_EQ((*ours)->GetStringArray(key).value(), (*theirs)->GetStringArray(key).value()) << key;
    EXPECT_EQ((*ours)->GetIntArray("tokenizer.ggml.token_type").value(),
              (*theirs)->GetIntArray("tokenizer.ggml.token_type").value());
    fs::remove(ours_path);
  }
}

TEST(GgufLlamaCppFile, DeepSeekR1DistillQwen) {
  // A tokenizer written by llama.cpp's convert_hf_to_gguf.py for a published model
  // (tools/fetch_gguf.py --metadata-only --out ../models; skipped without it), against the ids
  // llama.cpp itself gives on the golden texts NFC leaves unchanged
  // (tools/gguf_tokenizer_golden.py --llama-cpp-ids). On the others gorae applies Qwen2's NFC
  // normalizer, as Hugging Face does and llama.cpp does not.
  const std::string path = Src("../models/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.meta.gguf");
  if (!fs::exists(path)) GTEST_SKIP() << "no " << path;
  auto tok = LoadGgufOrFail(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab_size(), 151665);  // 152064 tokens; the tail are "[PAD...]" fillers
  EXPECT_EQ(tok->bos_id(), 151646);      // <｜begin▁of▁sentence｜>, add_bos_token true
  EXPECT_EQ(tok->eos_id(), 151643);
  EXPECT_EQ(*tok->TokenToId("<think>"), 151648);
  // The file's chat template is the one R1 was first released with (no "<think>\n" after the
  // assistant tag), rendered natively as `gorae chat` sends it; Jinja (jinja2 on the file's
  // template) renders this conversation to the same text.
  ASSERT_TRUE(tok->chat_template().ok()) << tok->chat_template().status().message();
  EXPECT_EQ(*tok->chat_template(), ChatTemplateKind::kDeepSeekR1Initial);
  auto prompt = RenderChatTemplate(*tok->chat_template(), {{"user", "What is 347 + 589?", std::nullopt}},
                                   /*add_generation_prompt=*/true, "<｜begin▁of▁sentence｜>");
  ASSERT_TRUE(prompt.ok()) << prompt.status().message();
  EXPECT_EQ(*prompt, "<｜begin▁of▁sentence｜><｜User｜>What is 347 + 589?<｜Assistant｜>");
  EXPECT_EQ(*tok->Encode("Hello, world! 12345", true),
            (std::vector<int32_t>{151646, 9707, 11, 1879, 0, 220, 16, 17, 18, 19, 20}));  // llama.cpp's ids
  std::map<std::string, std::vector<nlohmann::json>> texts;
  int compared = 0, failures = 0;
  for (const auto& row : ReadJsonl(Src("tests/golden/gguf/r1_distill_qwen_llama_cpp.jsonl"))) {
    auto& rows = texts[row["golden"]];
    if (rows.empty()) rows = ReadJsonl(Src("tests/tokenizer/golden/" + row["golden"].get<std::string>()));
    const std::string text = rows.at(row["line"].get<size_t>())["text"].get<std::string>();
    auto ids = tok->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    ++compared;
    if (*ids != row["ids"].get<std::vector<int32_t>>()) {
      ADD_FAILURE() << "llama.cpp disagrees on " << nlohmann::json(text).dump() << "\n  llama.cpp "
                    << row["ids"].dump() << "\n  gorae     " << nlohmann::json(*ids).dump();
      if (++failures > 10) break;
    }
  }
  EXPECT_EQ(compared, 650);
}

// ---- bad metadata ----

// A small valid byte-level vocabulary: the 256 byte symbols, "he", "ll", "hell", "hello".
struct SmallVocab {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o"};
  SmallVocab() {
    for (int b = 0; b < 256; ++b) tokens.push_back(BytesToByteLevel(std::string(1, static_cast<char>(b))));
    for (const char* t : {"he", "ll", "hell", "hello", "<|bos|>"}) tokens.push_back(t);
    types.assign(tokens.size(), 1);
    types.back() = 3;
  }
  GgufWriter Writer(const std::string& pre = "deepseek-v3") const {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetString("tokenizer.ggml.pre", pre);
    w.SetStringArray("tokenizer.ggml.tokens", tokens);
    w.SetIntArray("tokenizer.ggml.token_type", GgufType::kI32, types);
    w.SetStringArray("tokenizer.ggml.merges", merges);
    w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tokens.size() - 1));
    w.SetBool("tokenizer.ggml.add_bos_token", true);
    return w;
  }
};

Result<std::shared_ptr<const Tokenizer>> LoadWritten(const GgufWriter& w, const std::string& name) {
  const std::string path = Temp(name + ".gguf");
  Status s = w.Write(path);
  if (!s.ok()) return s;
  auto tok = LoadGgufTokenizer(path);
  fs::remove(path);
  return tok;
}

void ExpectError(const Result<std::shared_ptr<const Tokenizer>>& r, StatusCode code,
                 std::initializer_list<const char*> needles) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  for (const char* n : needles) EXPECT_NE(r.status().message().find(n), std::string::npos) << r.status().message();
}

TEST(GgufTokenizerRead, SmallVocabularyWorks) {
  SmallVocab v;
  auto tok = LoadWritten(v.Writer(), "small");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const int32_t hello = 259, bos = 260;
  EXPECT_EQ(*(*tok)->Encode("hello"), std::vector<int32_t>{hello});
  EXPECT_EQ(*(*tok)->Encode("hello<|bos|>hel", true), (std::vector<int32_t>{bos, hello, bos, 256, 'l'}));
  EXPECT_EQ((*tok)->bos_id(), bos);
  EXPECT_TRUE((*tok)->IsSpecial(bos));
}

TEST(GgufTokenizerRead, EveryPreTokenizerNameLoads) {
  SmallVocab v;
  for (const char* pre : {"deepseek-v3", "deepseek-llm", "qwen2", "deepseek-r1-qwen", "llama-bpe", "llama3", "llama-v3",
                          "gpt-2", "gpt2", "default"}) {
    auto tok = LoadWritten(v.Writer(pre), "pre");
    ASSERT_TRUE(tok.ok()) << pre << ": " << tok.status().ToString();
    auto ids = (*tok)->Encode("hello Hello 1234 \u4e16\u754c!\n\n  x");
    ASSERT_TRUE(ids.ok()) << pre << ": " << ids.status().ToString();
    EXPECT_EQ(*(*tok)->Decode(*ids), "hello Hello 1234 \u4e16\u754c!\n\n  x") << pre;
  }
  // Without tokenizer.ggml.pre llama.cpp uses "default"; so does gorae.
  SmallVocab v2;
  GgufWriter no_pre;
  no_pre.SetString("tokenizer.ggml.model", "gpt2");
  no_pre.SetStringArray("tokenizer.ggml.tokens", v2.tokens);
  no_pre.SetStringArray("tokenizer.ggml.merges", v2.merges);
  auto tok = LoadWritten(no_pre, "no_pre");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(*(*tok)->Encode("hello"), std::vector<int32_t>{259});
}

TEST(GgufTokenizerRead, Errors) {
  SmallVocab v;
  {  // no tokenizer at all
    GgufWriter w;
    w.SetString("general.architecture", "llama");
    ExpectError(LoadWritten(w, "none"), StatusCode::kNotFound, {"tokenizer.ggml.model"});
  }
  {  // SentencePiece
    GgufWriter w = v.Writer();
    w.SetString("tokenizer.ggml.model", "llama");
    ExpectError(LoadWritten(w, "spm"), StatusCode::kUnsupported, {"tokenizer.ggml.model", "'llama'", "SentencePiece"});
  }
  {  // unknown pre-tokenizer
    ExpectError(LoadWritten(v.Writer("falcon3-x"), "pre"), StatusCode::kUnsupported,
                {"tokenizer.ggml.pre", "'falcon3-x'", "deepseek-v3"});
  }
  {  // missing tokens
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetString("tokenizer.ggml.pre", "qwen2");
    w.SetStringArray("tokenizer.ggml.merges", v.merges);
    ExpectError(LoadWritten(w, "no_tokens"), StatusCode::kNotFound, {"tokenizer.ggml.tokens"});
  }
  {  // missing merges
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetStringArray("tokenizer.ggml.tokens", v.tokens);
    ExpectError(LoadWritten(w, "no_merges"), StatusCode::kNotFound, {"tokenizer.ggml.merges"});
  }
  {  // token_type of another length
    GgufWriter w = v.Writer();
    std::vector<int64_t> short_types(v.types.begin(), v.types.end() - 3);
    w.SetIntArray("tokenizer.ggml.token_type", GgufType::kI32, short_types);
    ExpectError(LoadWritten(w, "types"), StatusCode::kInvalidArgument,
                {"tokenizer.ggml.token_type", "258 entries", "261"});
  }
  {  // a merge that uses an unknown token
    SmallVocab bad;
    bad.merges[2] = "he lx";
    ExpectError(LoadWritten(bad.Writer(), "merge"), StatusCode::kInvalidArgument,
                {"tokenizer.ggml.merges[2]", "'he lx'", "'lx'"});
  }
  {  // a merge whose result is not a token
    SmallVocab bad;
    bad.merges.push_back("hello hello");
    ExpectError(LoadWritten(bad.Writer(), "merge2"), StatusCode::kInvalidArgument,
                {"tokenizer.ggml.merges[4]", "'hellohello'"});
  }
  {  // a merge without a space
    SmallVocab bad;
    bad.merges[0] = "he";
    ExpectError(LoadWritten(bad.Writer(), "merge3"), StatusCode::kInvalidArgument, {"tokenizer.ggml.merges[0]"});
  }
  {  // a token type out of range, a SentencePiece byte token
    SmallVocab bad;
    bad.types[5] = 9;
    ExpectError(LoadWritten(bad.Writer(), "type9"), StatusCode::kInvalidArgument, {"tokenizer.ggml.token_type[5]"});
    bad.types[5] = 6;
    ExpectError(LoadWritten(bad.Writer(), "type6"), StatusCode::kUnsupported, {"tokenizer.ggml.tokens[5]", "byte"});
  }
  {  // the same token twice
    SmallVocab bad;
    bad.tokens[258] = "he";
    ExpectError(LoadWritten(bad.Writer(), "dup"), StatusCode::kInvalidArgument, {"tokenizer.ggml.tokens[258]", "256"});
  }
  {  // a special id past the end; a key of the wrong type
    GgufWriter w = v.Writer();
    w.SetU32("tokenizer.ggml.eos_token_id", 5000);
    ExpectError(LoadWritten(w, "eos"), StatusCode::kInvalidArgument, {"tokenizer.ggml.eos_token_id", "5000"});
    GgufWriter w2 = v.Writer();
    w2.SetString("tokenizer.ggml.tokens", "abc");
    auto r = LoadWritten(w2, "type");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("tokenizer.ggml.tokens"), std::string::npos) << r.status().message();
  }
  {  // invalid UTF-8 in a token
    SmallVocab bad;
    bad.tokens[257] = "l\xff";
    ExpectError(LoadWritten(bad.Writer(), "utf8"), StatusCode::kInvalidArgument, {"tokenizer.ggml.tokens[257]", "UTF-8"});
  }
}

}  // namespace
}  // namespace gorae::tokenizer
