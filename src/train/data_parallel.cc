#include "train/data_parallel.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"

namespace gorae::train {

namespace {

size_t Sz(int64_t n) { return static_cast<size_t>(n); }

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The block a tensor belongs to ("model.layers.{l}." names), or -1 (embedding, head, final norm).
int64_t BlockOf(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return -1;
  return std::stoll(name.substr(prefix.size()));
}

// The routed expert a tensor belongs to ("...mlp.experts.{e}." names), or -1.
int64_t ExpertOf(const std::string& name) {
  const std::string key = ".mlp.experts.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(name.substr(at + key.size()));
}

// Polls a request to completion without spinning a core (MPI progresses inside Test).
void PollUntilDone(dist::Request& r) {
  while (!r.Test()) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

}  // namespace

Result<std::unique_ptr<GradReducer>> MakeGradReducer(TrainModel& model, const ParallelOptions& o) {
  if (o.zero != 0 && o.zero != 1) return InvalidArgument("--zero must be 0 or 1, got {}", o.zero);
  if (!(o.bucket_mb > 0)) return InvalidArgument("--bucket-mb must be positive, got {}", o.bucket_mb);
  dist::Communicator& w = dist::World();
  const int E = o.expert_parallel;
  if (E > 1) {
    const int64_t experts = model.config().n_routed_experts;
    if (w.size() % E != 0) {
      return InvalidArgument("--expert-parallel {} must divide the number of ranks ({})", E, w.size());
    }
    if (experts <= 0) return InvalidArgument("--expert-parallel {}: the model has no routed experts", E);
    if (experts % E != 0) {
      return InvalidArgument("--expert-parallel {} must divide the model's {} routed experts", E, experts);
    }
    if (o.zero != 0) return Unsupported("--zero 1 with --expert-parallel is not supported yet: use one of them");
  }
  if (w.size() == 1) return std::unique_ptr<GradReducer>();
  return std::make_unique<GradReducer>(model, w, o.zero, static_cast<int64_t>(o.bucket_mb * 1048576.0), E);
}

AdamWState RankOptimizerState(const GradReducer* reducer, const AdamWState& full) {
  if (reducer == nullptr || reducer->zero_stage() == 0) return full;
  return reducer->ShardOptimizerState(full);
}

Status SaveFromRoot(GradReducer* reducer, AdamWState& opt, const std::function<Status(const AdamWState& full)>& save) {
  if (reducer != nullptr && reducer->expert_parallel()) reducer->GatherExperts(opt);
  if (reducer != nullptr && reducer->zero_stage() > 0) {
    const AdamWState full = reducer->GatherOptimizerState(opt);
    return dist::RunOnRoot([&] { return save(full); });
  }
  return dist::RunOnRoot([&] { return save(opt); });
}

Batch SliceRows(const Batch& batch, int64_t b0, int64_t b1) {
  Batch out;
  out.B = b1 - b0;
  out.T = batch.T;
  out.tokens.assign(batch.tokens.begin() + b0 * (batch.T + 1), batch.tokens.begin() + b1 * (batch.T + 1));
  out.mask.assign(batch.mask.begin() + b0 * batch.T, batch.mask.begin() + b1 * batch.T);
  return out;
}

Objective RankObjective(const Objective& base, const Batch& global, int64_t rows, int64_t depth) {
  Objective o = base;
  const int64_t T = global.T;
  double main = 0.0;
  for (float m : global.mask) main += m;
  o.main_denominator = main > 0 ? main : 1.0;  // no target anywhere: every rank's CE term is 0
  o.mtp_denominators.assign(Sz(depth), 0.0);
  for (int64_t k = 1; k <= depth; ++k) {
    double c = 0.0;
    for (int64_t b = 0; b < global.B; ++b) {
      for (int64_t t = 0; t + k < T; ++t) c += global.mask[Sz(b * T + t + k)];
    }
    o.mtp_denominators[Sz(k - 1)] = c > 0 ? c : 1.0;
  }
  o.balance_alpha = base.balance_alpha * (static_cast<double>(rows) / static_cast<double>(global.B));  // exact for rows == B
  return o;
}

void AllReduceMoeStats(dist::Communicator& comm, std::vector<MoeStats>& stats) {
  if (comm.size() == 1) return;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  for (const MoeStats& s : stats) {
    ints.insert(ints.end(), s.load.begin(), s.load.end());
    ints.push_back(s.tokens);
    ints.push_back(s.assignments);
    reals.push_back(s.entropy_sum);
    reals.push_back(s.balance_loss);
  }
  comm.AllReduceSum(ints);
  comm.AllReduceSum(reals);
  size_t i = 0, d = 0;
  for (MoeStats& s : stats) {
    for (int64_t& l : s.load) l = ints[i++];
    s.tokens = ints[i++];
    s.assignments = ints[i++];
    s.entropy_sum = reals[d++];
    s.balance_loss = reals[d++];
  }
}

GradReducer::GradReducer(TrainModel& model, dist::Communicator& comm, int zero_stage, int64_t bucket_bytes,
                         int expert_parallel)
    : model_(model), comm_(comm), zero_(zero_stage) {
  const ModelConfig& c = model.config();
  const int64_t blocks = c.num_hidden_layers + model.mtp_depth();
  if (expert_parallel > 1) {
    const int E = expert_parallel;
    ep_comm_ = comm.Split(comm.rank() / E, comm.rank());
    expert_dp_ = comm.Split(comm.rank() % E, comm.rank());
    experts_per_rank_ = c.n_routed_experts / E;
    ExpertShard shard;
    shard.begin = experts_per_rank_ * (comm.rank() % E);
    shard.end = shard.begin + experts_per_rank_;
    shard.comm = ep_comm_.get();
    model.set_expert_shard(shard);
    // The backward's all-to-alls run on the compute thread: overlap needs MPI_THREAD_MULTIPLE.
    overlap_ = dist::ConcurrentCallsAllowed();
  }
  const ExpertShard& shard = model.expert_shard();
  // Backward order: MTP blocks from the deepest, main blocks from the top, then the rest.
  std::vector<int64_t> order;
  for (int64_t b = blocks - 1; b >= 0; --b) order.push_back(b);
  order.push_back(-1);
  // Per block: the tensors reduced over the world, and this rank's experts' (over expert_dp_).
  std::vector<std::vector<size_t>> world_of(Sz(blocks + 1)), experts_of(Sz(blocks + 1));
  const auto& tensors = model.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].trainable) continue;
    const int64_t b = BlockOf(tensors[i].name);
    GORAE_CHECK(b < blocks, "tensor {} has no block", tensors[i].name);
    const int64_t e = ExpertOf(tensors[i].name);
    const size_t slot = Sz(b < 0 ? blocks : b);
    if (e < 0 || !shard.active()) {
      world_of[slot].push_back(i);
    } else if (shard.holds(e) && expert_dp_->size() > 1) {
      experts_of[slot].push_back(i);  // another rank's experts: never reduced here (their gradient is 0)
    }
  }
  const int64_t cap = std::max<int64_t>(bucket_bytes / 4, 1);
  long open[2] = {-1, -1};  // the bucket being filled, per kind
  for (int64_t b : order) {
    for (int kind = 0; kind < 2; ++kind) {
      const auto& list = (kind == 0 ? world_of : experts_of)[Sz(b < 0 ? blocks : b)];
      int64_t n = 0;
      for (size_t i : list) n += tensors[i].n;
      if (n == 0) continue;
      // A new bucket unless this block fits in the open one (the rest always gets its own).
      if (open[kind] < 0 || b < 0 || buckets_[Sz(open[kind])].n + n > cap) {
        buckets_.emplace_back();
        buckets_.back().comm = kind == 0 ? &comm_ : expert_dp_.get();
        buckets_.back().experts = kind == 1;
        open[kind] = static_cast<long>(buckets_.size() - 1);
      }
      Bucket& bk = buckets_[Sz(open[kind])];
      for (size_t i : list) {
        bk.segments.push_back({i, tensors[i].n, bk.n});
        bk.n += tensors[i].n;
      }
      if (b >= 0) bk.blocks.push_back(b);
    }
    // A block's buckets: it completes them (BlockDone marks each bucket that waits for it).
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    for (int64_t b : buckets_[i].blocks) block_buckets_[b].push_back(i);
  }
  for (Bucket& bk : buckets_) {
    bk.buffer.resize(Sz(bk.n));
    for (int r = 0; r < bk.comm->size(); ++r) {
      const auto [b0, b1] = dist::ShareOf(bk.n, r, bk.comm->size());
      bk.shares.push_back(b1 - b0);
      if (r == bk.comm->rank()) bk.own_begin = b0, bk.own_end = b1;
    }
    if (zero_ > 0) bk.owned.resize(Sz(bk.own_end - bk.own_begin));
  }
  thread_ = std::thread([this] { CommLoop(); });
}

