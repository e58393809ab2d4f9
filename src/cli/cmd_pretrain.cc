// gorae pretrain: train a DeepSeekMoE model from scratch (see src/train/pretrain.h).
#include <memory>

#include "cli/commands.h"
#include "cli/parallel_options.h"
#include "train/pretrain.h"

namespace gorae::cli {

void AddPretrainCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("pretrain", "pretrain a DeepSeekMoE model (MTP, aux-loss-free balancing)");
  auto o = std::make_shared<train::PretrainOptions>();
  cmd->add_option("--config", o->config, "preset (tiny, small, v2-lite, v3) or config.json")->capture_default_str();
  cmd->add_option("--layers", o->layers, "override num_hidden_layers (0: keep)");
  cmd->add_option("--moe-nodes", o->moe_nodes, "node-limited routing: the routed experts lie on this many nodes");
  cmd->add_option("--moe-node-limit", o->moe_node_limit, "node-limited routing: nodes a token's experts may span");
  cmd->add_option("--tokenizer", o->tokenizer_dir, "tokenizer directory (tokenizer.json)")->required();
  cmd->add_option("--data", o->data, "text files (blank-line separated documents) or .jsonl ({\"text\": ...})");
  cmd->add_option("--synthetic", o->synthetic, "add N documents of the built-in worked-reasoning corpus");
  cmd->add_option("--steps", o->steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory (checkpoint/, data/, metrics.jsonl, loss.svg)")->required();
  cmd->add_flag("--resume", o->resume, "continue OUT/checkpoint with its saved options");
  cmd->add_option("--seed", o->seed, "initialisation and data-order seed")->capture_default_str();
  cmd->add_option("--batch", o->batch, "sequences per micro-batch")->capture_default_str();
  cmd->add_option("--seq", o->seq, "tokens per sequence")->capture_default_str();
  cmd->add_option("--accum", o->accum, "gradient-accumulation micro-batches per step")->capture_default_str();
  cmd->add_option("--lr", o->lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr-ratio", o->min_lr_ratio, "final learning rate / peak")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "warmup steps (-1: 5% of steps)")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "cosine, wsd (warmup-stable-decay) or constant")->capture_default_str();
  cmd->add_option("--wsd-decay", o->wsd_decay_fraction, "WSD: fraction of steps in the final decay")->capture_default_str();
  cmd->add_option("--beta1", o->adamw.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", o->adamw.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--adam-eps", o->adamw.eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--weight-decay", o->adamw.weight_decay, "decoupled weight decay (matrices only)")->capture_default_str();
  cmd->add_option("--clip", o->clip, "global gradient-norm clip (0: off)")->capture_default_str();
  cmd->add_option("--mtp-depth", o->mtp_depth, "MTP modules D (-1: config's num_nextn_predict_layers, presets 1)");
  cmd->add_option("--mtp-lambda", o->mtp_lambda, "MTP loss weight lambda")->capture_default_str();
  cmd->add_option("--bias-gamma", o->bias_gamma, "aux-loss-free bias update speed (0: off)")->capture_default_str();
  cmd->add_option("--balance-alpha", o->balance_alpha, "sequence-wise balance loss alpha (0: off)")->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "validation loss every N steps")->capture_default_str();
  cmd->add_option("--eval-batches", o->eval_batches, "validation batches")->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "checkpoint every N steps")->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "held-out fraction of the documents")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)");
  AddParallelOptions(cmd, &o->parallel);
  cmd->add_option("--stop-after", o->stop_after, "stop (with a checkpoint) after N steps of this run");
  cmd->add_flag("!--no-progress", o->progress, "no progress bar");
  cmd->callback([o, exit_code] {
    const Status s = train::RunPretrain(*o);
    *exit_code = s.ok() ? 0 : ReportError(s.message());
  });
}

}  // namespace gorae::cli
