// StopMatcher and ReasoningSplitter: every way of cutting the text into pieces must give the
// same result as the whole text at once (stop strings and tags may straddle token borders).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/text_stream.h"

namespace gorae::server {
namespace {

// Feeds `text` in pieces of `size` bytes.
std::pair<std::string, bool> StopAll(const std::vector<std::string>& stops, const std::string& text, size_t size) {
  StopMatcher m(stops);
  std::string out;
  for (size_t i = 0; i < text.size() && !m.stopped(); i += size) out += m.Push(text.substr(i, size));
  out += m.Finish();
  return {out, m.stopped()};
}

SplitDelta SplitAll(bool open, const std::string& text, size_t size) {
  ReasoningSplitter s(open);
  SplitDelta all;
  for (size_t i = 0; i < text.size(); i += size) {
    SplitDelta d = s.Push(text.substr(i, size));
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  SplitDelta d = s.Finish();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

TEST(StopMatcher, CutsAtTheEarliestStopWhateverThePieces) {
  for (size_t size = 1; size <= 12; ++size) {
    auto [out, stopped] = StopAll({"END", "lo w"}, "hello world END more", size);
    EXPECT_EQ(out, "hel") << "piece size " << size;
    EXPECT_TRUE(stopped);
  }
}

TEST(StopMatcher, ReleasesAPartialMatchThatDoesNotComplete) {
  for (size_t size = 1; size <= 8; ++size) {
    auto [out, stopped] = StopAll({"ENDX"}, "a END b EN", size);
    EXPECT_EQ(out, "a END b EN") << "piece size " << size;
    EXPECT_FALSE(stopped);
  }
}

TEST(StopMatcher, NoStopsPassesEverythingAtOnce) {
  StopMatcher m({"", ""});
  EXPECT_EQ(m.Push("abc"), "abc");
  EXPECT_EQ(m.Finish(), "");
}

TEST(StopMatcher, IgnoresTextAfterTheMatch) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.Push("one\n"), "one");
  EXPECT_EQ(m.Push("\ntwo"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Push("three"), "");
  EXPECT_EQ(m.Finish(), "");
}

TEST(ReasoningSplitter, SplitsAThinkBlockWhateverThePieces) {
  const std::string text = "<think>\nLet me see: 2+2.\n</think>\n\nThe answer is 4.";
  for (size_t size = 1; size <= text.size(); ++size) {
    SplitDelta d = SplitAll(false, text, size);
    EXPECT_EQ(d.reasoning, "Let me see: 2+2.") << "piece size " << size;
    EXPECT_EQ(d.content, "The answer is 4.") << "piece size " << size;
  }
}

TEST(ReasoningSplitter, PromptThatOpenedTheBlockStartsInReasoning) {
  // DeepSeek-R1's generation prompt ends in "<think>\n": the output has only the closing tag.
  for (size_t size = 1; size <= 6; ++size) {
    SplitDelta d = SplitAll(true, "step one\nstep two </think> done", size);
    EXPECT_EQ(d.reasoning, "step one\nstep two");
    EXPECT_EQ(d.content, "done");
  }
}

TEST(ReasoningSplitter, NoBlockIsAllContent) {
  for (size_t size = 1; size <= 5; ++size) {
    SplitDelta d = SplitAll(false, "  <thin but not a tag", size);
    EXPECT_EQ(d.reasoning, "");
    EXPECT_EQ(d.content, "  <thin but not a tag");
  }
}

TEST(ReasoningSplitter, TagLaterInTheTextIsContent) {
  SplitDelta d = SplitAll(false, "Hi <think>x</think>", 3);
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Hi <think>x</think>");
}

TEST(ReasoningSplitter, UnclosedBlockIsAllReasoning) {
  for (size_t size = 1; size <= 4; ++size) {
    SplitDelta d = SplitAll(false, "<think>still thinking </thi", size);
    EXPECT_EQ(d.reasoning, "still thinking </thi");
    EXPECT_EQ(d.content, "");
  }
}

TEST(ReasoningSplitter, KeepsInnerWhitespaceOfReasoning) {
  SplitDelta d = SplitAll(false, "<think>a \n b</think>c", 2);
  EXPECT_EQ(d.reasoning, "a \n b");
  EXPECT_EQ(d.content, "c");
}

TEST(ReasoningSplitter, StreamsReasoningBeforeTheBlockCloses) {
  ReasoningSplitter s(false);
  EXPECT_TRUE(s.Push("<thi").empty());
  EXPECT_EQ(s.Push("nk>abc").reasoning, "abc");
  EXPECT_EQ(s.Push(" def </").reasoning, " def");
  SplitDelta d = s.Push("think>ans");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "ans");
}

TEST(PromptOpensReasoning, RecognisesTheR1GenerationPrompt) {
  EXPECT_TRUE(PromptOpensReasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_TRUE(PromptOpensReasoning("x<think>"));
  EXPECT_FALSE(PromptOpensReasoning("<｜User｜>hi<｜Assistant｜>"));
  EXPECT_FALSE(PromptOpensReasoning("<think>a</think>\n"));
}

}  // namespace
}  // namespace gorae::server