GradReducer::~GradReducer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void GradReducer::Arm(int64_t blocks_run) {
  armed_ = true;
  next_to_send_ = 0;
  for (Bucket& b : buckets_) {
    b.pending = 0;
    for (int64_t block : b.blocks) b.pending += block < blocks_run ? 1 : 0;
    b.ready = false;
  }
  if (!overlap_) return;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i].pending == 0 && !buckets_[i].blocks.empty()) MarkReady(i);
  }
}

void GradReducer::BlockDone(int64_t block) {
  if (!armed_ || !overlap_) return;
  const auto it = block_buckets_.find(block);
  if (it == block_buckets_.end()) return;
  for (size_t b : it->second) {
    if (--buckets_[b].pending == 0) MarkReady(b);
  }
}

void GradReducer::MarkReady(size_t bucket) {
  buckets_[bucket].ready = true;
  int queued = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (next_to_send_ < buckets_.size() && buckets_[next_to_send_].ready) {
      queue_.push_back(next_to_send_++);
      ++in_flight_;
      ++queued;
    }
  }
  if (queued > 0) cv_.notify_all();
}

void GradReducer::Finish() {
  // A rank with no rows in the last micro-batch still joins every collective.
  if (!armed_) Arm(0);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (!buckets_[i].ready) MarkReady(i);
  }
  const auto t0 = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  stats_.exposed_seconds += Seconds(t0, Clock::now());
  armed_ = false;
}

