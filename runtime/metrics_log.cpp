// JSON-lines metrics log (runtime/metrics_log.hpp).
#include "runtime/metrics_log.hpp"
#include "ir/json_text.hpp"
#include "runtime/output_path.hpp"
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace kiln {

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string json_number(float v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15f) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string step_line(int64_t epoch, int64_t step, double loss, float lr) {
  return fmt::format("{{\"kind\":\"step\",\"epoch\":{},\"step\":{},\"loss\":{},\"lr\":{}}}", epoch, step,
                     json_number(loss), json_number(lr));
}

std::string interrupted_line(const std::string& signal, int64_t epochs_done, int64_t steps_into_epoch, int64_t step) {
  return fmt::format("{{\"kind\":\"interrupted\",\"signal\":{},\"epochs_done\":{},\"steps_into_epoch\":{},\"step\":{}}}",
                     json_quote(signal), epochs_done, steps_into_epoch, step);
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
  if (fd_ >= 0) ::close(fd_);
}

bool MetricsLog::open(const std::string& path, std::string& err) {
  path_ = path;
  size_ = 0;
  if (!output_target(path, err)) return false;  // never a device, a FIFO or a directory
  // Not O_TRUNC: the log of a run that holds the lock must survive the attempt.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = fmt::format("{}: cannot write: {}", path, std::strerror(errno));
    return false;
  }
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file, however long it grows
  if (::fcntl(fd, F_SETLK, &lk) != 0) {
    int e = errno;
    if (e == EACCES || e == EAGAIN) {
      struct flock who {};
      who.l_type = F_WRLCK;
      who.l_whence = SEEK_SET;
      bool known = ::fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0;
      err = known ? fmt::format("{}: in use by another kiln process (pid {}); give each run its own --log", path,
                                who.l_pid)
                  : fmt::format("{}: in use by another kiln process; give each run its own --log", path);
    } else {
      err = fmt::format("{}: cannot lock: {}", path, std::strerror(e));
    }
    ::close(fd);
    return false;
  }
  if (::ftruncate(fd, 0) != 0) {
    err = fmt::format("{}: cannot write: {}", path, std::strerror(errno));
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

bool MetricsLog::write(const std::string& line, std::string& err) {
  if (fd_ < 0) return true;
  std::string text = line + "\n";
  const char* p = text.data();
  size_t n = text.size();
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = fmt::format("{}: cannot write: {}", path_, std::strerror(w < 0 ? errno : ENOSPC));
      // Keep only complete lines (a reader of JSON lines should not meet half of one); if
      // even this fails, the partial line stays.
      [[maybe_unused]] int cut = ::ftruncate(fd_, size_);
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  size_ += int64_t(text.size());
  return true;
}

bool MetricsLog::close(std::string& err) {
  if (fd_ < 0) return true;
  bool ok = ::close(fd_) == 0;
  fd_ = -1;
  if (!ok) err = fmt::format("{}: cannot write: {}", path_, std::strerror(errno));
  return ok;
}

}  // namespace kiln
