// Atomic file replacement (temporary + fsync + rename + directory fsync).
#include "runtime/atomic_file.hpp"
#include "runtime/output_path.hpp"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {
namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace

bool write_file_atomic(const std::string& given, std::string_view bytes, std::string& err, AtomicFault fault) {
  // The file replaced: a symlink's target (the link stays), never a device or a FIFO.
  auto target = output_target(given, err);
  if (!target) return false;
  const std::string& path = *target;
  // mkstemp-style unique name in the target's directory (rename is atomic only within
  // one file system).
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    err = fmt::format("{}: cannot write: {}", given, std::strerror(errno));
    return false;
  }
  auto fail = [&](int e) {
    err = fmt::format("{}: cannot write: {}", given, std::strerror(e));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  // mkstemp creates 0600: keep the mode of the file being replaced, else 0644.
  struct stat old {};
  mode_t mode = ::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) ? (old.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) return fail(errno);
  size_t n = bytes.size();
  if (fault == AtomicFault::after_partial_write) n /= 2;
  if (!write_all(fd, bytes.data(), n)) return fail(errno);
  if (fault == AtomicFault::after_partial_write) return fail(ENOSPC);
  if (::fsync(fd) != 0) return fail(errno);
  if (::close(fd) != 0) {
    fd = -1;
    return fail(errno);
  }
  fd = -1;
  if (fault == AtomicFault::before_rename) return fail(EIO);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
  // Make the rename itself durable.
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace kiln
