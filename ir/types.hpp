// Basic value types of the IR: element types, static shapes and source ranges.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class DType : uint8_t { f32, f64, i32 };
std::string_view dtype_name(DType t);
bool is_float(DType t);

using Shape = std::vector<int64_t>;

// The most elements a tensor may have: 2^40 (4 TiB of f32). Every shape the front end
// builds is checked against it, so that later products of dims and byte counts (x8) are
// far from overflowing int64.
constexpr int64_t kMaxElements = int64_t(1) << 40;
// a * b for non-negative a and b; nullopt when it overflows int64.
std::optional<int64_t> checked_mul(int64_t a, int64_t b);
// The element count of a shape; nullopt when a dim is negative or the product overflows.
std::optional<int64_t> checked_num_elements(const Shape& s);
// The element count of a shape that is known to be valid (saturates at INT64_MAX
// rather than overflow).
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
