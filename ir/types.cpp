// Element types, shapes and source ranges: names and small helpers.
#include "ir/types.hpp"
#include <climits>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
  }
  return "?";
}

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<int64_t> checked_num_elements(const Shape& s) {
  std::optional<int64_t> n = 1;
  for (auto d : s)
    if (!(n = checked_mul(*n, d))) return std::nullopt;
  return n;
}

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (auto d : s)
    if (__builtin_mul_overflow(n, d, &n)) return INT64_MAX;
  return n;
}

std::string shape_str(const Shape& s) { return s.empty() ? std::string() : fmt::format("[{}]", fmt::join(s, ",")); }

std::string type_str(DType t, const Shape& s) { return fmt::format("{}{}", dtype_name(t), shape_str(s)); }

SourceRange SourceRange::merge(const SourceRange& a, const SourceRange& b) {
  if (!a.valid()) return b;
  if (!b.valid()) return a;
  SourceRange r = a;
  if (b.line < r.line || (b.line == r.line && b.col < r.col)) { r.line = b.line; r.col = b.col; }
  if (b.end_line > r.end_line || (b.end_line == r.end_line && b.end_col > r.end_col)) {
    r.end_line = b.end_line; r.end_col = b.end_col;
  }
  return r;
}

}  // namespace kiln
