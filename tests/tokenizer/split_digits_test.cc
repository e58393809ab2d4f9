// TrainerOptions::split_digits (`gorae tokenizer train --split-digits`): every digit is its own
// pre-token, so no learned token holds two digits; the tokenizer.json written says so in a form
// Hugging Face `tokenizers` reads identically (golden/trained_split_digits_encode.jsonl, written
// by split_digits_golden.py from the same training run); the default keeps DeepSeek's runs of 3.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/trainer.h"

namespace gorae::tokenizer {
namespace {

struct Trained {
  std::string dir;
  std::shared_ptr<const Tokenizer> tok;
  nlohmann::json json;
};

Trained Train(bool split_digits) {
  char tmpl[] = "/tmp/gorae_tok_digits_XXXXXX";
  Trained t;
  t.dir = mkdtemp(tmpl);
  TrainerOptions opt;
  opt.files = {testing::TestPath("data/train_corpus.txt")};
  opt.vocab_size = 2000;
  opt.out_dir = t.dir;
  opt.progress = false;
  opt.split_digits = split_digits;
  EXPECT_TRUE(TrainTokenizer(opt).ok());
  t.tok = testing::LoadOrFail(t.dir);
  t.json = nlohmann::json::parse(testing::ReadFileOrDie(t.dir + "/tokenizer.json"));
  std::filesystem::remove_all(t.dir);
  return t;
}

// Longest run of ASCII digits inside any one token.
size_t MostDigitsInOneToken(const Tokenizer& tok) {
  size_t most = 0;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string_view b = tok.TokenBytes(id).value();
    most = std::max<size_t>(most, std::count_if(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; }));
  }
  return most;
}

TEST(SplitDigits, EveryDigitIsItsOwnTokenAndHuggingFaceAgrees) {
  const Trained t = Train(true);
  ASSERT_TRUE(t.tok);
  EXPECT_EQ(t.json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], "\\p{N}");
  EXPECT_EQ(MostDigitsInOneToken(*t.tok), 1u);
  // A long number is spelled digit by digit.
  const auto ids = t.tok->Encode("In 2024, 1234567 ants.").value();
  int digit_tokens = 0;
  for (int32_t id : ids) {
    const std::string_view b = t.tok->TokenBytes(id).value();
    if (std::any_of(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      EXPECT_EQ(b.size(), 1u) << b;
      ++digit_tokens;
    }
  }
  EXPECT_EQ(digit_tokens, 11);
  // Hugging Face `tokenizers` encodes every golden text the same way.
  const auto rows = testing::ReadJsonl(testing::TestPath("golden/trained_split_digits_encode.jsonl"));
  ASSERT_GE(rows.size(), 25u);
  for (const auto& row : rows) {
    const std::string text = row["text"];
    auto got = t.tok->Encode(text);
    ASSERT_TRUE(got.ok()) << testing::Show(text);
    EXPECT_EQ(*got, row["ids"].get<std::vector<int32_t>>()) << testing::Show(text);
    EXPECT_EQ(t.tok->Decode(*got).value(), text);
  }
}

TEST(SplitDigits, DefaultKeepsRunsOfUpToThreeDigits) {
  const Trained t = Train(false);
  ASSERT_TRUE(t.tok);
  EXPECT_EQ(t.json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], "\\p{N}{1,3}");
  EXPECT_GT(MostDigitsInOneToken(*t.tok), 1u);  // the corpus has enough numbers to learn merges of digits
}

}  // namespace
}  // namespace gorae::tokenizer
