// Unit tests: UTF-8 helpers, NFC, malformed tokenizer.json, invalid input, streaming.
#include <gtest/gtest.h>

#include <tuple>

#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

TEST(Utf8, LossyMatchesRustFromUtf8Lossy) {
  // Maximal subparts: "\xE4\xB8" (truncated) is one U+FFFD, "\xFF" one, "\xED\xA0\x80" (a
  // surrogate) three.
  EXPECT_EQ(ToValidUtf8Lossy("a\xE4\xB8" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ToValidUtf8Lossy("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8Lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8Lossy("\xF0\x9F\x90"), "\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8Lossy("ok 한국"), "ok 한국");
}

TEST(Utf8, InvalidDetection) {
  EXPECT_EQ(FindInvalidUtf8("hello 世界"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ab\xC0\xAF"), 2u);          // overlong
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);     // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("abcdefghij\x80"), 10u);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(IncompleteUtf8Tail("ab\xE4\xB8"), 2u);
  EXPECT_EQ(IncompleteUtf8Tail("ab\xE4\xB8\xAD"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("ab\xF0"), 1u);
  EXPECT_EQ(IncompleteUtf8Tail("ab\xFF"), 0u);  // invalid, not incomplete: nothing to wait for
}

TEST(ByteLevel, AlphabetRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(ByteLevelToBytes(BytesToByteLevel(all)).value(), all);
  EXPECT_EQ(BytesToByteLevel(" "), "Ġ");
  EXPECT_EQ(BytesToByteLevel("\n"), "Ċ");
}

TEST(Nfc, ComposesAndReorders) {
  EXPECT_EQ(ToNfc("e\xCC\x81"), "\xC3\xA9");                         // e + acute -> é
  EXPECT_EQ(ToNfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "각");   // Hangul jamo -> syllable
  EXPECT_EQ(ToNfc("a\xCC\xA3\xCC\x87"), ToNfc("a\xCC\x87\xCC\xA3"));  // canonical order
  EXPECT_EQ(ToNfc("\xE2\x84\xAB"), "\xC3\x85");                      // Angstrom sign -> Å
  EXPECT_EQ(ToNfc("plain ascii"), "plain ascii");
}

std::string MinimalTokenizerJson(const std::string& pre, const std::string& merges = R"([["a","b"]])") {
  return R"({"added_tokens":[{"id":3,"content":"<s>","special":true}],"normalizer":null,"pre_tokenizer":)" + pre +
         R"(,"post_processor":null,"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":)" +
         merges + "}}";
}

TEST(Load, MalformedTokenizerJsonGivesClearErrors) {
  auto bad = [](const std::string& json) {
    auto r = Tokenizer::FromJson(json, "", "t.json");
    EXPECT_FALSE(r.ok()) << json;
    return r.ok() ? std::string() : r.status().ToString();
  };
  EXPECT_NE(bad("{\"model\": ").find("t.json: invalid JSON at line 1"), std::string::npos);
  EXPECT_NE(bad("[1,2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(bad("{}").find("missing field \"model\""), std::string::npos);
  EXPECT_NE(bad(MinimalTokenizerJson(R"({"type":"ByteLevel"})", R"([["a","c"]])")).find("merges[0]"), std::string::npos);
  EXPECT_NE(bad(MinimalTokenizerJson(R"({"type":"ByteLevel"})", R"(["ab"])")).find("merges[0]"), std::string::npos);
  EXPECT_NE(bad(MinimalTokenizerJson(R"({"type":"Metaspace"})")).find("'Metaspace' is not supported"), std::string::npos);
  EXPECT_NE(bad(MinimalTokenizerJson(R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"})"))
                .find("pre_tokenizer.pattern"), std::string::npos);
  EXPECT_NE(bad(MinimalTokenizerJson(R"({"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"})"))
                .find("unknown value 'Sideways'"), std::string::npos);
  auto ok = Tokenizer::FromJson(MinimalTokenizerJson(R"({"type":"ByteLevel","use_regex":false,"add_prefix_space":false})"),
                                "", "t.json");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->Encode("ab").value(), (std::vector<int32_t>{2}));
  EXPECT_EQ((*ok)->Encode("a<s>b").value(), (std::vector<int32_t>{0, 3, 1}));
}

// A field of the wrong JSON type is an error naming the file and the field, not nlohmann's raw
// "[json.exception.type_error.302] type must be boolean, but is string".
TEST(Load, WrongJsonTypesNameTheField) {
  const std::string good = MinimalTokenizerJson(R"({"type":"ByteLevel"})");
  auto error = [](std::string json, const std::string& from, const std::string& to) {
    const size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    json.replace(at, from.size(), to);
    auto r = Tokenizer::FromJson(json, "", "t.json");
    EXPECT_FALSE(r.ok()) << json;
    return r.ok() ? std::string() : r.status().ToString();
  };
  for (const auto& [from, to, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {R"("special":true)", R"("special":"yes")", "t.json: added_tokens[0].special: expected a boolean, got string"},
           {R"("type":"BPE")", R"("type":3)", "t.json: model.type: expected a string, got number"},
           {R"("type":"BPE")", R"("type":"BPE","dropout":"none")", "t.json: model.dropout: expected a number, got string"},
           {R"("type":"BPE")", R"("type":"BPE","fuse_unk":1)", "t.json: model.fuse_unk: expected a boolean, got number"}}) {
    const std::string e = error(good, from, to);
    EXPECT_NE(e.find(field), std::string::npos) << e;
    EXPECT_EQ(e.find("json.exception"), std::string::npos) << e;
  }
}

TEST(Load, MissingDirectory) {
  auto r = Tokenizer::Load("/nonexistent/model");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("/nonexistent/model/tokenizer.json"), std::string::npos);
}

// Loads the 4 MB DeepSeek tokenizer once for all tests of the suite (a Tokenizer is immutable).
class DeepSeek : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::Exists(testing::DeepSeekDir() + "/tokenizer.json")) shared_ = testing::LoadOrFail(testing::DeepSeekDir());
  }
  static void TearDownTestSuite() { shared_.reset(); }
  void SetUp() override {
    if (!testing::Exists(testing::DeepSeekDir() + "/tokenizer.json")) GTEST_SKIP() << "no DeepSeek tokenizer";
    ASSERT_TRUE(shared_);
    tok_ = shared_;
  }
  static inline std::shared_ptr<const Tokenizer> shared_;
  std::shared_ptr<const Tokenizer> tok_;
};

