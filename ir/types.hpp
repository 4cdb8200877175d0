// Basic value types of the IR: element types, static shapes and source ranges.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class DType : uint8_t { f32, f64, i32 };
std::string_view dtype_name(DType t);
bool is_float(DType t);

using Shape = std::vector<int64_t>;
int64_t num_elements(const Shape& s);
std::string shape_str(const Shape& s);               // "[32,4]" ("" for a scalar)
std::string type_str(DType t, const Shape& s);       // "f32[32,4]", "f32"

// A range in the user's source: 1-based line and column; end is one past the last
// character (end_line/end_col). line == 0 means "no location" (e.g. synthesized nodes).
struct SourceRange {
  uint32_t line = 0, col = 0, end_line = 0, end_col = 0;
  bool valid() const { return line != 0; }
  static SourceRange merge(const SourceRange& a, const SourceRange& b);
  bool operator==(const SourceRange&) const = default;
};

}  // namespace kiln
