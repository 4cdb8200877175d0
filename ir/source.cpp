// SourceFile: line starts are indexed once; lookups are binary searches.
#include "ir/source.hpp"
#include <algorithm>

namespace kiln {

SourceFile::SourceFile(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {
  starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') starts_.push_back(i + 1);
}

std::pair<uint32_t, uint32_t> SourceFile::line_col(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  size_t line = static_cast<size_t>(it - starts_.begin());  // 1-based
  return {static_cast<uint32_t>(line), static_cast<uint32_t>(offset - starts_[line - 1] + 1)};
}

SourceRange SourceFile::range(size_t begin, size_t end) const {
  auto [l1, c1] = line_col(begin);
  auto [l2, c2] = line_col(std::max(begin, end));
  return {l1, c1, l2, c2};
}

std::string_view SourceFile::line_text(uint32_t line) const {
  if (line == 0 || line > starts_.size()) return {};
  size_t b = starts_[line - 1];
  size_t e = line < starts_.size() ? starts_[line] - 1 : text_.size();
  std::string_view v(text_.data() + b, e - b);
  if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  return v;
}

}  // namespace kiln
