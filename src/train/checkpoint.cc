#include "train/checkpoint.h"

#include "core/json_field.h"
#include "core/atomic_file.h"

#include <filesystem>
#include <cstring>
#include <fstream>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/presets.h"
#include "model/random_init.h"

namespace gorae::train {

namespace fs = std::filesystem;

namespace {

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) return IOError("cannot write '{}'", path);
  return Status::Ok();
}

}  // namespace

std::string TrainConfigJson(const ModelConfig& c, int64_t mtp_depth) {
  nlohmann::ordered_json j = ModelConfigToJson(c);
  j["num_nextn_predict_layers"] = mtp_depth;
  j["torch_dtype"] = "float32";
  return j.dump(2) + "\n";
}

Status SaveCheckpoint(const std::string& dir, const TrainModel& model, const AdamWState& opt,
                      const nlohmann::json& trainer_state, const std::string& tokenizer_dir) {
  const std::string tmp = dir + ".tmp", old = dir + ".old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return IOError("cannot create checkpoint directory '{}': {}", tmp, ec.message());
  GORAE_RETURN_IF_ERROR(WriteText(tmp + "/config.json", TrainConfigJson(model.config(), model.mtp_depth())));
  GORAE_RETURN_IF_ERROR(WriteSafetensors(tmp + "/model.safetensors", model.TensorsToSave()));
  std::vector<TensorToWrite> moments;
  const auto& tensors = model.tensors();
  for (size_t k = 0; k < tensors.size(); ++k) {
    if (!tensors[k].trainable) continue;
    moments.push_back({tensors[k].name + ".exp_avg", DType::kF32, tensors[k].shape, opt.m[k].data()});
    moments.push_back({tensors[k].name + ".exp_avg_sq", DType::kF32, tensors[k].shape, opt.v[k].data()});
  }
  GORAE_RETURN_IF_ERROR(WriteSafetensors(tmp + "/optimizer.safetensors", moments));
  nlohmann::json state = trainer_state;
  state["adamw_step"] = opt.step;
  GORAE_RETURN_IF_ERROR(WriteText(tmp + "/trainer_state.json", state.dump(2) + "\n"));
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path src = fs::path(tokenizer_dir) / name;
    if (!fs::exists(src)) continue;
    fs::copy_file(src, fs::path(tmp) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return IOError("cannot copy '{}' into the checkpoint: {}", src.string(), ec.message());
  }
  // Every file and the directory itself on disk before the swap makes them the checkpoint.
  for (const auto& entry : fs::directory_iterator(tmp, ec)) GORAE_RETURN_IF_ERROR(SyncToDisk(entry.path().string()));
  GORAE_RETURN_IF_ERROR(SyncToDisk(tmp));
  // Swap directories: DIR -> DIR.old, DIR.tmp -> DIR, drop DIR.old.
  fs::remove_all(old, ec);
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    if (ec) return IOError("cannot rename '{}' to '{}': {}", dir, old, ec.message());
  }
  fs::rename(tmp, dir, ec);
  if (ec) return IOError("cannot rename '{}' to '{}': {}", tmp, dir, ec.message());
  GORAE_RETURN_IF_ERROR(SyncParentDir(dir));
  fs::remove_all(old, ec);
  return Status::Ok();
}

