// A source file held in memory, with offset <-> line/column mapping.
#pragma once
#include "ir/types.hpp"
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  // 1-based line and column of a byte offset (columns count bytes).
  std::pair<uint32_t, uint32_t> line_col(size_t offset) const;
  SourceRange range(size_t begin, size_t end) const;  // [begin, end) offsets
  std::string_view line_text(uint32_t line) const;    // without the newline
  uint32_t line_count() const { return static_cast<uint32_t>(starts_.size()); }

 private:
  std::string path_, text_;
  std::vector<size_t> starts_;  // offset of each line's first byte
};

}  // namespace kiln
