// Output paths (--save, --output, --log): a write goes through symlinks to their final
// target, replaces only a regular file (or creates one), and never one of the run's inputs;
// so a device node, a FIFO or the data being read is never clobbered.
#pragma once
#include <optional>
#include <string>

namespace kiln {

// The file a write to `path` creates or replaces: `path` itself, or the final target of
// the symlinks it names (which need not exist yet). False with `err` for an empty name,
// a target that exists and is not a regular file, or a symlink loop:
//   "out.csv: cannot write: not a regular file (a character device)"
//   "out: cannot write: Is a directory"
std::optional<std::string> output_target(const std::string& path, std::string& err);

// Whether two paths name one existing file (symlinks followed: the same device and inode).
bool same_file(const std::string& a, const std::string& b);

}  // namespace kiln
