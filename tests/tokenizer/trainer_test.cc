// The trainer: deterministic output, loadable by gorae, and (via the golden written by
// tools/tokenizer_golden.py --gorae, which loads the same training output in Hugging Face
// `tokenizers`) encoding identical to Hugging Face.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "test_util.h"
#include "tokenizer/trainer.h"

namespace gorae::tokenizer {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/gorae_tok_train_XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

TEST(Trainer, MatchesHuggingFaceOnTrainedTokenizer) {
  TrainerOptions opt;
  opt.files = {testing::TestPath("data/train_corpus.txt")};
  opt.vocab_size = 2000;
  opt.out_dir = TempDir();
  opt.progress = false;
  ASSERT_TRUE(TrainTokenizer(opt).ok());
  auto tok = testing::LoadOrFail(opt.out_dir);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab_size(), 2000);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  ASSERT_TRUE(tok->chat_template().ok());
  EXPECT_EQ(tok->chat_template().value(), ChatTemplateKind::kGorae);
  const std::string golden = testing::TestPath("golden/trained_encode.jsonl");
  auto rows = testing::ReadJsonl(golden);
  ASSERT_GT(rows.size(), 100u);
  int failures = 0;
  for (const auto& row : rows) {
    const std::string text = row["text"];
    auto ids = tok->Encode(text, row.value("add_bos", false));
    ASSERT_TRUE(ids.ok());
    if (*ids != row["ids"].get<std::vector<int32_t>>()) {
      ADD_FAILURE() << "mismatch for " << testing::Show(text);
      if (++failures > 5) break;
    }
    if (!row.value("add_bos", false)) EXPECT_EQ(tok->Decode(*ids).value(), text);
  }
  std::string cmd = "rm -rf '" + opt.out_dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(Trainer, RejectsBadOptionsAndInput) {
  TrainerOptions opt;
  opt.files = {testing::TestPath("data/train_corpus.txt")};
  opt.vocab_size = 100;
  opt.out_dir = "/tmp/unused";
  opt.progress = false;
  Status s = TrainTokenizer(opt);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("too small"), std::string::npos);

  std::string dir = TempDir();
  std::string bad = dir + "/bad.txt";
  FILE* f = std::fopen(bad.c_str(), "wb");
  std::fputs("line one\nline \xFF two\n", f);
  std::fclose(f);
  opt.files = {bad};
  opt.vocab_size = 300;
  s = TrainTokenizer(opt);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad.txt:2: not valid UTF-8"), std::string::npos) << s.message();
  std::string cmd = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace gorae::tokenizer
