// The continuous-batching engine: sequences run together give the tokens each gives alone
// (chunked prefill included), stop ids and max_tokens end them, cancelling frees the slot,
// a full queue or a bad sequence is refused without touching the others, and a step that throws
// (a KV cache too large to allocate) fails its sequences while the engine goes on serving.
// The prompt cache changes no token and reuses what it says; logprobs (sampled and echoed
// prompt tokens) equal the log-softmax of the model's own logits.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <fstream>
#include <memory>

#include "infer/generate.h"
#include "model/random_init.h"
#include "server/batch_engine.h"
#include "../test_util.h"

namespace gorae::server {
namespace {

using namespace std::chrono_literals;

class BatchEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ModelConfig c = testing::TinyV3Config();
    ASSERT_TRUE(WriteRandomModel(dir_->path(), c, DType::kF32, 3).ok());
    auto m = Model::Load(dir_->path());
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = m->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }

  // What the single-sequence loop generates for `spec`.
  static std::vector<int> Alone(const SequenceSpec& spec) {
    KVCache cache = model_->NewCache(MlaMode::kAbsorbed);
    Sampler sampler(spec.sampler);
    GenerateOptions g;
    g.max_new_tokens = spec.max_tokens;
    g.stop_ids = spec.stop_ids;
    auto r = Generate(*model_, cache, spec.prompt, sampler, g);
    EXPECT_TRUE(r.ok());
    return r->tokens;
  }

  // Waits (bounded) until every sequence of the job is done.
  static bool WaitDone(const Job& job) {
    uint64_t v = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!job.AllDone()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      v = job.WaitForChange(v, 100ms);
    }
    return true;
  }

  static SequenceSpec Spec(std::vector<int> prompt, float temperature, uint64_t seed, int max_tokens) {
    SequenceSpec s;
    s.prompt = std::move(prompt);
    s.sampler.temperature = temperature;
    s.sampler.seed = seed;
    s.max_tokens = max_tokens;
    return s;
  }

  // log-softmax of the model's logits at every position of `ids`, computed in one forward.
  static std::vector<std::vector<double>> LogSoftmaxAll(const std::vector<int>& ids) {
    const int64_t vocab = model_->config().vocab_size;
    KVCache cache = model_->NewCache(MlaMode::kAbsorbed);
    cache.Reserve(static_cast<int64_t>(ids.size()));
    std::vector<float> logits(ids.size() * static_cast<size_t>(vocab));
    EXPECT_TRUE(model_->Forward(ids, cache, logits.data(), true).ok());
    std::vector<std::vector<double>> out(ids.size());
    for (size_t t = 0; t < ids.size(); ++t) {
      double max = -INFINITY, sum = 0;
      for (int64_t v = 0; v < vocab; ++v) max = std::max<double>(max, logits[t * vocab + v]);
      for (int64_t v = 0; v < vocab; ++v) sum += std::exp(logits[t * vocab + v] - max);
      for (int64_t v = 0; v < vocab; ++v) out[t].push_back(logits[t * vocab + v] - max - std::log(sum));
    }
    return out;
  }

  static testing::TempDir* dir_;
  static Model* model_;
};

testing::TempDir* BatchEngineTest::dir_ = nullptr;
Model* BatchEngineTest::model_ = nullptr;

