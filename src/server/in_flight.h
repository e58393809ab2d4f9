// One generation request being answered (internal to the server): the engine job, and per
// choice the text pipeline, the logprobs gathered and the timings for /metrics. The OpenAI and
// Ollama writers (http_server.cc, ollama_api.cc) both drive it with Pump.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/batch_engine.h"
#include "server/choice_text.h"
#include "server/logprob_format.h"
#include "server/metrics.h"
#include "server/openai_format.h"
#include "server/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace gorae::server {

using Clock = std::chrono::steady_clock;

inline double SecondsBetween(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// One choice's logprobs in its endpoint's shape, gathered as its tokens are shown.
struct ChoiceLogprobs {
  explicit ChoiceLogprobs(const tokenizer::Tokenizer& tok, bool chat)
      : tok(tok), chat(chat), legacy(chat ? nullptr : std::make_unique<LegacyLogprobs>(tok)) {}
  const tokenizer::Tokenizer& tok;
  const bool chat;
  nlohmann::json entries = nlohmann::json::array();            // chat's content entries
  std::unique_ptr<LegacyLogprobs> legacy;  // the completions lists
  size_t streamed = 0;                     // entries already sent in chunks

  size_t size() const { return chat ? entries.size() : legacy->size(); }
  void Add(const TokenLogprob& lp) {
    if (chat) {
      entries.push_back(ChatLogprobEntry(tok, lp));
    } else {
      legacy->Add(lp);
    }
  }
  nlohmann::json Since(size_t from) const {
    if (!chat) return legacy->ToJson(from);
    nlohmann::json content = nlohmann::json::array();
    for (size_t i = from; i < entries.size(); ++i) content.push_back(entries[i]);
    return {{"content", std::move(content)}, {"refusal", nullptr}};
  }
  // The entries since the last chunk, for the next one (null when there are none).
  nlohmann::json TakeForChunk() {
    if (size() == streamed) return nullptr;
    nlohmann::json out = Since(streamed);
    streamed = size();
    return out;
  }
};

// One generation request in flight: the engine job and the text pipeline of each choice.
struct InFlight {
  ResponseHeader header;
  std::shared_ptr<Job> job;
  std::vector<std::unique_ptr<ChoiceText>> text;
  std::vector<size_t> consumed;          // ids of each choice already fed to its text
  std::vector<std::string> finish;       // "" while running
  std::vector<ChoiceResult> results;     // accumulated text (whole responses)
  std::vector<bool> role_sent;
  std::vector<std::unique_ptr<ChoiceLogprobs>> logprobs;  // per choice; null when not asked
  std::vector<size_t> logprobs_taken;  // generated tokens' logprobs moved from the job
  // echo: the prompt comes first in each choice's text, its tokens first in its logprobs.
  struct Echo {
    std::vector<int> ids;  // the prompt as fed
    size_t skip = 0;       // leading ids the server added (the BOS), not echoed
    std::string text;
    bool done = false;
  };
  std::vector<Echo> echo;            // per choice; empty without echo
  std::vector<int> cached;           // per choice: prompt tokens served from the prompt cache
  std::vector<std::unique_ptr<ToolCallStream>> tool_stream;  // per choice, when calls are parsed; else empty
  std::vector<std::vector<ParsedToolCall>> fresh_calls;      // parsed, not yet written out
  std::vector<int> calls_written;                            // per choice: tool calls sent so far
  int choices_per_prompt = 1;
  int prompt_tokens = 0;
  bool include_usage = false;
  uint64_t version = 0;
  std::atomic<int>* in_flight = nullptr;
  ServerMetrics* metrics = nullptr;
  Clock::time_point start = Clock::now();  // the request's arrival
  std::vector<Clock::time_point> first_token;  // per choice, once it has one
  bool saw_first_token = false;

  ~InFlight() {
    if (job) job->Cancel();  // a client gone mid-way: free the slots now
    if (in_flight) in_flight->fetch_sub(1);
  }

  bool Done() const {
    return std::all_of(finish.begin(), finish.end(), [](const std::string& f) { return !f.empty(); });
  }

  Usage usage() const {
    Usage u;
    u.prompt_tokens = prompt_tokens;
    for (const auto& t : text) u.completion_tokens += t->tokens();
    // A prompt counts once: its first choice's reuse (the others copy that choice's prefill).
    for (size_t i = 0; i < cached.size(); i += static_cast<size_t>(choices_per_prompt)) u.cached_tokens += cached[i];
    return u;
  }

  // Moves what the engine produced since the last call through each choice's text pipeline;
  // `emit(i, delta, finish_reason)` is called for each change (finish_reason "" while running).
  template <typename Emit>
  void Pump(Emit&& emit) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (!finish[i].empty()) continue;
      const bool echo_now = !echo.empty() && !echo[i].done;
      const size_t logprobs_from = logprobs_taken[i];
      const Job::Progress p = job->Read(i, logprobs_from, echo_now && logprobs[i]);
      if (p.prefilled) cached[i] = p.cached_prompt_tokens;
      SplitDelta d;
      if (echo_now && p.prefilled) EchoPrompt(i, p, d);
      std::span<const int> fresh(p.tokens.data() + consumed[i], p.tokens.size() - consumed[i]);
      if (consumed[i] == 0 && !fresh.empty()) FirstToken(i);
      consumed[i] = p.tokens.size();
      Append(d, text[i]->Feed(fresh));
      // Logprobs for the tokens whose text is shown (not an end id, nothing past a stop).
      if (logprobs[i]) {
        for (size_t shown = static_cast<size_t>(text[i]->shown_tokens()); logprobs_taken[i] < shown; ++logprobs_taken[i]) {
          logprobs[i]->Add(p.logprobs[logprobs_taken[i] - logprobs_from]);
        }
      }
      std::string reason;
      if (text[i]->stopped()) {
        job->Cancel(i);  // a stop string or end id: no need for more tokens
        reason = "stop";
      } else if (p.done) {
        reason = p.finish == FinishReason::kStop ? "stop" : "length";
      }
      if (!reason.empty()) Append(d, text[i]->Finish());
      if (!tool_stream.empty()) TakeToolCalls(i, d, reason);
      if (!d.empty() || !reason.empty() || (!fresh_calls.empty() && !fresh_calls[i].empty())) emit(i, d, reason);
      if (!reason.empty()) Finished(i, reason, p.tokens.size());
    }
  }

  // Writes a streamed response's next bytes; a failed write means the client is gone, so the
  // job is cancelled (its slots are free before the next step) and false ends the stream.
  template <typename Sink>
  bool Write(Sink& sink, const std::string& out, bool done) {
    if (!sink.write(out.data(), out.size())) {
      job->Cancel();
      return false;
    }
    if (done) sink.done();
    return true;
  }

 private:
  // The answer's tool-call blocks become calls (held in fresh_calls until written); an answer
  // that ends after calling finishes with "tool_calls".
  void TakeToolCalls(size_t i, SplitDelta& d, std::string& reason) {
    ToolCallStream& ts = *tool_stream[i];
    ToolCallStream::Out o = ts.Push(d.content);
    if (!reason.empty()) {
      ToolCallStream::Out rest = ts.Finish();
      o.content += rest.content;
      o.calls.insert(o.calls.end(), rest.calls.begin(), rest.calls.end());
    }
    d.content = std::move(o.content);
    fresh_calls[i].insert(fresh_calls[i].end(), o.calls.begin(), o.calls.end());
    if (reason == "stop" && ts.calls() > 0) reason = "tool_calls";
  }
  void EchoPrompt(size_t i, const Job::Progress& p, SplitDelta& d) {
    Echo& e = echo[i];
    e.done = true;
    d.content = e.text;
    if (!logprobs[i]) return;
    LegacyLogprobs& lists = *logprobs[i]->legacy;
    for (size_t j = e.skip; j < e.ids.size(); ++j) {
      // prompt_logprobs[j - 1] is token j's; nothing predicts token 0.
      if (j == 0) {
        lists.AddUnpredicted(e.ids[0]);
      } else {
        lists.Add(p.prompt_logprobs[j - 1]);
      }
    }
  }
  void FirstToken(size_t i) {
    first_token.resize(text.size());
    first_token[i] = Clock::now();
    if (!saw_first_token && metrics) metrics->ObserveTimeToFirstToken(SecondsBetween(start, first_token[i]));
    saw_first_token = true;
  }
  void Finished(size_t i, const std::string& reason, size_t tokens) {
    finish[i] = reason;
    if (!metrics) return;
    const Clock::time_point now = Clock::now();
    if (tokens > 1) metrics->ObserveTimePerOutputToken(SecondsBetween(first_token[i], now) / double(tokens - 1));
    if (Done()) metrics->ObserveRequestDuration(SecondsBetween(start, now));
  }
};

}  // namespace gorae::server
