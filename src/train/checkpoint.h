// Training checkpoints: a Hugging Face model directory plus the training state.
//
//   DIR/config.json            the model config (+ num_nextn_predict_layers, as V3's config.json)
//   DIR/model.safetensors      every parameter in F32, MTP layers as model.layers.{L + k}.*
//   DIR/tokenizer.json, tokenizer_config.json   copied from the tokenizer directory
//   DIR/optimizer.safetensors  AdamW moments: "<param>.exp_avg", "<param>.exp_avg_sq" (F32)
//   DIR/trainer_state.json     step, data RNG state, AdamW step, the run's options
//
// DIR loads with `gorae logits/generate --model DIR` and with tools/deepseek_ref.py.
// Writing is atomic at the directory level: everything goes to DIR.tmp, then DIR is renamed to
// DIR.old, DIR.tmp to DIR, and DIR.old is removed. A crash at any point leaves either DIR or
// DIR.old complete; LoadCheckpoint falls back to DIR.old when DIR is missing.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "train/optimizer.h"
#include "train/train_model.h"

namespace gorae::train {

// config.json text for a model with `mtp_depth` MTP modules.
std::string TrainConfigJson(const ModelConfig& c, int64_t mtp_depth);

Status SaveCheckpoint(const std::string& dir, const TrainModel& model, const AdamWState& opt,
                      const nlohmann::json& trainer_state, const std::string& tokenizer_dir);

struct LoadedCheckpoint {
  std::string dir;  // the directory actually read (DIR or DIR.old)
  ModelConfig config;
  int64_t mtp_depth = 0;
  nlohmann::json trainer_state;  // the whole file; "options" is read by each trainer's FromJson
  // Its common fields, type-checked at load: step, data RNG state and AdamW step are required;
  // the rest are absent from checkpoints written before them (and from some trainers).
  int64_t step = 0;
  uint64_t rng_state = 0;
  int64_t adamw_step = 0;
  int64_t tokens_seen = 0;
  int64_t epoch = 0, cursor = 0;   // sft's position in its shuffled data
  std::string data_fingerprint;    // sft's digest of the rendered conversations
};

// Reads config.json and trainer_state.json; then LoadCheckpointWeights fills a model created
// from that config. Every problem is a Status naming the file.
Result<LoadedCheckpoint> LoadCheckpointMeta(const std::string& dir);
Status LoadCheckpointWeights(const LoadedCheckpoint& ck, TrainModel& model, AdamWState& opt);

// A model directory (a training checkpoint or any Hugging Face-layout DeepSeek model: config.json
// + safetensors) as fp32 trainable parameters, MTP modules included when config.json's
// num_nextn_predict_layers says so. Errors name the directory.
Result<std::unique_ptr<TrainModel>> LoadModelForTraining(const std::string& dir);

// Model config from a preset name or a config.json path; mtp depth from the file's
// num_nextn_predict_layers (-1 when absent).
Result<std::pair<ModelConfig, int64_t>> LoadTrainConfig(const std::string& preset_or_file);

}  // namespace gorae::train
