// gorae sft: supervised fine-tuning on chat conversations (see src/train/sft.h).
#include <memory>

#include "cli/commands.h"
#include "cli/parallel_options.h"
#include "train/sft.h"

namespace gorae::cli {

void AddSftCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("sft", "supervised fine-tuning on conversations (loss on assistant tokens)");
  auto o = std::make_shared<train::SftOptions>();
  cmd->add_option("--model", o->model, "model to fine-tune: a model directory with tokenizer, or a pretrain --out");
  cmd->add_option("--data", o->data, "JSONL files, one {\"messages\": [...]} conversation per line");
  cmd->add_option("--out", o->out, "output directory (checkpoint/, tokenizer/, metrics.jsonl, loss.svg)")->required();
  auto* epochs = cmd->add_option("--epochs", o->epochs, "passes over the training conversations")->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimizer steps (instead of --epochs)")->excludes(epochs);
  cmd->add_flag("--resume", o->resume, "continue OUT/checkpoint with its saved options");
  cmd->add_option("--seed", o->seed, "data-order seed")->capture_default_str();
  cmd->add_option("--batch", o->batch, "conversations per micro-batch")->capture_default_str();
  cmd->add_option("--accum", o->accum, "gradient-accumulation micro-batches per step")->capture_default_str();
  cmd->add_option("--seq", o->seq, "most tokens per conversation (longer ones are cut)")->capture_default_str();
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
  cmd->add_option("--mtp-lambda", o->mtp_lambda, "loss weight of the model's MTP modules (0: not trained)")->capture_default_str();
  cmd->add_option("--bias-gamma", o->bias_gamma, "aux-loss-free bias update speed (0: off)")->capture_default_str();
  cmd->add_option("--balance-alpha", o->balance_alpha, "sequence-wise balance loss alpha (0: off)")->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "held-out fraction of the conversations")->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "validation loss every N steps")->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "checkpoint every N steps")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)");
  AddParallelOptions(cmd, &o->parallel);
  cmd->add_option("--stop-after", o->stop_after, "stop (with a checkpoint) after N steps of this run");
  cmd->add_flag("!--no-progress", o->progress, "no progress bar");
  cmd->callback([o, exit_code] {
    const Status s = train::RunSft(*o);
    *exit_code = s.ok() ? 0 : ReportError(s.message());
  });
}

}  // namespace gorae::cli
