// Progress output of `kiln train` on stderr: a live line per epoch on a terminal (bar,
// step, loss, metrics, steps/s, ETA, updated in place with \r), plain lines otherwise,
// nothing with --quiet; and the summary at the end.
#pragma once
#include "runtime/metrics_log.hpp"
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

enum class ProgressMode { quiet, plain, live };

// live when `f` is a terminal, else plain; quiet wins.
ProgressMode detect_progress_mode(std::FILE* f, bool quiet);

struct TrainSummary {
  int64_t epochs = 0, steps = 0;
  double time_s = 0, compile_s = 0;
  std::optional<int64_t> arena_bytes;
  const EpochRecord* last = nullptr;  // the final epoch's figures
  std::string engine;
};

// "1.2 KiB", "3.4 MiB", "2.50 GiB", "4.00 TiB".
std::string format_bytes(int64_t n);
// "12s", "3m05s", "1h02m".
std::string format_duration(double s);

class Progress {
 public:
  Progress(ProgressMode mode, std::FILE* out, int64_t epochs, int64_t steps_per_epoch);
  // A resumed run: `steps` of the epochs were trained before it (the ETA leaves them out).
  void resume_after(int64_t steps) { steps_before_ = steps; }
  void begin_epoch(int64_t epoch);
  // After each step: the running means of the epoch's loss and metrics so far. On a
  // terminal redraws the line at most ~10 times a second (and at the epoch's last step).
  void step(int64_t step_in_epoch, double mean_loss, const std::vector<std::pair<std::string, double>>& metrics);
  void end_epoch(const EpochRecord& r);
  void summary(const TrainSummary& s);
  // A message (warning) on its own line, not mixed into a live line.
  void message(const std::string& text);

 private:
  using Clock = std::chrono::steady_clock;
  std::string figures(double loss, const std::vector<std::pair<std::string, double>>& metrics) const;
  ProgressMode mode_;
  std::FILE* out_;
  int64_t epochs_, steps_per_epoch_, epoch_ = 0, steps_done_ = 0, steps_before_ = 0;
  Clock::time_point start_, epoch_start_, last_draw_;
  bool line_open_ = false;
};

}  // namespace kiln
