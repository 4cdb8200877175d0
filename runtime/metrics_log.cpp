// JSON-lines metrics log (runtime/metrics_log.hpp).
#include "runtime/metrics_log.hpp"
#include "ir/json_text.hpp"
#include "runtime/output_path.hpp"
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace kiln {

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string step_line(int64_t epoch, int64_t step, double loss, double lr) {
  return fmt::format("{{\"kind\":\"step\",\"epoch\":{},\"step\":{},\"loss\":{},\"lr\":{}}}", epoch, step,
                     json_number(loss), json_number(lr));
}

std::string health_line(int64_t step, const std::string& param, double grad_norm, double update_ratio,
                        const std::string& status) {
  return fmt::format("{{\"kind\":\"health\",\"step\":{},\"param\":{},\"grad_norm\":{},\"update_ratio\":{},\"status\":{}}}",
                     step, json_quote(param), json_number(grad_norm), json_number(update_ratio), json_quote(status));
}

std::string epoch_line(const EpochRecord& r) {
  std::string s = fmt::format("{{\"kind\":\"epoch\",\"epoch\":{},\"step\":{},\"loss\":{}", r.epoch, r.step, json_number(r.loss));
  for (auto& [name, v] : r.metrics) s += fmt::format(",{}:{}", json_quote(name), json_number(v));
  if (r.val_loss) {
    s += fmt::format(",\"val_loss\":{}", json_number(*r.val_loss));
    for (auto& [name, v] : r.val_metrics) s += fmt::format(",{}:{}", json_quote("val_" + name), json_number(v));
  }
  return s + fmt::format(",\"time_s\":{}}}", json_number(std::round(r.time_s * 1e6) / 1e6));
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

bool MetricsLog::open(const std::string& path, std::string& err) {
  path_ = path;
  if (!output_target(path, err)) return false;  // never a device, a FIFO or a directory
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) {
    err = fmt::format("{}: cannot write: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

bool MetricsLog::write(const std::string& line, std::string& err) {
  if (!f_) return true;
  if (std::fputs(line.c_str(), f_) < 0 || std::fputc('\n', f_) < 0 || std::fflush(f_) != 0) {
    err = fmt::format("{}: cannot write: {}", path_, std::strerror(errno));
    return false;
  }
  return true;
}

bool MetricsLog::close(std::string& err) {
  if (!f_) return true;
  bool ok = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok) err = fmt::format("{}: cannot write: {}", path_, std::strerror(errno));
  return ok;
}

}  // namespace kiln
