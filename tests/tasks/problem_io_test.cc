// Problem JSONL files: round trip with extra fields, line-numbered errors, field checks.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

class ProblemFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gorae_tasks_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The error message of reading `text`, "" if it reads fine.
  std::string ReadError(const std::string& text) {
    Result<std::vector<Problem>> r = ReadProblems(Write("bad.jsonl", text));
    return r.ok() ? "" : r.status().message();
  }
  std::string dir_;
};

const char kGood1[] = R"({"task":"arithmetic","prompt":"What is 2 + 3?","answer":"5"})";
const char kGood2[] = R"({"task":"linear","prompt":"Solve for x: 2x + 1 = 7.","answer":"3"})";

TEST_F(ProblemFiles, RoundTripWithExtraFields) {
  std::vector<Problem> problems;
  for (const std::string& task : BuiltinTasks()) {
    Result<std::vector<Problem>> g = GenerateProblems(task, Split::kDev, 20, 3);
    ASSERT_TRUE(g.ok());
    problems.insert(problems.end(), g->begin(), g->end());
  }
  Problem user;
  user.task = "trivia";
  user.prompt = "Capital of France? \"quoted\"\nnew line";
  user.answer = "Paris";
  user.extra = {{"source", "atlas"}, {"difficulty", 3}, {"tags", {"geo", "easy"}}, {"numbers", {1, 2}}};
  problems.push_back(user);
  problems[0].extra["id"] = "a-0";

  const std::string path = dir_ + "/p.jsonl";
  ASSERT_TRUE(WriteProblems(path, problems).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  Result<std::vector<Problem>> back = ReadProblems(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem &a = problems[i], &b = (*back)[i];
    EXPECT_EQ(a.task, b.task);
    EXPECT_EQ(a.prompt, b.prompt);
    EXPECT_EQ(a.answer, b.answer);
    EXPECT_EQ(a.numbers, b.numbers);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.extra, b.extra) << a.extra.dump() << " vs " << b.extra.dump();
  }
  EXPECT_EQ((*back)[0].extra["id"], "a-0");
  EXPECT_EQ(back->back().extra["numbers"], nlohmann::json({1, 2}));  // kept for a non-countdown task
  // Writing what was read gives the same bytes.
  const std::string again = dir_ + "/q.jsonl";
  ASSERT_TRUE(WriteProblems(again, *back).ok());
  std::ifstream f1(path), f2(again);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f1), {}), std::string(std::istreambuf_iterator<char>(f2), {}));
}

TEST_F(ProblemFiles, BlankLinesSkipped) {
  Result<std::vector<Problem>> r = ReadProblems(Write("p.jsonl", std::string("\n") + kGood1 + "\r\n   \n" + kGood2 + "\n\n"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].answer, "3");
}

TEST_F(ProblemFiles, MalformedLineNamesFileAndLine) {
  Result<std::vector<Problem>> r = ReadProblems(Write("broken.jsonl", std::string(kGood1) + "\n" + kGood2 + "\n{\"task\": \n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("broken.jsonl"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().message();
  // Blank lines still count for the line number.
  EXPECT_NE(ReadError(std::string(kGood1) + "\n\n[1,2]\n").find("line 3"), std::string::npos);
  EXPECT_NE(ReadError("not json").find("line 1"), std::string::npos);
}

TEST_F(ProblemFiles, MissingOrWrongFields) {
  std::string e = ReadError(std::string(kGood1) + "\n" + R"({"task":"arithmetic","answer":"5"})" + "\n");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("\"prompt\""), std::string::npos) << e;
  e = ReadError(R"({"task":"arithmetic","prompt":"What is 2 + 3?","answer":5})");
  EXPECT_NE(e.find("\"answer\""), std::string::npos) << e;
  EXPECT_NE(e.find("string"), std::string::npos) << e;
  e = ReadError(R"({"prompt":"p","answer":"a"})");
  EXPECT_NE(e.find("\"task\""), std::string::npos) << e;
  e = ReadError(R"({"task":"countdown","prompt":"p","answer":"1+2","target":3})");
  EXPECT_NE(e.find("numbers"), std::string::npos) << e;
  e = ReadError(R"({"task":"countdown","prompt":"p","answer":"1+2","numbers":[1,2]})");
  EXPECT_NE(e.find("target"), std::string::npos) << e;
  e = ReadError(R"({"task":"countdown","prompt":"p","answer":"1+2","numbers":[1,"2"],"target":3})");
  EXPECT_NE(e.find("numbers"), std::string::npos) << e;
}

TEST_F(ProblemFiles, UnparsableOrWrongAnswers) {
  std::string e = ReadError(std::string(kGood1) + "\n" + R"({"task":"arithmetic","prompt":"What is 2 + 3?","answer":"five"})");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("not an integer"), std::string::npos) << e;
  e = ReadError(R"({"task":"linear","prompt":"Solve for x: 2x + 1 = 8.","answer":"3.5"})");
  EXPECT_NE(e.find("not an integer"), std::string::npos) << e;
  e = ReadError(R"({"task":"arithmetic","prompt":"What is 2 + 3?","answer":"6"})");
  EXPECT_NE(e.find("wrong"), std::string::npos) << e;
  e = ReadError(R"({"task":"linear","prompt":"Solve for x: 2x + 1 = 7.","answer":"4"})");
  EXPECT_NE(e.find("does not solve"), std::string::npos) << e;
  e = ReadError(R"({"task":"countdown","prompt":"p","answer":"1+2","numbers":[1,2],"target":4})");
  EXPECT_NE(e.find("does not make 4"), std::string::npos) << e;
  e = ReadError(R"({"task":"countdown","prompt":"p","answer":"1+5","numbers":[1,2],"target":6})");
  EXPECT_NE(e.find("not one of the numbers"), std::string::npos) << e;
  // An arithmetic problem in the user's own wording is accepted as long as the answer is an integer.
  EXPECT_EQ(ReadError(R"({"task":"arithmetic","prompt":"Add two and three.","answer":"5"})"), "");
  // A user task's answer is free text.
  EXPECT_EQ(ReadError(R"({"task":"trivia","prompt":"Capital of France?","answer":"Paris"})"), "");
}

TEST_F(ProblemFiles, MissingFile) {
  Result<std::vector<Problem>> r = ReadProblems(dir_ + "/nope.jsonl");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope.jsonl"), std::string::npos);
  EXPECT_FALSE(WriteProblems(dir_ + "/no/such/dir/p.jsonl", {}).ok());
}

TEST(ProblemJson, ToAndFrom) {
  Problem p;
  p.task = "countdown";
  p.prompt = "Use the numbers 1, 4 and 25 to make 99.";
  p.answer = "25*4-1";
  p.numbers = {1, 4, 25};
  p.target = 99;
  nlohmann::json j = ProblemToJson(p);
  EXPECT_EQ(j["numbers"], nlohmann::json({1, 4, 25}));
  EXPECT_EQ(j["target"], 99);
  Result<Problem> back = ProblemFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->extra.empty());
  EXPECT_FALSE(ProblemFromJson(nlohmann::json::array()).ok());
}

}  // namespace
}  // namespace gorae::tasks
