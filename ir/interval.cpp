// Interval helpers: printing, hulls, and where f32/f64 saturate (ir/interval.hpp).
#include "ir/interval.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

std::string interval_str(const Interval& r) {
  auto num = [](double v) {
    if (std::isinf(v)) return std::string(v < 0 ? "-inf" : "inf");
    return fmt::format("{:.4g}", v);
  };
  std::string s = fmt::format("{}{}, {}{}", std::isinf(r.lo) ? "(" : "[", num(r.lo), num(r.hi), std::isinf(r.hi) ? ")" : "]");
  if (r.nan) s += " or NaN";
  return s;
}

Interval hull(const Interval& a, const Interval& b) {
  return {std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.nan || b.nan};
}

const FloatLimits& float_limits(DType t) {
  // f32: exp overflows past log(FLT_MAX) = 88.72 and is 0 below log(2^-150) = -103.97;
  // 1 + exp(-x) rounds to 1 once exp(-x) <= 2^-24 (x >= 24 ln 2 = 16.64); the naive
  // 1 / (1 + exp(-x)) is 0 once exp(-x) overflows (x < -88.72); tanh rounds to 1 once
  // 1 - tanh(x) = 2 exp(-2x) < 2^-25 (x > 9.01).
  static const FloatLimits f32{88.7228, -103.972, 16.6355, -88.7228, 9.0109};
  static const FloatLimits f64{709.7827, -745.1332, 36.7368, -709.7827, 19.0615};
  return t == DType::f32 ? f32 : f64;
}

double round_to(DType t, double v) {
  if (t != DType::f32 || std::isnan(v) || std::isinf(v)) return v;
  if (std::fabs(v) > double(std::numeric_limits<float>::max())) return v < 0 ? -kInf : kInf;
  return double(static_cast<float>(v));
}

}  // namespace kiln
