// The server's counters for GET /metrics, in the Prometheus text exposition format (version
// 0.0.4: `# HELP`, `# TYPE`, one sample per line, histograms as cumulative `_bucket{le=...}`
// series with `_sum` and `_count`), so that Prometheus, Grafana agents or a curl can watch a
// local server: requests by route and status, prompt and generated tokens, time to first token
// and time per output token, and the engine's slots, queue, batch and KV cache.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/batch_engine.h"

namespace gorae::server {

// A fixed-bucket histogram (upper bounds ascending; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends the HELP/TYPE lines and the bucket, sum and count samples of `name`.
  void Render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  // One HTTP response sent: `route` is the matched route (or "other", so that the paths of
  // unknown requests do not become series of their own).
  void CountResponse(std::string_view route, int status);
  void AddPromptTokens(int64_t n) { prompt_tokens_.fetch_add(n); }
  void ObserveTimeToFirstToken(double seconds) { ttft_.Observe(seconds); }
  void ObserveTimePerOutputToken(double seconds) { tpot_.Observe(seconds); }
  void ObserveRequestDuration(double seconds) { duration_.Observe(seconds); }

  // The whole exposition, the engine's gauges included.
  std::string Render(const EngineStats& engine, const EngineOptions& options) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> responses_;  // (route, status) -> count
  std::atomic<int64_t> prompt_tokens_{0};
  Histogram ttft_;
  Histogram tpot_;
  Histogram duration_;
};

}  // namespace gorae::server
