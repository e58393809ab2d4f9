#include "server/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace gorae::server {

namespace {

// Prometheus writes floats in Go's strconv form; any decimal a parser reads back exactly will do.
std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help, double value) {
  Header(out, name, type, help);
  out += fmt::format("{} {}\n", name, Number(value));
}

// Label values escape backslash, double quote and newline.
std::string LabelValue(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\', s += c;
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  return s;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[bucket];
  sum_ += value;
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view help) const {
  std::lock_guard<std::mutex> lock(mu_);
  Header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? Number(bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
  }
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, Number(sum_), name, cumulative);
}

ServerMetrics::ServerMetrics()
    // Time to first token: from a few ms (a cached short prompt) to minutes (a long CPU prefill).
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}),
      // Per output token: 1 ms (a tiny model) to 2 s (a big one on a laptop).
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2}),
      duration_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void ServerMetrics::CountResponse(std::string_view route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++responses_[{std::string(route), status}];
}

std::string ServerMetrics::Render(const EngineStats& engine, const EngineOptions& options) const {
  std::string out;
  Header(out, "gorae_requests_total", "counter", "HTTP responses sent, by route and status code.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, count] : responses_) {
      out += fmt::format("gorae_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", LabelValue(key.first), key.second,
                         count);
    }
  }
  Scalar(out, "gorae_prompt_tokens_total", "counter", "Prompt tokens of the generation requests admitted.",
         static_cast<double>(prompt_tokens_.load()));
  Scalar(out, "gorae_prompt_tokens_cached_total", "counter",
         "Prompt tokens the engine took from its prompt cache instead of prefilling them.",
         static_cast<double>(engine.cached_prompt_tokens));
  Scalar(out, "gorae_generation_tokens_total", "counter", "Tokens sampled by the engine.",
         static_cast<double>(engine.generated));
  ttft_.Render(out, "gorae_time_to_first_token_seconds",
               "From a generation request's arrival to its first generated token.");
  tpot_.Render(out, "gorae_time_per_output_token_seconds",
               "Mean time between a choice's generated tokens after the first (one sample per choice).");
  duration_.Render(out, "gorae_request_duration_seconds", "From a generation request's arrival to its last token.");
  Scalar(out, "gorae_engine_steps_total", "counter", "Batched forward passes run by the engine.",
         static_cast<double>(engine.steps));
  Scalar(out, "gorae_engine_step_sequences_total", "counter",
         "Sequences over all engine steps (divided by gorae_engine_steps_total: the mean batch size).",
         static_cast<double>(engine.stepped_sequences));
  Scalar(out, "gorae_batch_size_peak", "gauge", "Most sequences in one engine step so far.", engine.peak_batch);
  Scalar(out, "gorae_slots", "gauge", "Sequences the engine decodes together at most (--parallel).",
         options.parallel);
  Scalar(out, "gorae_slots_busy", "gauge", "Sequences holding a slot now.", engine.active);
  Scalar(out, "gorae_queue_length", "gauge", "Sequences waiting for a slot.", engine.queued);
  Scalar(out, "gorae_kv_cache_tokens", "gauge", "Tokens held in the KV caches of the sequences holding a slot.",
         static_cast<double>(engine.kv_tokens));
  Scalar(out, "gorae_kv_cache_capacity_tokens", "gauge",
         "Tokens the allocated KV caches of all slots can hold without growing.",
         static_cast<double>(engine.kv_capacity_tokens));
  Scalar(out, "gorae_kv_cache_bytes", "gauge", "Bytes allocated for the KV caches of all slots.",
         static_cast<double>(engine.kv_bytes));
  Scalar(out, "gorae_accepting_requests", "gauge", "1 while new requests are admitted, 0 while draining.",
         engine.accepting ? 1 : 0);
  return out;
}

}  // namespace gorae::server