TEST_F(BatchEngineTest, BatchedSequencesEqualEachAlone) {
  EngineOptions o;
  o.parallel = 3;        // 5 sequences: two wait for a slot and join mid-way
  o.prefill_chunk = 5;   // prompts longer than this are prefilled over several steps
  o.context = 128;
  BatchEngine engine(*model_, o);
  std::vector<SequenceSpec> specs = {
      Spec({2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 0.0f, 0, 12), Spec({20, 21}, 0.0f, 0, 9),
      Spec({30, 31, 32, 33, 34, 35, 36}, 0.9f, 5, 14), Spec({40}, 1.0f, 6, 7),
      Spec({50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63}, 0.0f, 0, 10)};
  // Two jobs: one of three sequences (like n = 3) and one of two.
  Admission a = engine.Submit({specs[0], specs[1], specs[2]});
  Admission b = engine.Submit({specs[3], specs[4]});
  ASSERT_TRUE(a.job && b.job);
  ASSERT_TRUE(WaitDone(*a.job));
  ASSERT_TRUE(WaitDone(*b.job));
  for (size_t i = 0; i < specs.size(); ++i) {
    const Job& job = i < 3 ? *a.job : *b.job;
    const Job::Progress p = job.Read(i < 3 ? i : i - 3);
    EXPECT_EQ(p.tokens, Alone(specs[i])) << "sequence " << i;
    EXPECT_EQ(p.finish, FinishReason::kLength);
  }
  EXPECT_GE(engine.Stats().peak_batch, 2);
  EXPECT_TRUE(engine.WaitIdle(10s));
  EXPECT_EQ(engine.Stats().active, 0);
}

TEST_F(BatchEngineTest, StopIdEndsTheSequence) {
  SequenceSpec s = Spec({3, 1, 4, 1, 5}, 0.0f, 0, 20);
  const std::vector<int> free_run = Alone(s);
  ASSERT_GE(free_run.size(), 4u);
  s.stop_ids = {free_run[3]};
  BatchEngine engine(*model_, EngineOptions{});
  Admission a = engine.Submit({s});
  ASSERT_TRUE(a.job);
  ASSERT_TRUE(WaitDone(*a.job));
  const Job::Progress p = a.job->Read(0);
  EXPECT_EQ(p.finish, FinishReason::kStop);
  ASSERT_FALSE(p.tokens.empty());
  EXPECT_EQ(p.tokens.back(), free_run[3]);
  EXPECT_LE(p.tokens.size(), 4u);
}

TEST_F(BatchEngineTest, CancelFreesTheSlotForTheNext) {
  EngineOptions o;
  o.parallel = 1;
  o.context = 256;
  BatchEngine engine(*model_, o);
  Admission a = engine.Submit({Spec({5, 6, 7}, 1.0f, 1, 250)});
  Admission b = engine.Submit({Spec({8, 9}, 0.0f, 0, 4)});
  ASSERT_TRUE(a.job && b.job);
  uint64_t v = 0;
  for (int i = 0; i < 600 && a.job->Read(0).tokens.empty(); ++i) v = a.job->WaitForChange(v, 100ms);
  a.job->Cancel();
  ASSERT_TRUE(WaitDone(*a.job));
  ASSERT_TRUE(WaitDone(*b.job));
  EXPECT_LT(a.job->Read(0).tokens.size(), 250u);
  EXPECT_EQ(b.job->Read(0).tokens, Alone(Spec({8, 9}, 0.0f, 0, 4)));
  EXPECT_TRUE(engine.WaitIdle(10s));
}

TEST_F(BatchEngineTest, FullQueueIsRefusedAndOthersGoOn) {
  EngineOptions o;
  o.parallel = 1;
  o.max_queued = 1;
  o.context = 256;
  BatchEngine engine(*model_, o);
  Admission a = engine.Submit({Spec({5, 6, 7}, 1.0f, 1, 200)});
  Admission b = engine.Submit({Spec({8, 9}, 0.0f, 0, 3)});
  ASSERT_TRUE(a.job && b.job);
  Admission c = engine.Submit({Spec({10}, 0.0f, 0, 3)});
  EXPECT_TRUE(c.overloaded);
  EXPECT_FALSE(c.job);
  ASSERT_TRUE(WaitDone(*a.job));
  ASSERT_TRUE(WaitDone(*b.job));
  EXPECT_EQ(a.job->Read(0).tokens.size(), 200u);
  EXPECT_EQ(b.job->Read(0).tokens, Alone(Spec({8, 9}, 0.0f, 0, 3)));
}

TEST_F(BatchEngineTest, BadSequencesAreRefusedWithTheField) {
  EngineOptions o;
  o.context = 16;
  BatchEngine engine(*model_, o);
  auto error = [&](SequenceSpec s) { return engine.Submit({s}).error.message(); };
  EXPECT_NE(error(Spec({}, 0.0f, 0, 3)).find("prompt:"), std::string::npos);
  EXPECT_NE(error(Spec({1, 97}, 0.0f, 0, 3)).find("prompt: token id 97"), std::string::npos);
  EXPECT_NE(error(Spec({1, 2, 3}, 0.0f, 0, 14)).find("max_tokens: "), std::string::npos);
  EXPECT_NE(error(Spec({1}, -1.0f, 0, 3)).find("temperature"), std::string::npos);
  // Nothing was queued, and a good one still runs.
  Admission ok = engine.Submit({Spec({1, 2, 3}, 0.0f, 0, 13)});
  ASSERT_TRUE(ok.job);
  ASSERT_TRUE(WaitDone(*ok.job));
  EXPECT_EQ(ok.job->Read(0).tokens.size(), 13u);
}

TEST_F(BatchEngineTest, StopAcceptingDrains) {
  BatchEngine engine(*model_, EngineOptions{});
  Admission a = engine.Submit({Spec({1, 2}, 0.0f, 0, 20)});
  ASSERT_TRUE(a.job);
  engine.StopAccepting();
  EXPECT_TRUE(engine.Submit({Spec({3}, 0.0f, 0, 2)}).overloaded);
  ASSERT_TRUE(WaitDone(*a.job));
  EXPECT_EQ(a.job->Read(0).tokens.size(), 20u);
  EXPECT_TRUE(engine.WaitIdle(10s));
}

// A request whose KV cache cannot be allocated (std::bad_alloc inside the batch step) fails with
// the cause, and the engine thread survives to serve the next request. The allocation is made
// far larger than the machine's memory, so the kernel refuses it at once; where it could be
// granted lazily (overcommit mode 1, or a sanitizer's allocator) the test cannot tell, and skips.
TEST_F(BatchEngineTest, AStepThatThrowsFailsItsSequencesAndServingGoesOn) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer allocators map huge requests lazily instead of failing them";
#endif
  std::ifstream overcommit("/proc/sys/vm/overcommit_memory");
  int mode = 1;
  if (!(overcommit >> mode) || mode == 1) GTEST_SKIP() << "vm.overcommit_memory = 1 grants any allocation";
  const int max_tokens = INT_MAX - 16;
  const double layer_bytes = static_cast<double>(max_tokens) * 4.0 *
                             static_cast<double>(KVCache::FloatsPerToken(model_->config(), MlaMode::kAbsorbed));
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  if (layer_bytes < 4 * ram) GTEST_SKIP() << "this machine's memory could hold the cache: nothing would fail";

  EngineOptions o;
  o.parallel = 2;
  o.context = int64_t{1} << 40;
  BatchEngine engine(*model_, o);
  Admission huge = engine.Submit({Spec({1, 2, 3}, 0.0f, 0, max_tokens)});
  ASSERT_TRUE(huge.job) << huge.error.message();
  ASSERT_TRUE(WaitDone(*huge.job));
  EXPECT_FALSE(huge.job->error().ok());
  EXPECT_NE(huge.job->error().message().find("the batch step failed"), std::string::npos)
      << huge.job->error().message();
  EXPECT_TRUE(huge.job->Read(0).tokens.empty());
  // The engine thread is alive, the slot is free again, and the next request is served exactly.
  Admission next = engine.Submit({Spec({8, 9}, 0.0f, 0, 5)});
  ASSERT_TRUE(next.job);
  ASSERT_TRUE(WaitDone(*next.job));
  EXPECT_TRUE(next.job->error().ok()) << next.job->error().message();
  EXPECT_EQ(next.job->Read(0).tokens, Alone(Spec({8, 9}, 0.0f, 0, 5)));
  EXPECT_TRUE(engine.WaitIdle(10s));
  EXPECT_EQ(engine.Stats().active, 0);
}