void GradReducer::CommLoop() {
  for (;;) {
    size_t next = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      next = queue_.front();
      queue_.pop_front();
    }
    RunBucket(buckets_[next]);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
    }
    cv_.notify_all();
  }
}

void GradReducer::RunBucket(Bucket& b) {
  const auto t0 = Clock::now();
  auto& tensors = model_.tensors();
  for (const Segment& s : b.segments) std::memcpy(&b.buffer[Sz(s.at)], tensors[s.tensor].grad, Sz(s.n) * sizeof(float));
  if (zero_ == 0) {
    auto req = b.comm->IAllReduceSum(b.buffer.data(), b.n, dist::DType::kF32);
    PollUntilDone(*req);
    for (const Segment& s : b.segments) std::memcpy(tensors[s.tensor].grad, &b.buffer[Sz(s.at)], Sz(s.n) * sizeof(float));
  } else {
    auto req = b.comm->IReduceScatterSum(b.buffer.data(), b.owned.data(), b.shares, dist::DType::kF32);
    PollUntilDone(*req);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.bytes += b.n * static_cast<int64_t>(sizeof(float));
  stats_.comm_seconds += Seconds(t0, Clock::now());
}

template <typename Fn>
void GradReducer::ForEachInRange(const Bucket& b, int64_t begin, int64_t end, Fn fn) const {
  for (const Segment& s : b.segments) {
    const int64_t lo = std::max(begin, s.at), hi = std::min(end, s.at + s.n);
    if (lo < hi) fn(s.tensor, lo - s.at, lo - begin, hi - lo);
  }
}

double GradReducer::ShardedGradNorm() {
  double ss = 0.0;
  for (const Bucket& b : buckets_) {
    for (float g : b.owned) ss += static_cast<double>(g) * g;
  }
  return std::sqrt(comm_.SumDouble(ss));
}

void GradReducer::ShardedAdamW(AdamWState& opt, const AdamWOptions& adamw, double lr, float grad_scale) {
  GORAE_CHECK(zero_ > 0 && opt.m.size() == buckets_.size(), "ShardedAdamW needs ZeRO-1 sharded moments");
  ++opt.step;
  const AdamWFactors f = MakeAdamWFactors(adamw, opt.step, lr);
  auto& tensors = model_.tensors();
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    if (grad_scale != 1.0f) {
      for (float& g : b.owned) g *= grad_scale;
    }
    ForEachInRange(b, b.own_begin, b.own_end, [&](size_t t, int64_t in_tensor, int64_t in_slice, int64_t n) {
      AdamWRange(tensors[t].param + in_tensor, b.owned.data() + in_slice, opt.m[i].data() + in_slice,
                 opt.v[i].data() + in_slice, n, f, tensors[t].decay);
    });
  }
  // Every rank's updated slices to every rank.
  const auto t0 = Clock::now();
  for (Bucket& b : buckets_) {
    std::vector<float> mine(Sz(b.own_end - b.own_begin));
    ForEachInRange(b, b.own_begin, b.own_end, [&](size_t t, int64_t in_tensor, int64_t in_slice, int64_t n) {
      std::memcpy(&mine[Sz(in_slice)], tensors[t].param + in_tensor, Sz(n) * sizeof(float));
    });
    comm_.AllGatherV(mine.data(), b.buffer.data(), b.shares, dist::DType::kF32);
    for (const Segment& s : b.segments) std::memcpy(tensors[s.tensor].param, &b.buffer[Sz(s.at)], Sz(s.n) * sizeof(float));
  }
  stats_.optimizer_comm_seconds += Seconds(t0, Clock::now());
}

