// `gorae tokenizer ...` as scripts use it: stdin/stdout, exit codes, error messages.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "test_util.h"

namespace gorae::tokenizer {
namespace {

struct CliResult {
  int code;
  std::string out, err;
};

// Runs the gorae binary with `args`, feeding `input` on stdin.
CliResult RunGorae(const std::string& args, const std::string& input) {
  const std::string in_path = "/tmp/gorae_cli_test_in." + std::to_string(getpid());
  const std::string err_path = "/tmp/gorae_cli_test_err." + std::to_string(getpid());
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd = std::string(GORAE_BINARY) + " " + args + " < " + in_path + " 2> " + err_path;
  FILE* p = popen(cmd.c_str(), "r");
  CliResult r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = testing::ReadFileOrDie(err_path);
  std::remove(in_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::Exists(testing::DeepSeekDir() + "/tokenizer.json")) GTEST_SKIP() << "no DeepSeek tokenizer";
    model_ = "--model " + testing::DeepSeekDir();
  }
  std::string model_;
};

TEST_F(Cli, EncodeDecodeRoundTrip) {
  const std::string text = "Hello 고래!\r\n  def f():\n\treturn 1 <｜User｜> 🐋";
  CliResult enc = RunGorae("tokenizer encode " + model_, text);
  ASSERT_EQ(enc.code, 0) << enc.err;
  EXPECT_EQ(enc.out.front(), '[');
  CliResult dec = RunGorae("tokenizer decode " + model_, enc.out);
  ASSERT_EQ(dec.code, 0) << dec.err;
  EXPECT_EQ(dec.out, text);  // exactly, no newline added
  CliResult bos = RunGorae("tokenizer encode --bos " + model_, "hi");
  EXPECT_EQ(bos.out.substr(0, 3), "[0,");
}

TEST_F(Cli, InvalidInputGivesErrorAndNonZeroExit) {
  CliResult r = RunGorae("tokenizer encode " + model_, "ok \xC3\x28 bad");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("input is not valid UTF-8 (byte 3 of 9"), std::string::npos) << r.err;
  r = RunGorae("tokenizer decode " + model_, "[1, 2, 99999999]");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("token id 99999999 is out of range"), std::string::npos) << r.err;
  r = RunGorae("tokenizer decode " + model_, "[1, \"x\"]");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("element 1 is not an integer"), std::string::npos) << r.err;
  r = RunGorae("tokenizer decode " + model_, "not json");
  EXPECT_EQ(r.code, 1);
  r = RunGorae("tokenizer encode --model /nonexistent", "x");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent/tokenizer.json: cannot open"), std::string::npos) << r.err;
}

TEST_F(Cli, InfoAndChat) {
  CliResult r = RunGorae("tokenizer info " + model_, "");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("vocab_size: 128815"), std::string::npos);
  EXPECT_NE(r.out.find("bos: 0"), std::string::npos);
  EXPECT_NE(r.out.find("chat_template: deepseek-v3"), std::string::npos);
  r = RunGorae("tokenizer chat --add-generation-prompt " + model_, R"([{"role":"user","content":"hi"}])");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>");
}

TEST(CliMalformed, BrokenTokenizerJson) {
  const std::string dir = "/tmp/gorae_cli_bad_model." + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  std::ofstream(dir + "/tokenizer.json") << "{\n  \"model\": {\n    \"type\": \"BPE\",\n    \"vocab\": [\n";
  CliResult r = RunGorae("tokenizer encode --model " + dir, "x");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("tokenizer.json: invalid JSON at line"), std::string::npos) << r.err;
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace gorae::tokenizer