Result<LoadedCheckpoint> LoadCheckpointMeta(const std::string& dir) {
  LoadedCheckpoint ck;
  ck.dir = dir;
  if (!fs::exists(dir + "/trainer_state.json") && fs::exists(dir + ".old/trainer_state.json")) ck.dir = dir + ".old";
  if (!fs::exists(ck.dir)) return NotFound("no checkpoint to resume from: '{}' does not exist", dir);
  GORAE_ASSIGN_OR_RETURN(std::string state_text, ReadTextFile(ck.dir + "/trainer_state.json"));
  ck.trainer_state = nlohmann::json::parse(state_text, nullptr, /*allow_exceptions=*/false);
  if (ck.trainer_state.is_discarded() || !ck.trainer_state.is_object()) {
    return Corruption("{}/trainer_state.json: not a valid JSON object", ck.dir);
  }
  JsonFields f(ck.trainer_state, ck.dir + "/trainer_state.json");
  f.Required("step", &ck.step)
      .Required("rng_state", &ck.rng_state)
      .Required("adamw_step", &ck.adamw_step)
      .Optional("tokens_seen", &ck.tokens_seen)
      .Optional("epoch", &ck.epoch)
      .Optional("cursor", &ck.cursor)
      .Optional("data_fingerprint", &ck.data_fingerprint);
  if (!f.status().ok()) return Corruption("{}", f.status().message());
  if (!ck.trainer_state.contains("options") || !ck.trainer_state["options"].is_object()) {
    return Corruption("{}/trainer_state.json: missing field 'options' (an object)", ck.dir);
  }
  GORAE_ASSIGN_OR_RETURN(std::string config_text, ReadTextFile(ck.dir + "/config.json"));
  GORAE_ASSIGN_OR_RETURN(ck.config, ParseModelConfig(config_text, ck.dir + "/config.json"));
  const nlohmann::json cj = nlohmann::json::parse(config_text, nullptr, false);
  ck.mtp_depth = cj.value("num_nextn_predict_layers", 0);
  return ck;
}

Status LoadCheckpointWeights(const LoadedCheckpoint& ck, TrainModel& model, AdamWState& opt) {
  GORAE_ASSIGN_OR_RETURN(auto weights, Checkpoint::Open(ck.dir));
  GORAE_RETURN_IF_ERROR(model.LoadFrom(*weights));
  const std::string path = ck.dir + "/optimizer.safetensors";
  GORAE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
  opt = NewAdamWState(model);
  auto& tensors = model.tensors();
  for (size_t k = 0; k < tensors.size(); ++k) {
    if (!tensors[k].trainable) continue;
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
      const std::string name = tensors[k].name + suffix;
      auto it = file->tensors().find(name);
      if (it == file->tensors().end()) return Corruption("{}: missing tensor '{}'", path, name);
      if (it->second.dtype != DType::kF32 || it->second.shape != tensors[k].shape) {
        return Corruption("{}: tensor '{}' must be F32 of shape {} elements", path, name, tensors[k].n);
      }
      std::vector<float>& dst = std::string(suffix) == ".exp_avg" ? opt.m[k] : opt.v[k];
      std::memcpy(dst.data(), it->second.data, dst.size() * sizeof(float));
    }
  }
  opt.step = ck.adamw_step;
  return Status::Ok();
}

Result<std::unique_ptr<TrainModel>> LoadModelForTraining(const std::string& dir) {
  if (!fs::is_directory(dir)) return NotFound("model directory '{}' does not exist", dir);
  const std::string config_path = dir + "/config.json";
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(config_path));
  GORAE_ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(text, config_path));
  if (!config.IsDeepSeek()) {
    return Unsupported("{}: training supports DeepSeek-V2/V3 models, not '{}'", config_path, config.model_type);
  }
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  int64_t depth = 0;
  if (auto it = j.find("num_nextn_predict_layers"); it != j.end() && it->is_number_integer()) depth = it->get<int64_t>();
  GORAE_ASSIGN_OR_RETURN(auto model, TrainModel::Create(config, depth));
  GORAE_ASSIGN_OR_RETURN(auto weights, Checkpoint::Open(dir));
  GORAE_RETURN_IF_ERROR(model->LoadFrom(*weights).WithContext(dir));
  return model;
}

Result<std::pair<ModelConfig, int64_t>> LoadTrainConfig(const std::string& name) {
  for (const std::string& preset : PresetNames()) {
    if (name == preset) {
      GORAE_ASSIGN_OR_RETURN(ModelConfig c, PresetConfig(name, 0));
      return std::make_pair(c, int64_t{-1});
    }
  }
  if (!fs::exists(name)) {
    return NotFound("--config '{}' is neither a preset (tiny, small, v2-lite, v3) nor an existing file", name);
  }
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(name));
  GORAE_ASSIGN_OR_RETURN(ModelConfig c, ParseModelConfig(text, name));
  if (!c.IsDeepSeek()) return Unsupported("{}: training supports DeepSeek-V2/V3 models, not '{}'", name, c.model_type);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  int64_t depth = -1;
  if (auto it = j.find("num_nextn_predict_layers"); it != j.end() && it->is_number_integer()) depth = it->get<int64_t>();
  return std::make_pair(c, depth);
}

}  // namespace gorae::train
