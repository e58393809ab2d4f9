// Shared helpers for the tokenizer tests: paths of test data and JSONL golden files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace gorae::tokenizer::testing {

// tests/tokenizer/<rel>
std::string TestPath(const std::string& rel);
// ../shared/data/deepseek-v3-tokenizer beside the checkout (absent in some clones).
std::string DeepSeekDir();
bool Exists(const std::string& path);
// One JSON value per line.
std::vector<nlohmann::json> ReadJsonl(const std::string& path);
std::string ReadFileOrDie(const std::string& path);
// Loads a model dir; fails the test (returns null) on error.
std::shared_ptr<const Tokenizer> LoadOrFail(const std::string& dir);
// Short printable form of a string for failure messages.
std::string Show(const std::string& s);

}  // namespace gorae::tokenizer::testing
