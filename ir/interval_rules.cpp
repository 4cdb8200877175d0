// Interval transfer functions of the op table (declared in ir/interval_rules.hpp).
// Infinite ends stand for "unbounded": 0 * inf is taken as 0 (a finite value times zero).
#include "ir/interval_rules.hpp"
#include <algorithm>
#include <cmath>

namespace kiln::interval {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double mul_ext(double a, double b) { return (a == 0 || b == 0) ? 0.0 : a * b; }
Interval span_of(std::initializer_list<double> v, bool nan) {
  Interval r{*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), nan};
  return r;
}
Interval imul(const Interval& a, const Interval& b) {
  return span_of({mul_ext(a.lo, b.lo), mul_ext(a.lo, b.hi), mul_ext(a.hi, b.lo), mul_ext(a.hi, b.hi)}, a.nan || b.nan);
}
// Elements reduced into one output element: the input's count over the output's.
double reduced_count(const IntervalContext& c) {
  double n_in = double(num_elements(c.input_node(0).shape)), n_out = double(num_elements(c.node().shape));
  return n_out > 0 ? n_in / n_out : 1.0;
}
// Applies a non-decreasing function to both ends.
template <class F>
void monotone(IntervalContext& c, F f) {
  const Interval& x = c.in[0];
  c.out = {f(x.lo), f(x.hi), x.nan};
}
double exp_lim(const FloatLimits& L, double x) {
  if (x > L.exp_overflow) return kInf;
  if (x < L.exp_underflow) return 0.0;
  return std::exp(x);
}
double softplus_lim(const FloatLimits& L, double x) {
  if (x > 20) return x;  // log1p(exp(x)) = x + log1p(exp(-x)): x in every float type here
  return std::log1p(exp_lim(L, x));
}
double gelu_f(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double silu_f(double x) { return x / (1.0 + std::exp(-x)); }
// Non-monotone functions with one minimum at xm: the range over [lo, hi].
template <class F>
void one_minimum(IntervalContext& c, F f, double xm, double fm, double f_minus_inf, double f_plus_inf) {
  const Interval& x = c.in[0];
  double a = std::isinf(x.lo) ? f_minus_inf : f(x.lo), b = std::isinf(x.hi) ? f_plus_inf : f(x.hi);
  double lo = (x.lo <= xm && xm <= x.hi) ? fm : std::min(a, b);
  c.out = {lo, std::max(a, b), x.nan};
}
}  // namespace

void leaf(IntervalContext& c) { c.out = Interval::all(); }
void identity(IntervalContext& c) { c.out = c.in[0]; }
void neg(IntervalContext& c) { c.out = {-c.in[0].hi, -c.in[0].lo, c.in[0].nan}; }
void exp(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return exp_lim(L, x); });
}
void expm1(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return x > L.exp_overflow ? kInf : std::expm1(x); });
}
void log(IntervalContext& c) {
  const Interval& x = c.in[0];
  c.out = {x.lo <= 0 ? -kInf : std::log(x.lo), x.hi < 0 ? -kInf : (x.hi == 0 ? -kInf : std::log(x.hi)), x.nan || x.lo < 0};
  if (x.hi < 0) c.out = {-kInf, kInf, true};
}
void log1p(IntervalContext& c) {
  const Interval& x = c.in[0];
  if (x.hi < -1) { c.out = {-kInf, kInf, true}; return; }
  c.out = {x.lo <= -1 ? -kInf : std::log1p(x.lo), x.hi <= -1 ? -kInf : std::log1p(x.hi), x.nan || x.lo < -1};
}
void sqrt(IntervalContext& c) {
  const Interval& x = c.in[0];
  if (x.hi < 0) { c.out = {-kInf, kInf, true}; return; }
  c.out = {std::sqrt(std::max(x.lo, 0.0)), std::sqrt(x.hi), x.nan || x.lo < 0};
}
void rsqrt(IntervalContext& c) {
  const Interval& x = c.in[0];
  if (x.hi < 0) { c.out = {-kInf, kInf, true}; return; }
  double lo = std::max(x.lo, 0.0);
  c.out = {x.hi == 0 ? kInf : 1.0 / std::sqrt(x.hi), lo == 0 ? kInf : 1.0 / std::sqrt(lo), x.nan || x.lo < 0};
}
void square(IntervalContext& c) {
  const Interval& x = c.in[0];
  double a = x.lo * x.lo, b = x.hi * x.hi;
  c.out = {x.contains_zero() ? 0.0 : std::min(a, b), std::max(a, b), x.nan};
}
void abs(IntervalContext& c) {
  const Interval& x = c.in[0];
  double a = std::fabs(x.lo), b = std::fabs(x.hi);
  c.out = {x.contains_zero() ? 0.0 : std::min(a, b), std::max(a, b), x.nan};
}
void sin_cos(IntervalContext& c) { c.out = {-1, 1, c.in[0].nan || std::isinf(c.in[0].lo) || std::isinf(c.in[0].hi)}; }
void tanh(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return x > L.tanh_one ? 1.0 : x < -L.tanh_one ? -1.0 : std::tanh(x); });
}
void sigmoid(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return x > L.sigmoid_one ? 1.0 : x < L.sigmoid_zero ? 0.0 : 1.0 / (1.0 + std::exp(-x)); });
}
void leaky_relu(IntervalContext& c) {
  double a = c.node().attrs.alpha;
  if (a < 0) { c.out = Interval::all(); c.out.nan = c.in[0].nan; return; }
  monotone(c, [a](double x) { return x > 0 ? x : mul_ext(a, x); });
}
void elu(IntervalContext& c) {
  double a = c.node().attrs.alpha;
  if (a < 0) { c.out = Interval::all(); c.out.nan = c.in[0].nan; return; }
  monotone(c, [a](double x) { return x > 0 ? x : (std::isinf(x) ? -a : a * std::expm1(x)); });
}
void gelu(IntervalContext& c) { one_minimum(c, gelu_f, -0.7517916, -0.1699712, 0.0, kInf); }
void silu(IntervalContext& c) { one_minimum(c, silu_f, -1.2784645, -0.2784645, 0.0, kInf); }
void gelu_grad(IntervalContext& c) { c.out = {-0.1290, 1.1290, c.in[0].nan}; }  // bounds of gelu'
void softplus(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return softplus_lim(L, x); });
}
void log_sigmoid(IntervalContext& c) {
  const FloatLimits& L = c.limits();
  monotone(c, [&](double x) { return -softplus_lim(L, -x); });
}