TEST_F(DeepSeek, SpecialIdsAndTemplate) {
  EXPECT_EQ(tok_->bos_id(), 0);
  EXPECT_EQ(tok_->eos_id(), 1);
  EXPECT_EQ(tok_->eot_id(), 1);
  EXPECT_EQ(tok_->vocab_size(), 128815);
  ASSERT_TRUE(tok_->chat_template().ok());
  EXPECT_EQ(tok_->chat_template().value(), ChatTemplateKind::kDeepSeekV3);
  EXPECT_EQ(tok_->Encode("hi", true).value().front(), 0);
}

TEST_F(DeepSeek, InvalidInputIsAnErrorNotACrash) {
  auto r = tok_->Encode("abc\xFF" "def");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 3"), std::string::npos);
  std::vector<int32_t> bad_ids = {5, 128815};
  EXPECT_FALSE(tok_->Decode(bad_ids).ok());
  std::vector<int32_t> negative = {-1};
  EXPECT_FALSE(tok_->Decode(negative).ok());
  StreamDecoder s(*tok_);
  EXPECT_FALSE(s.Push(999999).ok());
}

TEST_F(DeepSeek, StreamingHoldsBackPartialCharacters) {
  // "🐋" is 4 bytes; byte-level tokens split it, and no U+FFFD may ever be emitted.
  auto ids = tok_->Encode("고래 🐋 whale 鯨").value();
  StreamDecoder s(*tok_);
  std::string all;
  for (int32_t id : ids) {
    std::string part = s.Push(id).value();
    EXPECT_EQ(FindInvalidUtf8(part), std::string_view::npos);
    EXPECT_EQ(part.find("\xEF\xBF\xBD"), std::string::npos);
    all += part;
  }
  all += s.Flush();
  EXPECT_EQ(all, "고래 🐋 whale 鯨");
}

TEST_F(DeepSeek, BatchEqualsSingle) {
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back("text " + std::to_string(i * 7919) + " 고래 whale\n");
  auto batch = tok_->EncodeBatch(texts, false, 4);
  ASSERT_TRUE(batch.ok());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*batch)[i], tok_->Encode(texts[i]).value());
  texts.push_back("bad \xC3");
  auto bad = tok_->EncodeBatch(texts, false, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("text 64"), std::string::npos);
}

TEST_F(DeepSeek, RenderChatUsesBosToken) {
  std::vector<ChatMessage> msgs = {{"system", "S", std::nullopt}, {"user", "U", std::nullopt}};
  EXPECT_EQ(tok_->RenderChat(msgs, true).value(), "<｜begin▁of▁sentence｜>S<｜User｜>U<｜Assistant｜>");
}

// The per-thread piece cache must never hand one model's ids to another model.
TEST(PieceCache, AlternatingModelsInOneThread) {
  auto a = testing::LoadOrFail(testing::TestPath("data/qwen2_style"));
  auto b = testing::LoadOrFail(testing::TestPath("data/gpt2_style"));
  ASSERT_TRUE(a && b);
  const std::string text = "the whale model token 2024 고래";
  auto ida = a->Encode(text).value(), idb = b->Encode(text).value();
  ASSERT_NE(ida, idb);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a->Encode(text).value(), ida);
    EXPECT_EQ(b->Encode(text).value(), idb);
  }
  auto a2 = testing::LoadOrFail(testing::TestPath("data/llama3_style"));  // may reuse an address
  a.reset();
  EXPECT_EQ(a2->Encode(text).value(), a2->Encode(text).value());
  EXPECT_EQ(b->Encode(text).value(), idb);
}

// Random bytes and random code points: never a crash; valid text always round-trips.
TEST(Robustness, RandomInput) {
  // llama3_style: no normalizer and no prefix space, so decode(encode(x)) == x must hold.
  auto tok = testing::LoadOrFail(testing::TestPath("data/llama3_style"));
  ASSERT_TRUE(tok);
  uint64_t state = 12345;
  auto next = [&] { state = state * 6364136223846793005ull + 1442695040888963407ull; return state >> 33; };
  for (int iter = 0; iter < 300; ++iter) {
    std::string bytes;
    for (int i = 0, n = next() % 40; i < n; ++i) bytes.push_back(static_cast<char>(next() & 0xff));
    auto r = tok->Encode(bytes);
    EXPECT_EQ(r.ok(), FindInvalidUtf8(bytes) == std::string_view::npos);
    std::string text;
    for (int i = 0, n = next() % 20; i < n; ++i) {
      uint32_t cp = next() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x20;
      AppendUtf8(cp, &text);
    }
    auto ids = tok->Encode(text);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(tok->Decode(*ids).value(), text);
  }
}

TEST(ChatTemplate, UnknownTemplateIsReported) {
  auto r = IdentifyChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("supported: deepseek-v3, deepseek-r1, deepseek-r1-initial, gorae"), std::string::npos);
}

}  // namespace
}  // namespace gorae::tokenizer
