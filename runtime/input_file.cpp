// Bounded reads of regular files and standard input (runtime/input_file.hpp).
#include "runtime/input_file.hpp"
#include "runtime/memory_limit.hpp"
#include "runtime/progress.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
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

std::string size_text(uint64_t b) { return format_bytes(int64_t(std::min<uint64_t>(b, INT64_MAX))); }
}  // namespace

std::string memory_limit_text() {
  return fmt::format("the memory limit of {} (--max-memory)", size_text(memory_limit()));
}

InputFile::~InputFile() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

bool InputFile::open(const std::string& path, std::string& err, uint64_t max_bytes, const std::string& limit_text) {
  path_ = path;
  max_ = max_bytes;
  limit_text_ = limit_text;
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    err = fmt::format("{}: cannot read: {}", path, std::strerror(errno));
    return false;
  }
  owned_ = true;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    err = fmt::format("{}: cannot read: {}", path, std::strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    err = fmt::format("{}: cannot read: Is a directory", path);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    err = fmt::format("{}: cannot read: not a regular file ({})", path, file_kind(st.st_mode));
    return false;
  }
  size_ = uint64_t(st.st_size);
  if (size_ > max_) {
    err = fmt::format("{}: cannot read: {}, more than {}", path, size_text(size_), limit_text_);
    return false;
  }
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  return true;
}

void InputFile::open_stdin(const std::string& name, uint64_t max_bytes, const std::string& limit_text) {
  fd_ = STDIN_FILENO;
  owned_ = false;
  path_ = name;
  max_ = max_bytes;
  limit_text_ = limit_text;
}

bool InputFile::read(char* p, size_t n, size_t& got, std::string& err) {
  got = 0;
  // One byte more than allowed may be read, to tell "exactly at the bound" from "past it".
  uint64_t left = max_ - std::min(max_, done_);
  if (left < UINT64_MAX) n = size_t(std::min<uint64_t>(n, left + 1));
  for (;;) {
    ssize_t r = ::read(fd_, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      err = fmt::format("{}: cannot read: {}", path_, std::strerror(errno));
      return false;
    }
    got = size_t(r);
    break;
  }
  done_ += got;
  if (done_ > max_) {
    err = fmt::format("{}: cannot read: more than {}", path_, limit_text_);
    return false;
  }
  return true;
}

bool InputFile::read_rest(std::string& out, std::string& err) {
  out.clear();
  if (size_ > 0) out.reserve(size_t(size_));
  char buf[1 << 16];
  for (;;) {
    size_t got = 0;
    if (!read(buf, sizeof buf, got, err)) return false;
    if (got == 0) return true;
    out.append(buf, got);
  }
}

bool read_file(const std::string& path, std::string& out, std::string& err, uint64_t max_bytes,
               const std::string& limit_text) {
  out.clear();
  InputFile f;
  return f.open(path, err, max_bytes, limit_text) && f.read_rest(out, err);
}

}  // namespace kiln
