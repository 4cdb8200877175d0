// Progress lines and the summary of `kiln train` (runtime/progress.hpp).
#include "runtime/progress.hpp"
#include <cmath>
#include <fmt/format.h>
#include <unistd.h>

namespace kiln {

ProgressMode detect_progress_mode(std::FILE* f, bool quiet) {
  if (quiet) return ProgressMode::quiet;
  return ::isatty(::fileno(f)) == 1 ? ProgressMode::live : ProgressMode::plain;
}

std::string format_bytes(int64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < (int64_t(1) << 20)) return fmt::format("{:.1f} KiB", double(n) / 1024);
  if (n < (int64_t(1) << 30)) return fmt::format("{:.1f} MiB", double(n) / (1 << 20));
  if (n < (int64_t(1) << 40)) return fmt::format("{:.2f} GiB", double(n) / (1 << 30));
  if (n < (int64_t(1) << 50)) return fmt::format("{:.2f} TiB", std::ldexp(double(n), -40));
  return fmt::format("{:.2f} PiB", std::ldexp(double(n), -50));
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) return fmt::format("{:.1f}s", s);
  auto t = static_cast<long long>(std::llround(s));
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

namespace {
std::string num(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) return fmt::format("{:.3e}", v);
  return fmt::format("{:.4f}", v);
}
}  // namespace

Progress::Progress(ProgressMode mode, std::FILE* out, int64_t epochs, int64_t steps_per_epoch)
    : mode_(mode), out_(out), epochs_(epochs), steps_per_epoch_(steps_per_epoch), start_(Clock::now()) {}

std::string Progress::figures(double loss, const std::vector<std::pair<std::string, double>>& metrics) const {
  std::string s = "loss " + num(loss);
  for (auto& [name, v] : metrics) s += fmt::format("  {} {}", name, num(v));
  return s;
}

void Progress::begin_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_start_ = Clock::now();
  last_draw_ = Clock::time_point{};
}

void Progress::step(int64_t k, double mean_loss, const std::vector<std::pair<std::string, double>>& metrics) {
  ++steps_done_;
  if (mode_ != ProgressMode::live) return;
  auto now = Clock::now();
  if (k != steps_per_epoch_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? double(steps_done_) / elapsed : 0;
  int64_t left = epochs_ * steps_per_epoch_ - steps_before_ - steps_done_;
  constexpr int width = 20;
  int filled = steps_per_epoch_ ? int(width * k / steps_per_epoch_) : width;
  std::string bar = std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.');
  int ew = int(std::to_string(epochs_).size());
  fmt::print(out_, "\r\x1b[2Kepoch {:>{}}/{} [{}] {}/{}  {}  {:.1f} steps/s  ETA {}", epoch_, ew, epochs_, bar, k,
             steps_per_epoch_, figures(mean_loss, metrics), rate, rate > 0 ? format_duration(double(left) / rate) : "?");
  std::fflush(out_);
  line_open_ = true;
}

void Progress::end_epoch(const EpochRecord& r) {
  if (mode_ == ProgressMode::quiet) return;
  std::vector<std::pair<std::string, double>> val;
  std::string line = fmt::format("epoch {:>{}}/{}  step {}  {}", r.epoch, int(std::to_string(epochs_).size()), epochs_,
                                 r.step, figures(r.loss, r.metrics));
  if (r.val_loss) {
    line += "  val_loss " + num(*r.val_loss);
    for (auto& [name, v] : r.val_metrics) line += fmt::format("  val_{} {}", name, num(v));
  }
  line += fmt::format("  ({})", format_duration(r.time_s));
  if (mode_ == ProgressMode::live) fmt::print(out_, "\r\x1b[2K");
  fmt::print(out_, "{}\n", line);
  std::fflush(out_);
  line_open_ = false;
}

void Progress::message(const std::string& text) {
  if (mode_ == ProgressMode::quiet) return;
  if (line_open_) fmt::print(out_, "\n");
  line_open_ = false;
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

void Progress::summary(const TrainSummary& s) {
  if (mode_ == ProgressMode::quiet) return;
  std::string line = fmt::format("trained {} epoch{} ({} steps) in {}", s.epochs, s.epochs == 1 ? "" : "s", s.steps,
                                 format_duration(s.time_s));
  if (s.time_s > 0) line += fmt::format(", {:.1f} steps/s", double(s.steps) / s.time_s);
  line += fmt::format(" on the {} engine", s.engine);
  if (s.compile_s > 0) line += fmt::format("; compile {}", format_duration(s.compile_s));
  if (s.arena_bytes) line += fmt::format("; arena {}", format_bytes(*s.arena_bytes));
  fmt::print(out_, "{}\n", line);
  if (s.last) {
    std::string f = "final: " + figures(s.last->loss, s.last->metrics);
    if (s.last->val_loss) {
      f += "  val_loss " + num(*s.last->val_loss);
      for (auto& [name, v] : s.last->val_metrics) f += fmt::format("  val_{} {}", name, num(v));
    }
    fmt::print(out_, "{}\n", f);
  }
  std::fflush(out_);
}

}  // namespace kiln