std::vector<int> Range(int first, int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(first + i % 40);
  return v;
}

std::vector<int> Concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Turn after turn of a conversation, n > 1 and sequences running side by side: the same tokens
// with the prompt cache as without it, and the reuse it reports is what was shared.
TEST_F(BatchEngineTest, PromptCacheChangesNoTokenAndReusesSharedPrefixes) {
  EngineOptions o;
  o.parallel = 3;
  o.prefill_chunk = 7;
  o.context = 256;
  const std::vector<int> system = Range(2, 30);
  const std::vector<int> turn1 = Concat(system, {50, 51, 52});
  auto run = [&](bool cache, std::vector<int>* cached) {
    EngineOptions oc = o;
    oc.prompt_cache = cache;
    BatchEngine engine(*model_, oc);
    std::vector<std::vector<int>> out;
    auto finish = [&](const Admission& a) {
      EXPECT_TRUE(a.job);
      EXPECT_TRUE(WaitDone(*a.job));
      for (size_t i = 0; i < a.job->size(); ++i) {
        out.push_back(a.job->Read(i).tokens);
        cached->push_back(a.job->Read(i).cached_prompt_tokens);
      }
    };
    // Turn 1, then turn 2 = turn 1 + its answer + more: all of turn 1 is reused.
    finish(engine.Submit({Spec(turn1, 0.0f, 0, 6)}));
    const std::vector<int> turn2 = Concat(Concat(turn1, out.back()), {60, 61});
    finish(engine.Submit({Spec(turn2, 0.8f, 3, 6)}));
    // n = 3 of one prompt sharing the system prefix: choices 1 and 2 wait for choice 0's prefill.
    const std::vector<int> other = Concat(system, Range(70, 12));
    finish(engine.Submit({Spec(other, 0.9f, 11, 5), Spec(other, 0.9f, 12, 5), Spec(other, 0.9f, 13, 5)}));
    // While a long answer runs in one slot, a prompt sharing its prefix copies from that slot.
    Admission longer = engine.Submit({Spec(Concat(turn1, {90}), 0.0f, 0, 40)});
    uint64_t v = 0;
    for (int i = 0; i < 600 && longer.job->Read(0).tokens.size() < 2; ++i) v = longer.job->WaitForChange(v, 100ms);
    finish(engine.Submit({Spec(Concat(turn1, {90, 91}), 0.0f, 0, 4)}));
    finish(longer);
    return out;
  };
  std::vector<int> cached_on, cached_off;
  const auto with = run(true, &cached_on);
  const auto without = run(false, &cached_off);
  ASSERT_EQ(with.size(), without.size());
  for (size_t i = 0; i < with.size(); ++i) EXPECT_EQ(with[i], without[i]) << "sequence " << i;
  for (int c : cached_off) EXPECT_EQ(c, 0);
  ASSERT_EQ(cached_on.size(), 7u);
  EXPECT_EQ(cached_on[0], 0);                                  // nothing cached yet
  EXPECT_EQ(cached_on[1], static_cast<int>(turn1.size()) + 5);  // turn 1 and the answer tokens fed back
  EXPECT_EQ(cached_on[2], static_cast<int>(system.size()));     // the system prefix of the slots
  EXPECT_EQ(cached_on[3], static_cast<int>(system.size() + 12 - 1));  // all but the last prompt token
  EXPECT_EQ(cached_on[4], static_cast<int>(system.size() + 12 - 1));
  EXPECT_EQ(cached_on[5], static_cast<int>(turn1.size() + 1));  // copied from the running slot
  EXPECT_EQ(cached_on[6], static_cast<int>(system.size()));     // the long one: its slot had the system prefix
  // The exact tokens also equal the single-sequence loop's.
  EXPECT_EQ(with[0], Alone(Spec(turn1, 0.0f, 0, 6)));
}

