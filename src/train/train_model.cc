#include "train/train_model.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "tensor/dtype.h"

namespace gorae::train {

namespace {

// Walks the name table three times: to size the matrix buffer, to bind the parameters, and to
// bind the gradients (same order, same offsets, so tensors_[i] pairs up param and grad).
class Allocator : public WeightVisitor {
 public:
  enum class Pass { kCount, kParams, kGrads };
  Allocator(Pass pass, float* base, std::vector<ParamTensor>* tensors)
      : pass_(pass), base_(base), tensors_(tensors) {}

  Status OnMatrix(const std::string& name, int64_t rows, int64_t cols, Matrix* slot) override {
    float* p = base_ == nullptr ? nullptr : base_ + offset_;
    offset_ += rows * cols;
    slot->dtype = DType::kF32;
    slot->rows = rows;
    slot->cols = cols;
    slot->data = p;
    slot->scale_inv = nullptr;
    Record(name, {rows, cols}, p, rows * cols, /*decay=*/true);
    return Status::Ok();
  }

  Status OnVector(const std::string& name, int64_t n, std::vector<float>* slot) override {
    slot->assign(static_cast<size_t>(n), 0.0f);
    Record(name, {n}, slot->data(), n, /*decay=*/false);
    return Status::Ok();
  }

  int64_t matrix_floats() const { return offset_; }

 private:
  void Record(const std::string& name, std::vector<int64_t> shape, float* p, int64_t n, bool decay) {
    if (pass_ == Pass::kParams) {
      ParamTensor t;
      t.name = name;
      t.shape = std::move(shape);
      t.param = p;
      t.n = n;
      t.decay = decay;
      t.trainable = name.find("e_score_correction_bias") == std::string::npos;
      tensors_->push_back(std::move(t));
    } else if (pass_ == Pass::kGrads) {
      (*tensors_)[index_].grad = p;
    }
    ++index_;
  }

  Pass pass_;
  float* base_;
  std::vector<ParamTensor>* tensors_;
  int64_t offset_ = 0;
  size_t index_ = 0;
};

// The MTP-only tensors of module k, named as the V3 release names them.
Status VisitMtp(WeightVisitor& v, const ModelConfig& c, int64_t k, MtpWeights* w) {
  const std::string p = fmt::format("model.layers.{}.", c.num_hidden_layers + k);
  const int64_t D = c.hidden_size;
  GORAE_RETURN_IF_ERROR(v.OnVector(p + "enorm.weight", D, &w->enorm));
  GORAE_RETURN_IF_ERROR(v.OnVector(p + "hnorm.weight", D, &w->hnorm));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + "eh_proj.weight", D, 2 * D, &w->eh_proj));
  GORAE_RETURN_IF_ERROR(v.OnVector(p + "shared_head.norm.weight", D, &w->head_norm));
  return Status::Ok();
}

Status VisitAll(const ModelConfig& c, int64_t depth, WeightVisitor& v, ModelWeights* w, std::vector<MtpWeights>* mtp) {
  ModelConfig extended = c;
  extended.num_hidden_layers = c.num_hidden_layers + depth;
  GORAE_RETURN_IF_ERROR(VisitWeights(extended, v, w));
  mtp->resize(static_cast<size_t>(depth));
  for (int64_t k = 0; k < depth; ++k) GORAE_RETURN_IF_ERROR(VisitMtp(v, c, k, &(*mtp)[k]));
  return Status::Ok();
}

