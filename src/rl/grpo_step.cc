#include "rl/grpo_step.h"

#include <algorithm>

namespace gorae::rl {

namespace {

// A micro-batch of sequences as a training Batch; row_seq/row_tok map each target row to its
// sequence (index into the micro-batch) and completion token (-1: not a completion token).
struct MicroBatch {
  train::Batch batch;
  std::vector<int32_t> row_seq, row_tok;
};

MicroBatch MakeMicroBatch(const std::vector<Sequence*>& seqs, int pad_id) {
  MicroBatch m;
  int64_t T = 0;
  for (const Sequence* s : seqs) T = std::max<int64_t>(T, static_cast<int64_t>(s->tokens.size()) - 1);
  const int64_t B = static_cast<int64_t>(seqs.size());
  m.batch.B = B;
  m.batch.T = T;
  m.batch.tokens.assign(static_cast<size_t>(B * (T + 1)), pad_id);
  m.batch.mask.assign(static_cast<size_t>(B * T), 0.0f);
  m.row_seq.assign(static_cast<size_t>(B * T), -1);
  m.row_tok.assign(static_cast<size_t>(B * T), -1);
  for (int64_t b = 0; b < B; ++b) {
    const Sequence& s = *seqs[static_cast<size_t>(b)];
    std::copy(s.tokens.begin(), s.tokens.end(), m.batch.tokens.begin() + b * (T + 1));
    // Position t predicts token t + 1; completion token j is at prompt_len + j.
    for (size_t j = 0; j < s.mask.size(); ++j) {
      const int64_t row = b * T + s.prompt_len + static_cast<int64_t>(j) - 1;
      m.row_seq[static_cast<size_t>(row)] = static_cast<int32_t>(b);
      m.row_tok[static_cast<size_t>(row)] = static_cast<int32_t>(j);
      m.batch.mask[static_cast<size_t>(row)] = s.mask[j] ? 1.0f : 0.0f;
    }
  }
  return m;
}

}  // namespace

Status RecordLogProbs(train::TrainModel& model, const std::vector<Sequence*>& seqs, int pad_id, double temperature,
                      bool ref) {
  train::ModelStep runner(model);
  MicroBatch m = MakeMicroBatch(seqs, pad_id);
  train::Objective obj;
  obj.mtp_lambda = 0.0;
  const int64_t V = model.config().vocab_size;
  obj.token_weights = [&](int64_t row0, int64_t n, float* logits, float* weights) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      weights[i] = 0.0f;
      const int32_t b = m.row_seq[static_cast<size_t>(row0 + i)];
      if (b < 0) continue;
      const int32_t j = m.row_tok[static_cast<size_t>(row0 + i)];
      Sequence& s = *seqs[static_cast<size_t>(b)];
      const int target = s.tokens[static_cast<size_t>(s.prompt_len + j)];
      const double lp = LogProbAndEntropy({logits + i * V, static_cast<size_t>(V)}, target, temperature).logp;
      (ref ? s.ref_logp : s.old_logp)[static_cast<size_t>(j)] = static_cast<float>(lp);
    }
  };
  return runner.Run(m.batch, obj, 1.0, /*backward=*/false, nullptr).status();
}

Status GrpoForwardBackward(train::ModelStep& runner, const std::vector<Sequence*>& seqs, int pad_id,
                           double temperature, const GrpoLossConfig& lc, bool use_old, bool use_ref,
                           PassStats* stats) {
  const int64_t V = runner.model().config().vocab_size;
  MicroBatch m = MakeMicroBatch(seqs, pad_id);
  train::Objective obj;
  obj.mtp_lambda = 0.0;
  std::vector<double> row_loss, row_kl, row_ent;
  std::vector<uint8_t> row_clip;
  obj.token_weights = [&](int64_t row0, int64_t n, float* logits, float* weights) {
    row_loss.assign(static_cast<size_t>(n), 0.0);
    row_kl.assign(static_cast<size_t>(n), 0.0);
    row_ent.assign(static_cast<size_t>(n), 0.0);
    row_clip.assign(static_cast<size_t>(n), 0);
    const float inv_t = static_cast<float>(1.0 / temperature);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const size_t r = static_cast<size_t>(row0 + i);
      float* z = logits + i * V;
      const int32_t b = m.row_seq[r];
      if (b < 0 || weights[i] == 0.0f) {
        weights[i] = 0.0f;
        continue;
      }
      const int32_t j = m.row_tok[r];
      const Sequence& s = *seqs[static_cast<size_t>(b)];
      const int target = s.tokens[static_cast<size_t>(s.prompt_len + j)];
      const TokenLogProb lp = LogProbAndEntropy({z, static_cast<size_t>(V)}, target, temperature);
      const double old = use_old ? s.old_logp[static_cast<size_t>(j)] : lp.logp;
      const double refl = use_ref ? s.ref_logp[static_cast<size_t>(j)] : lp.logp;
      const TokenTerms t = GrpoTokenTerms(lp.logp, old, refl, s.advantage, lc);
      row_loss[static_cast<size_t>(i)] = s.weight * t.loss;
      row_kl[static_cast<size_t>(i)] = t.kl;
      row_ent[static_cast<size_t>(i)] = lp.entropy;
      row_clip[static_cast<size_t>(i)] = t.clipped;
      // The cross-entropy then runs on logits / T: its gradient wrt the raw logits carries 1 / T.
      if (temperature != 1.0) {
        for (int64_t v = 0; v < V; ++v) z[v] *= inv_t;
      }
      // CE = -logp, so weight -dL/dlogp gives dL; 1 / T is the chain rule through logits / T.
      weights[i] = static_cast<float>(-s.weight * t.d_logp / temperature);
    }
    for (int64_t i = 0; i < n; ++i) {
      const size_t r = static_cast<size_t>(row0 + i);
      if (m.row_seq[r] < 0 || m.batch.mask[r] == 0.0f) continue;
      stats->loss += row_loss[static_cast<size_t>(i)];
      stats->kl += row_kl[static_cast<size_t>(i)];
      stats->entropy += row_ent[static_cast<size_t>(i)];
      stats->clipped += row_clip[static_cast<size_t>(i)];
      ++stats->tokens;
    }
  };
  return runner.Run(m.batch, obj, 1.0, /*backward=*/true, nullptr).status();
}

}  // namespace gorae::rl