TEST_F(BatchEngineTest, LogprobsAreTheLogSoftmaxOfTheModelsLogits) {
  EngineOptions o;
  o.context = 128;
  o.prefill_chunk = 4;  // the echoed prompt spans several chunks
  BatchEngine engine(*model_, o);
  const std::vector<int> prompt = {5, 9, 2, 33, 7, 1, 60, 14, 3};
  SequenceSpec s = Spec(prompt, 0.7f, 4, 6);
  s.logprobs = 5;
  s.prompt_logprobs = 3;
  Admission a = engine.Submit({s});
  ASSERT_TRUE(a.job) << a.error.message();
  ASSERT_TRUE(WaitDone(*a.job));
  const Job::Progress p = a.job->Read(0);
  ASSERT_EQ(p.tokens.size(), 6u);
  ASSERT_EQ(p.logprobs.size(), 6u);
  ASSERT_EQ(p.prompt_logprobs.size(), prompt.size() - 1);
  const auto ref = LogSoftmaxAll(Concat(prompt, p.tokens));
  auto check = [&](const TokenLogprob& lp, size_t position, int top) {
    EXPECT_NEAR(lp.logprob, ref[position][static_cast<size_t>(lp.id)], 1e-4) << "position " << position;
    ASSERT_EQ(lp.top.size(), static_cast<size_t>(top));
    for (size_t k = 0; k < lp.top.size(); ++k) {
      EXPECT_NEAR(lp.top[k].second, ref[position][static_cast<size_t>(lp.top[k].first)], 1e-4);
      if (k > 0) {
        EXPECT_GE(lp.top[k - 1].second, lp.top[k].second);
      }
    }
    // No id outside the list is more likely than its last entry.
    for (size_t v = 0; v < ref[position].size(); ++v) {
      const bool listed = std::any_of(lp.top.begin(), lp.top.end(), [&](auto& e) { return e.first == int(v); });
      if (!listed) {
        EXPECT_LE(ref[position][v], lp.top.back().second + 1e-6);
      }
    }
  };
  for (size_t t = 0; t + 1 < prompt.size(); ++t) {
    EXPECT_EQ(p.prompt_logprobs[t].id, prompt[t + 1]);
    check(p.prompt_logprobs[t], t, 3);
  }
  for (size_t t = 0; t < p.tokens.size(); ++t) {
    EXPECT_EQ(p.logprobs[t].id, p.tokens[t]);
    check(p.logprobs[t], prompt.size() - 1 + t, 5);
  }

  // Echo alone (max_tokens 0): the prompt's logprobs and no token.
  SequenceSpec echo = Spec(prompt, 0.0f, 0, 0);
  echo.prompt_logprobs = 1;
  Admission e = engine.Submit({echo});
  ASSERT_TRUE(e.job) << e.error.message();
  ASSERT_TRUE(WaitDone(*e.job));
  EXPECT_TRUE(e.job->Read(0).tokens.empty());
  ASSERT_EQ(e.job->Read(0).prompt_logprobs.size(), prompt.size() - 1);
  EXPECT_NEAR(e.job->Read(0).prompt_logprobs[3].logprob, p.prompt_logprobs[3].logprob, 1e-5);

  // Out of range, or max_tokens 0 without echo: refused with the field.
  SequenceSpec bad = Spec(prompt, 0.0f, 0, 3);
  bad.logprobs = 21;
  EXPECT_NE(engine.Submit({bad}).error.message().find("top_logprobs"), std::string::npos);
  EXPECT_NE(engine.Submit({Spec(prompt, 0.0f, 0, 0)}).error.message().find("max_tokens"), std::string::npos);
}