// splitmix64, uniform in [-1, 1).
struct InitRng {
  uint64_t state;
  float Uniform() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<float>((z >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
  }
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<TrainModel>> TrainModel::Create(const ModelConfig& config, int64_t mtp_depth) {
  GORAE_RETURN_IF_ERROR(ValidateModelConfig(config));
  if (mtp_depth < 0) return InvalidArgument("mtp depth must be >= 0, got {}", mtp_depth);
  if (config.qk_rope_head_dim % 2 != 0) {
    return InvalidArgument("field 'qk_rope_head_dim' must be even (rope rotates pairs), got {}", config.qk_rope_head_dim);
  }
  auto m = std::unique_ptr<TrainModel>(new TrainModel());
  m->config_ = config;
  m->mtp_depth_ = mtp_depth;
  {
    Allocator count(Allocator::Pass::kCount, nullptr, nullptr);
    ModelWeights scratch;
    std::vector<MtpWeights> scratch_mtp;
    GORAE_RETURN_IF_ERROR(VisitAll(config, mtp_depth, count, &scratch, &scratch_mtp));
    m->param_data_.assign(static_cast<size_t>(count.matrix_floats()), 0.0f);
    m->grad_data_.assign(static_cast<size_t>(count.matrix_floats()), 0.0f);
  }
  Allocator bind_params(Allocator::Pass::kParams, m->param_data_.data(), &m->tensors_);
  GORAE_RETURN_IF_ERROR(VisitAll(config, mtp_depth, bind_params, &m->params_, &m->mtp_params_));
  Allocator bind_grads(Allocator::Pass::kGrads, m->grad_data_.data(), &m->tensors_);
  GORAE_RETURN_IF_ERROR(VisitAll(config, mtp_depth, bind_grads, &m->grads_, &m->mtp_grads_));
  return m;
}

void TrainModel::InitRandom(uint64_t seed) {
  InitRng rng{seed};
  const double blocks = static_cast<double>(config_.num_hidden_layers + mtp_depth_);
  for (ParamTensor& t : tensors_) {
    if (t.shape.size() == 2) {
      float std_dev = 1.0f / std::sqrt(static_cast<float>(t.shape[1]));
      if (t.name == "model.embed_tokens.weight") std_dev = 1.0f;
      if (EndsWith(t.name, "o_proj.weight") || EndsWith(t.name, "down_proj.weight")) {
        std_dev /= static_cast<float>(std::sqrt(2.0 * blocks));
      }
      const float a = std::sqrt(3.0f) * std_dev;  // uniform [-a, a] has this std
      for (int64_t i = 0; i < t.n; ++i) t.param[i] = a * rng.Uniform();
    } else {
      const float v = t.trainable ? 1.0f : 0.0f;  // norm weights 1, router bias 0
      for (int64_t i = 0; i < t.n; ++i) t.param[i] = v;
    }
  }
}

Status TrainModel::LoadFrom(const Checkpoint& ckpt) {
  for (ParamTensor& t : tensors_) {
    const TensorView* v = ckpt.Find(t.name);
    if (v == nullptr) return NotFound("tensor '{}' is missing from the checkpoint in '{}'", t.name, ckpt.dir());
    if (!v->dtype_known) return Unsupported("tensor '{}' in '{}': dtype {} is not supported", t.name, *v->file, v->dtype_name);
    if (v->shape != t.shape) {
      TensorView expected;
      expected.shape = t.shape;
      return InvalidArgument("tensor '{}' in '{}': expected shape {}, file has {}", t.name, *v->file,
                             expected.ShapeString(), v->ShapeString());
    }
    if (v->dtype == DType::kF8E4M3) {
      const TensorView* s = ckpt.Find(t.name + "_scale_inv");
      if (s == nullptr || t.shape.size() != 2 || s->dtype != DType::kF32) {
        return InvalidArgument("tensor '{}' in '{}': F8_E4M3 needs an F32 '{}_scale_inv'", t.name, *v->file, t.name);
      }
      Matrix m{DType::kF8E4M3, t.shape[0], t.shape[1], v->data, reinterpret_cast<const float*>(s->data)};
      DequantizeRows(m, 0, m.rows, t.param);
    } else {
      ConvertToF32(v->dtype, v->data, t.param, static_cast<size_t>(t.n));
    }
  }
  return Status::Ok();
}

std::vector<TensorToWrite> TrainModel::TensorsToSave() const {
  std::vector<TensorToWrite> out;
  for (const ParamTensor& t : tensors_) out.push_back({t.name, DType::kF32, t.shape, t.param});
  const int64_t V = config_.vocab_size, D = config_.hidden_size;
  for (int64_t k = 0; k < mtp_depth_; ++k) {
    const std::string p = fmt::format("model.layers.{}.", config_.num_hidden_layers + k);
    out.push_back({p + "embed_tokens.weight", DType::kF32, {V, D}, params_.embed.data});
    out.push_back({p + "shared_head.head.weight", DType::kF32, {V, D}, params_.lm_head.data});
  }
  return out;
}

Result<std::unique_ptr<Model>> TrainModel::InferenceModel() const {
  ModelWeights w = params_;
  w.layers.resize(static_cast<size_t>(config_.num_hidden_layers));
  return Model::FromWeights(config_, std::move(w));
}

void TrainModel::ZeroGrad() {
  for (ParamTensor& t : tensors_) std::memset(t.grad, 0, static_cast<size_t>(t.n) * sizeof(float));
}

int64_t TrainModel::NumParams() const {
  int64_t n = 0;
  for (const ParamTensor& t : tensors_) n += t.n;
  return n;
}

}  // namespace gorae::train
