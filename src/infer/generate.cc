#include "infer/generate.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace gorae {

void MaskPastVocabLimit(std::span<float> logits, int64_t limit) {
  if (limit <= 0 || limit >= static_cast<int64_t>(logits.size())) return;
  std::fill(logits.begin() + limit, logits.end(), -std::numeric_limits<float>::infinity());
}

Result<Generation> Generate(const Model& model, KVCache& cache, std::span<const int> prompt, Sampler& sampler,
                            const GenerateOptions& options, const TokenCallback& on_token) {
  if (prompt.empty()) return InvalidArgument("the prompt has no tokens");
  const int64_t vocab = model.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(vocab));
  std::vector<int> history(prompt.begin(), prompt.end());
  GORAE_RETURN_IF_ERROR(model.Forward(prompt, cache, logits.data(), /*all_positions=*/false));

  Generation g;
  for (int i = 0; i < options.max_new_tokens; ++i) {
    MaskPastVocabLimit(logits, options.vocab_limit);
    const int next = sampler.Sample(logits, history);
    g.tokens.push_back(next);
    history.push_back(next);
    const bool stop = std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end();
    const bool go_on = on_token ? on_token(next) : true;
    if (stop) {
      g.finish = FinishReason::kStop;
      break;
    }
    if (!go_on || i + 1 == options.max_new_tokens) break;
    const int one[1] = {next};
    GORAE_RETURN_IF_ERROR(model.Forward(one, cache, logits.data(), /*all_positions=*/false));
  }
  return g;
}

Result<std::vector<int>> ParseTokenList(const std::string& text) {
  std::vector<int> ids;
  size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    if (ch == ' ' || ch == ',' || ch == '\n' || ch == '\t' || ch == '\r') {
      ++i;
      continue;
    }
    size_t j = i;
    if (text[j] == '-') ++j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    const std::string word = text.substr(i, j - i);
    const bool separated = j == text.size() || text[j] == ' ' || text[j] == ',' || text[j] == '\n' ||
                           text[j] == '\t' || text[j] == '\r';
    if (word.empty() || word == "-" || !separated) {
      size_t end = text.find_first_of(" ,\n\t\r", i);
      return InvalidArgument("token list: '{}' is not an integer token id", text.substr(i, end - i));
    }
    errno = 0;
    const long long v = std::strtoll(word.c_str(), nullptr, 10);
    if (errno == ERANGE || v < -2147483648LL || v > 2147483647LL) {
      return InvalidArgument("token list: '{}' is out of range", word);
    }
    ids.push_back(static_cast<int>(v));
    i = j;
  }
  return ids;
}

}  // namespace gorae
