// Atomic file replacement: write a temporary file beside the target, fsync it, rename it
// over the target and fsync the directory, so a reader never sees a half-written file.
// (Reading: runtime/input_file.hpp.)
#pragma once
#include <string>
#include <string_view>

namespace kiln {

// Fault injection for tests: make write_file_atomic fail at a given step, as a full disk
// or a crash would, to check that the old target survives and no temporary is left.
enum class AtomicFault { none, after_partial_write, before_rename };

// Replaces `path` with `bytes`. On failure returns false with `err` set
// ("out/p.safetensors: cannot write: No space left on device"), removes the temporary
// file and leaves any existing `path` untouched. A replaced file keeps its permissions;
// a new one gets 0644. A symlink is written through (its final target is replaced, the
// link kept); a path that is not a regular file (a device, a FIFO) is refused
// (runtime/output_path.hpp). The temporary, `<target>.tmp-XXXXXX`, is flock'ed until the
// rename; temporaries of the same target that no process holds locked (left by a save
// that was killed) are removed first.
bool write_file_atomic(const std::string& path, std::string_view bytes, std::string& err,
                       AtomicFault fault = AtomicFault::none);

}  // namespace kiln