// Sequences under a grammar, sampled and greedy, batched with an unconstrained one: every
// constrained output is a whole sentence of the grammar followed by the end id, and the
// unconstrained sequence is unchanged by its neighbours' masks.
TEST_F(BatchEngineTest, GrammarConstrainedSequencesAlwaysMatch) {
  const int64_t vocab = model_->config().vocab_size;
  const std::string alphabet = "abc{}\":0123456789 xyz";
  std::vector<std::string> bytes;
  std::vector<GrammarVocab::Kind> kinds;
  const int end_id = static_cast<int>(vocab) - 1;
  for (int64_t id = 0; id < vocab; ++id) {
    const bool end = id == end_id;
    // Single characters, and a few two-character tokens so that tokens can span grammar parts.
    std::string t(1, alphabet[static_cast<size_t>(id) % alphabet.size()]);
    if (id % 5 == 3) t += alphabet[static_cast<size_t>(id / 5) % alphabet.size()];
    bytes.push_back(end ? "" : t);
    kinds.push_back(end ? GrammarVocab::Kind::kEnd : GrammarVocab::Kind::kText);
  }
  auto grammar = Grammar::Parse(R"(root ::= "{" "\"" [abc]{1,3} "\":" [1-9] [0-9]? "}")");
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  auto constraint = std::make_shared<GrammarConstraint>(*grammar, std::make_shared<GrammarVocab>(bytes, kinds));
  {
    const auto first = constraint->Mask(constraint->NewMatcher());
    ASSERT_GT(std::count(first->begin(), first->end(), true), 0) << "no token can start the grammar";
  }

  EngineOptions o;
  o.parallel = 4;
  o.context = 128;
  BatchEngine engine(*model_, o);
  std::vector<SequenceSpec> specs;
  for (int k = 0; k < 6; ++k) {
    SequenceSpec sp = Spec({2, 3, 4, static_cast<int>(10 + k)}, k == 0 ? 0.0f : 1.0f, 100 + k, 40);
    sp.stop_ids = {end_id};
    sp.constraint = constraint;
    specs.push_back(sp);
  }
  const SequenceSpec free_spec = Spec({7, 8, 9}, 0.0f, 0, 12);
  specs.push_back(free_spec);
  Admission a = engine.Submit(specs);
  ASSERT_TRUE(a.job) << a.error.message();
  ASSERT_TRUE(WaitDone(*a.job));
  for (size_t i = 0; i + 1 < specs.size(); ++i) {
    const Job::Progress p = a.job->Read(i);
    ASSERT_FALSE(p.tokens.empty());
    EXPECT_EQ(p.tokens.back(), end_id) << "sequence " << i << " did not end by the end id";
    std::string text;
    for (size_t t = 0; t + 1 < p.tokens.size(); ++t) text += bytes[static_cast<size_t>(p.tokens[t])];
    GrammarMatcher m(*grammar);
    ASSERT_TRUE(m.Accepts(text)) << "sequence " << i << ": " << text;
    m.Advance(text);
    EXPECT_TRUE(m.CanEnd()) << "sequence " << i << ": " << text;
  }
  EXPECT_EQ(a.job->Read(specs.size() - 1).tokens, Alone(free_spec));
}

}  // namespace
}  // namespace gorae::server
