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

std::string step_line(int64_t epoch, int64_t step, double loss, double lr);
std::string epoch_line(const EpochRecord& r);
// One row of the training-health table (the monitors' per-param figures of the last finite
// step): {"kind":"health","step":N,"param":"w1","grad_norm":..,"update_ratio":..,"status":"ok"}.
std::string health_line(int64_t step, const std::string& param, double grad_norm, double update_ratio,
                        const std::string& status);

class MetricsLog {
 public:
  MetricsLog() = default;
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // Creates (truncates) the file; false with "m.jsonl: cannot write: REASON".
  bool open(const std::string& path, std::string& err);
  bool is_open() const { return f_ != nullptr; }
  // Appends one line and flushes it, so a crashed run keeps its log so far.
  bool write(const std::string& line, std::string& err);
  bool close(std::string& err);

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

}  // namespace kiln