void add(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  c.out = {a.lo + b.lo, a.hi + b.hi, a.nan || b.nan};
}
void sub(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  c.out = {a.lo - b.hi, a.hi - b.lo, a.nan || b.nan};
}
void mul(IntervalContext& c) { c.out = imul(c.in[0], c.in[1]); }
void div(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  bool nan = a.nan || b.nan;
  if (b.lo > 0 || b.hi < 0) {
    Interval inv{1.0 / b.hi, 1.0 / b.lo, false};  // 1/inf = 0
    c.out = imul(a, inv);
  } else if (b.lo == 0 && b.hi == 0) {
    c.out = {-kInf, kInf, true};
  } else if (b.lo == 0) {
    c.out = imul(a, Interval{1.0 / b.hi, kInf, false});
    if (a.contains_zero()) c.out.nan = true;
  } else if (b.hi == 0) {
    c.out = imul(a, Interval{-kInf, 1.0 / b.lo, false});
    if (a.contains_zero()) c.out.nan = true;
  } else {
    c.out = {-kInf, kInf, a.contains_zero()};
  }
  c.out.nan = c.out.nan || nan;
}
void pow(IntervalContext& c) {
  const Interval &x = c.in[0], &e = c.in[1];
  bool nan = x.nan || e.nan;
  if (e.lo != e.hi) {  // a varying exponent: only non-negative bases are analysed
    c.out = x.lo > 0 ? Interval{0, kInf, nan} : Interval{-kInf, kInf, true};
    return;
  }
  double p = e.lo;
  if (p == 0) { c.out = {1, 1, nan}; return; }
  bool integer = std::floor(p) == p;
  auto f = [p](double v) { return std::pow(v, p); };
  if (!integer && x.lo < 0) nan = true;
  double lo = integer ? x.lo : std::max(x.lo, 0.0), hi = x.hi;
  if (hi < lo) { c.out = {-kInf, kInf, true}; return; }
  if (p < 0 && lo <= 0 && hi >= 0) {  // a pole at 0
    bool odd = integer && std::fmod(std::fabs(p), 2.0) == 1.0;
    if (odd && lo < 0) { c.out = {-kInf, kInf, nan}; return; }
    c.out = {std::pow(std::max(std::fabs(lo), std::fabs(hi)), p), kInf, nan};
    return;
  }
  double a = f(lo), b = f(hi);
  bool even = integer && std::fmod(std::fabs(p), 2.0) == 0.0;
  double mn = std::min(a, b), mx = std::max(a, b);
  if (even && p > 0 && lo < 0 && hi > 0) mn = 0;
  c.out = {mn, mx, nan};
}
void minimum(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  c.out = {std::min(a.lo, b.lo), std::min(a.hi, b.hi), a.nan || b.nan};
}
void maximum(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  c.out = {std::max(a.lo, b.lo), std::max(a.hi, b.hi), a.nan || b.nan};
}
void compare(IntervalContext& c) { c.out = {0, 1, false}; }
void clip(IntervalContext& c) {
  const Interval &x = c.in[0], &l = c.in[1], &h = c.in[2];
  Interval m{std::max(x.lo, l.lo), std::max(x.hi, l.hi), false};
  c.out = {std::min(m.lo, h.lo), std::min(m.hi, h.hi), x.nan || l.nan || h.nan};
}
void where(IntervalContext& c) { c.out = hull(c.in[1], c.in[2]); }
void matmul(IntervalContext& c) {
  const Node& a = c.input_node(0);
  double k = double(a.shape.back());
  Interval p = imul(c.in[0], c.in[1]);
  c.out = {mul_ext(k, p.lo), mul_ext(k, p.hi), p.nan};
}
void sum(IntervalContext& c) {
  double n = reduced_count(c);
  const Interval& x = c.in[0];
  c.out = {mul_ext(n, x.lo), mul_ext(n, x.hi), x.nan};
}
void logsumexp(IntervalContext& c) {
  double ln = std::log(reduced_count(c));
  const Interval& x = c.in[0];
  c.out = {x.lo + ln, x.hi + ln, x.nan};
}
void argmax(IntervalContext& c) {
  const Node& x = c.input_node(0);
  int64_t ax = c.node().attrs.axes.empty() ? 0 : c.node().attrs.axes[0];
  if (ax < 0) ax += int64_t(x.shape.size());
  double n = (ax >= 0 && size_t(ax) < x.shape.size()) ? double(x.shape[ax]) : 1.0;
  c.out = {0, n - 1, false};
}
void concat(IntervalContext& c) {
  c.out = c.in[0];
  for (size_t i = 1; i < c.in.size(); ++i) c.out = hull(c.out, c.in[i]);
}
void one_hot(IntervalContext& c) { c.out = {0, 1, false}; }
// Softmax over n elements whose values spread over a width w: each output lies within
// [1 / (1 + (n-1) e^w), 1 / (1 + (n-1) e^-w)]; exp saturation makes both ends exact.
void softmax(IntervalContext& c) {
  const Node& x = c.input_node(0);
  const FloatLimits& L = c.limits();
  int64_t ax = c.node().attrs.axes.empty() ? -1 : c.node().attrs.axes[0];
  if (ax < 0) ax += int64_t(x.shape.size());
  double n = (ax >= 0 && size_t(ax) < x.shape.size()) ? double(x.shape[ax]) : 1.0;
  double w = c.in[0].hi - c.in[0].lo;
  if (n <= 1) { c.out = {1, 1, c.in[0].nan}; return; }
  double ew = exp_lim(L, w), emw = exp_lim(L, -w);
  c.out = {std::isinf(ew) ? 0.0 : 1.0 / (1.0 + (n - 1) * ew), 1.0 / (1.0 + (n - 1) * emw), c.in[0].nan};
}
void log_softmax(IntervalContext& c) {
  const Node& x = c.input_node(0);
  int64_t ax = c.node().attrs.axes.empty() ? -1 : c.node().attrs.axes[0];
  if (ax < 0) ax += int64_t(x.shape.size());
  double n = (ax >= 0 && size_t(ax) < x.shape.size()) ? double(x.shape[ax]) : 1.0;
  double w = c.in[0].hi - c.in[0].lo;
  c.out = {-(w + std::log(n)), n <= 1 ? 0.0 : -std::log1p((n - 1) * std::exp(-w)), c.in[0].nan};
}
// Losses on labels y in [0, 1] are non-negative; labels outside [0, 1] make them unbounded.
void bce(IntervalContext& c) {
  const Interval &p = c.in[0], &y = c.in[1];
  // eval clamps each log at -100 (PyTorch's BCELoss); p outside [0, 1] gives NaN.
  bool nan = p.nan || y.nan || p.lo < 0 || p.hi > 1;
  bool labels = y.lo >= 0 && y.hi <= 1;
  if (!labels) { c.out = {-kInf, kInf, nan}; return; }
  double lo_p = std::max(p.lo, 0.0), hi_p = std::min(p.hi, 1.0);
  double worst = std::min(lo_p, 1.0 - hi_p);
  c.out = {0, worst <= 0 ? 100.0 : std::min(100.0, -std::log(worst)), nan};
}
void bce_with_logits(IntervalContext& c) {
  const Interval &z = c.in[0], &y = c.in[1];
  bool labels = y.lo >= 0 && y.hi <= 1;
  double m = std::max(std::fabs(z.lo), std::fabs(z.hi));
  c.out = labels ? Interval{0, m + std::log(2.0), z.nan || y.nan} : Interval{-kInf, kInf, z.nan || y.nan};
}
void softmax_cross_entropy(IntervalContext& c) {
  const Node& z = c.input_node(0);
  double n = z.shape.empty() ? 1.0 : double(z.shape.back());
  double w = c.in[0].hi - c.in[0].lo;
  bool labels = c.input_node(1).dtype == DType::i32 || (c.in[1].lo >= 0 && c.in[1].hi <= 1);
  c.out = labels ? Interval{0, w + std::log(n), c.in[0].nan} : Interval{-kInf, kInf, c.in[0].nan};
}
void squared_error(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  Interval d{a.lo - b.hi, a.hi - b.lo, false};
  double m = std::max(d.lo * d.lo, d.hi * d.hi);
  c.out = {d.contains_zero() ? 0.0 : std::min(d.lo * d.lo, d.hi * d.hi), m, a.nan || b.nan};
}
void huber(IntervalContext& c) {
  const Interval &a = c.in[0], &b = c.in[1];
  double delta = c.node().attrs.alpha;
  double m = std::max(std::fabs(a.lo - b.hi), std::fabs(a.hi - b.lo));
  double hi = m <= delta ? 0.5 * m * m : delta * (m - 0.5 * delta);
  c.out = {0, hi, a.nan || b.nan};
}

}  // namespace kiln::interval
