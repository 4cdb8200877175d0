// Atomic file replacement (temporary + fsync + rename + directory fsync), and the removal
// of temporaries that interrupted saves left.
#include "runtime/atomic_file.hpp"
#include "runtime/output_path.hpp"
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <dirent.h>
#include <sys/file.h>
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

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Whether `name` is a temporary of `base` as mkstemp names it: BASE.tmp- and six letters
// or digits.
bool is_temp_of(std::string_view name, std::string_view base) {
  constexpr std::string_view kTmp = ".tmp-";
  if (name.size() != base.size() + kTmp.size() + 6 || name.substr(0, base.size()) != base ||
      name.substr(base.size(), kTmp.size()) != kTmp)
    return false;
  for (char c : name.substr(base.size() + kTmp.size()))
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

// Removes the temporaries of `path` that an interrupted save left. A writer holds an
// exclusive flock on its temporary from its creation to the rename, so one that is not
// locked has no live writer: it is removed (if the name still holds that file). One we
// cannot lock-test (no flock on this file system) is left alone.
void remove_stale_temps(const std::string& path) {
  const std::string dir = dir_of(path), base = base_of(path);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    if (!is_temp_of(e->d_name, base)) continue;
    std::string p = dir + "/" + e->d_name;
    int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && ::flock(fd, LOCK_SH | LOCK_NB) == 0 &&
        ::lstat(p.c_str(), &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino)
      ::unlink(p.c_str());
    ::close(fd);
  }
  ::closedir(d);
}

}  // namespace

bool write_file_atomic(const std::string& given, std::string_view bytes, std::string& err, AtomicFault fault) {
  // The file replaced: a symlink's target (the link stays), never a device or a FIFO.
  auto target = output_target(given, err);
  if (!target) return false;
  const std::string& path = *target;
  remove_stale_temps(path);
  // mkstemp-style unique name in the target's directory (rename is atomic only within
  // one file system), locked until the rename (remove_stale_temps leaves it alone). A
  // cleaner that tested it between its creation and our lock has it (our lock fails) or
  // removed it (the name is no longer ours): take another.
  std::string tmp;
  int fd = -1, lock_fd = -1;
  for (int attempt = 0;; ++attempt) {
    tmp = path + ".tmp-XXXXXX";
    fd = ::mkstemp(tmp.data());
    if (fd < 0) {
      err = fmt::format("{}: cannot write: {}", given, std::strerror(errno));
      return false;
    }
    int locked = ::flock(fd, LOCK_EX | LOCK_NB), why = errno;
    struct stat held {}, named {};
    bool ours = locked == 0 && ::fstat(fd, &held) == 0 && ::lstat(tmp.c_str(), &named) == 0 &&
                held.st_dev == named.st_dev && held.st_ino == named.st_ino;
    if (ours || (locked != 0 && why != EWOULDBLOCK) || attempt == 8) break;  // (no flock here: unlocked)
    ::close(fd);
  }
  lock_fd = ::dup(fd);  // keeps the lock when fd is closed (checked) before the rename
  auto fail = [&](int e) {
    err = fmt::format("{}: cannot write: {}", given, std::strerror(e));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    if (lock_fd >= 0) ::close(lock_fd);
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
  if (lock_fd >= 0) ::close(lock_fd);
  // Make the rename itself durable.
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace kiln