double GradReducer::ExpertParallelGradNorm() {
  const ExpertShard& shard = model_.expert_shard();
  double world = 0.0, experts = 0.0;
  for (const ParamTensor& t : model_.tensors()) {
    if (!t.trainable) continue;
    const int64_t e = ExpertOf(t.name);
    double part = 0.0;
    for (int64_t i = 0; i < t.n; ++i) part += static_cast<double>(t.grad[i]) * t.grad[i];
    if (e < 0) {
      world += part;
    } else if (shard.holds(e)) {
      experts += part;  // the group holds each expert once: its sum counts every expert once
    }
  }
  return std::sqrt(world + ep_comm_->SumDouble(experts));
}

void GradReducer::GatherExperts(AdamWState& opt) {
  auto& tensors = model_.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t e = ExpertOf(tensors[i].name);
    if (e < 0 || !tensors[i].trainable) continue;
    const int root = static_cast<int>(e / experts_per_rank_);  // its holder in group 0 (world rank r % E == r)
    comm_.Broadcast(tensors[i].param, tensors[i].n, dist::DType::kF32, root);
    comm_.Broadcast(opt.m[i].data(), tensors[i].n, dist::DType::kF32, root);
    comm_.Broadcast(opt.v[i].data(), tensors[i].n, dist::DType::kF32, root);
  }
}

AdamWState GradReducer::NewShardedState() const {
  AdamWState s;
  for (const Bucket& b : buckets_) {
    s.m.emplace_back(Sz(b.own_end - b.own_begin), 0.0f);
    s.v.emplace_back(Sz(b.own_end - b.own_begin), 0.0f);
  }
  return s;
}

AdamWState GradReducer::ShardOptimizerState(const AdamWState& full) const {
  AdamWState s = NewShardedState();
  s.step = full.step;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    ForEachInRange(buckets_[i], buckets_[i].own_begin, buckets_[i].own_end,
                   [&](size_t t, int64_t in_tensor, int64_t in_slice, int64_t n) {
                     std::memcpy(&s.m[i][Sz(in_slice)], &full.m[t][Sz(in_tensor)], Sz(n) * sizeof(float));
                     std::memcpy(&s.v[i][Sz(in_slice)], &full.v[t][Sz(in_tensor)], Sz(n) * sizeof(float));
                   });
  }
  return s;
}

AdamWState GradReducer::GatherOptimizerState(const AdamWState& sharded) const {
  AdamWState full = NewAdamWState(model_);
  full.step = sharded.step;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    const Bucket& b = buckets_[i];
    std::vector<float> all(Sz(b.n));
    for (int which = 0; which < 2; ++which) {
      const std::vector<float>& mine = which == 0 ? sharded.m[i] : sharded.v[i];
      comm_.AllGatherV(mine.data(), all.data(), b.shares, dist::DType::kF32);
      for (const Segment& s : b.segments) {
        auto& dst = which == 0 ? full.m[s.tensor] : full.v[s.tensor];
        std::memcpy(dst.data(), &all[Sz(s.at)], Sz(s.n) * sizeof(float));
      }
    }
  }
  return full;
}

CommStats GradReducer::TakeStats() {
  std::lock_guard<std::mutex> lock(mu_);
  CommStats s = stats_;
  stats_ = {};
  return s;
}

}  // namespace gorae::train
