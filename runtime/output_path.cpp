// Output paths (runtime/output_path.hpp): resolving symlinks, refusing special files.
#include "runtime/output_path.hpp"
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

namespace {
const char* file_kind(mode_t m) {
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a file";
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

std::optional<std::string> output_target(const std::string& path, std::string& err) {
  if (path.empty()) {
    err = "cannot write a file with an empty name";
    return std::nullopt;
  }
  auto fail = [&](std::string why) -> std::optional<std::string> {
    err = fmt::format("{}: cannot write: {}", path, why);
    return std::nullopt;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {  // it exists (through any symlinks): it must be a file
    if (S_ISDIR(st.st_mode)) return fail("Is a directory");
    if (!S_ISREG(st.st_mode)) return fail(fmt::format("not a regular file ({})", file_kind(st.st_mode)));
    char real[PATH_MAX];
    if (!::realpath(path.c_str(), real)) return fail(std::strerror(errno));
    struct stat lst {};
    // A symlink is written through (its target replaced); a plain file keeps the path given.
    return ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) ? std::string(real) : path;
  }
  if (errno == ELOOP) return fail(std::strerror(ELOOP));
  // Nothing there yet, or a symlink to nothing: follow the links to the file to create.
  std::string p = path;
  for (int hops = 0;; ++hops) {
    struct stat lst {};
    if (::lstat(p.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode)) return p;
    if (hops == 40) return fail(std::strerror(ELOOP));
    char buf[PATH_MAX];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    if (n < 0) return fail(std::strerror(errno));
    std::string to(buf, size_t(n));
    p = to.front() == '/' ? to : dir_of(p) + "/" + to;
  }
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace kiln
