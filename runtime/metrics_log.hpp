// The metrics log of `kiln train --log M.jsonl`: one JSON object per line, a "step" line
// every --log-every steps and an "epoch" line after every epoch (docs/training.md).
#pragma once
#include "ir/json_text.hpp"
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

// An epoch's figures: the training loss and metrics (means over the epoch's steps, each
// from the step's forward pass before its update) and, with a validation split, the
// validation loss and metrics after the epoch.
struct EpochRecord {
  int64_t epoch = 0, step = 0;  // step: steps done so far in this run
  double loss = 0;
  std::vector<std::pair<std::string, double>> metrics;
  std::optional<double> val_loss;
  std::vector<std::pair<std::string, double>> val_metrics;
  double time_s = 0;  // wall time of the epoch, validation included
};

// A number as JSON: shortest round-trip form; NaN and infinities (not JSON) as null.
std::string json_number(double v);
// A float (a value the step computed in f32) in its own shortest round-trip form:
// 0.01f as 0.01, not as the double 0.009999999776482582.
std::string json_number(float v);

// `lr` is the learning rate the step computed (its metric cell, kLearningRateMetric).
std::string step_line(int64_t epoch, int64_t step, double loss, float lr);
std::string epoch_line(const EpochRecord& r);
// One row of the training-health table (the monitors' per-param figures of the last finite
// step): {"kind":"health","step":N,"param":"w1","grad_norm":..,"update_ratio":..,"status":"ok"}.
// The last line of an interrupted run: {"kind":"interrupted","signal":"SIGINT",
// "epochs_done":2,"steps_into_epoch":5,"step":23} (the position, as the checkpoint's
// metadata records it, and the steps of this run).
std::string interrupted_line(const std::string& signal, int64_t epochs_done, int64_t steps_into_epoch, int64_t step);
std::string health_line(int64_t step, const std::string& param, double grad_norm, double update_ratio,
                        const std::string& status);

// The log of one run. While open, it holds a write lock on the file (fcntl), so that a
// second kiln writing the same log is refused instead of interleaving lines with it.
class MetricsLog {
 public:
  MetricsLog() = default;
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // Creates the file, locks it, then truncates it (a locked file is left untouched). False
  // with "m.jsonl: cannot write: REASON" or "m.jsonl: in use by another kiln process (pid N)".
  bool open(const std::string& path, std::string& err);
  bool is_open() const { return fd_ >= 0; }
  // Appends one line with one write, so a crashed run keeps its log so far. When a write
  // fails (a full disk, a file-size limit) the file is cut back to its complete lines and
  // closed, and this returns false once with "m.jsonl: cannot write: REASON"; later writes
  // do nothing (the caller warns and the run goes on).
  bool write(const std::string& line, std::string& err);
  bool close(std::string& err);

 private:
  int fd_ = -1;
  int64_t size_ = 0;  // bytes of the complete lines written
  std::string path_;
};

}  // namespace kiln
