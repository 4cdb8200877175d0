// Reading input files with bounds: every reader (the .model file, CSV, NPY, safetensors)
// opens its file here, which refuses what is not a regular file and reads no more than
// the format can need, so /dev/zero or a FIFO is one clear error rather than a hang or
// gigabytes read into memory.
#pragma once
#include <cstdint>
#include <string>

namespace kiln {

class InputFile {
 public:
  InputFile() = default;
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Opens `path`, which must be a regular file (symlinks are followed) of at most
  // `max_bytes`; else false with `err`:
  //   "x.csv: cannot read: No such file or directory"
  //   "/dev/zero: cannot read: not a regular file (a character device)"
  //   "x.npy: cannot read: 9.31 GiB, more than LIMIT"      (LIMIT: `limit_text`)
  bool open(const std::string& path, std::string& err, uint64_t max_bytes = UINT64_MAX,
            const std::string& limit_text = "");
  // Standard input, whatever it is (a pipe, a terminal, a file, /dev/zero): read() stops
  // with an error past `max_bytes`.
  void open_stdin(const std::string& name, uint64_t max_bytes, const std::string& limit_text);

  // A regular file's size when it was opened (0 for standard input).
  uint64_t size() const { return size_; }
  // Reads up to `n` bytes into `p`; `got` is 0 at the end. False on a read error, or when
  // the input goes past max_bytes (a file that grew, a pipe that does not end).
  bool read(char* p, size_t n, size_t& got, std::string& err);
  // Everything from the current position to the end.
  bool read_rest(std::string& out, std::string& err);

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string path_, limit_text_;
  uint64_t size_ = 0, max_ = UINT64_MAX, done_ = 0;
};

// A whole regular file of at most `max_bytes` (see InputFile::open for the errors).
bool read_file(const std::string& path, std::string& out, std::string& err, uint64_t max_bytes = UINT64_MAX,
               const std::string& limit_text = "");

// "the memory limit of 23.54 GiB (--max-memory)": how the readers name their bound.
std::string memory_limit_text();

}  // namespace kiln
