// The f32 rounding model (tests/rounding_model.hpp): the reference values, then for each
// node, in id order, its three error channels from its operands' and its own roundings.
#include "rounding_model.hpp"
#include "ir/ops/kernels.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace kiln::test {

namespace {

using Vec = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// An elementwise op's own roundings relative to its result, in units of u (docs/backend.md:
// IEEE + - * / sqrt round once; libm's pow, sin and cos are within 1 ulp (2u); the
// vectorised exp, log and tanh within 2 ulp (4u); the rest count their parts: sigmoid =
// exp, 1 + e and a division; log1p and expm1 are an exp or log, a correction and a
// division). -1: a rule of its own (gelu, bce, bce_with_logits, huber).
double local_k(Op op) {
  switch (op) {
    case Op::neg: case Op::abs: case Op::relu: case Op::sign: case Op::round: case Op::floor: case Op::ceil:
    case Op::stop_gradient: case Op::minimum: case Op::maximum: case Op::lt: case Op::le: case Op::gt:
    case Op::ge: case Op::eq: case Op::ne: case Op::clip: case Op::where:
      return 0;
    case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::sqrt: case Op::square: case Op::leaky_relu:
    case Op::gelu_grad:  // computed in f64 and rounded once
      return 1;
    case Op::rsqrt: case Op::pow: case Op::sin: case Op::cos: return 2;
    case Op::squared_error: return 3;  // the difference (twice, squared) and the square
    case Op::exp: case Op::log: case Op::tanh: return 4;
    case Op::sigmoid: return 6;
    case Op::silu: return 8;
    case Op::log1p: case Op::expm1: return 12;
    case Op::elu: return 13;
    case Op::softplus: case Op::log_sigmoid: return 17;
    default: return -1;
  }
}

// Ops whose result jumps: an operand within its tolerance of the threshold may give either side.
bool jumps(Op op) {
  switch (op) {
    case Op::lt: case Op::le: case Op::gt: case Op::ge: case Op::eq: case Op::ne: case Op::floor:
    case Op::ceil: case Op::round: case Op::sign:
      return true;
    default:
      return false;
  }
}

double at(const Vec& v, size_t i) { return v.empty() ? 0.0 : v[i]; }
bool zero(const Vec& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return x == 0; });
}
void grow(Vec& v, size_t n) {
  if (v.empty()) v.assign(n, 0.0);
}

class Builder {
 public:
  Builder(const Graph& g, RoundingModel& m) : g_(g), m_(m) {}

  bool run(std::string& err) {
    m_.A.assign(g_.size(), {});
    m_.V.assign(g_.size(), {});
    m_.D.assign(g_.size(), {});
    for (NodeId id = 0; id < NodeId(g_.size()); ++id) {
      const Node& n = g_[id];
      const OpRow& row = op_row(n.op);
      if (row.cls == OpClass::leaf) continue;  // exact: f32 values, f32-rounded literals
      if (n.dtype == DType::i32 && n.op != Op::argmax) continue;
      switch (n.op) {
        case Op::matmul: matmul(id); break;
        case Op::sum: case Op::mean: case Op::sum_to: sum(id); break;
        case Op::max: case Op::min: extreme(id); break;
        case Op::logsumexp: logsumexp(id); break;
        case Op::argmax: argmax(id); break;
        case Op::softmax: case Op::log_softmax: softmax(id); break;
        case Op::softmax_cross_entropy: sce(id); break;
        case Op::one_hot: break;
        case Op::transpose: case Op::reshape: case Op::broadcast_to: case Op::slice: case Op::concat: move(id); break;
        default:
          if (row.cls != OpClass::unary && row.cls != OpClass::binary && row.cls != OpClass::ternary &&
              row.cls != OpClass::loss) {
            err = fmt::format("the rounding model has no rule for {}", row.name);
            return false;
          }
          elementwise(id);
      }
      for (auto* c : {&m_.A[size_t(id)], &m_.V[size_t(id)], &m_.D[size_t(id)]})
        if (zero(*c)) c->clear();
    }
    return true;
  }

 private:
  const Tensor& val(NodeId id) const { return m_.value[size_t(id)]; }
  Vec tol_of(NodeId id) const {
    Vec t(val(id).size());
    for (size_t i = 0; i < t.size(); ++i) t[i] = m_.tolerance(id, i);
    return t;
  }
  // A channel as a tensor of the node's shape (zeros when empty), for the ops' own kernels.
  Tensor chan(const Vec& c, NodeId like) const {
    Tensor t(DType::f64, val(like).shape);
    if (!c.empty()) t.data = c;
    return t;
  }
  Tensor map(NodeId like, double (*f)(double)) const {
    Tensor t(DType::f64, val(like).shape);
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = f(val(like).data[i]);
    return t;
  }
  Tensor apply(NodeId id, std::vector<const Tensor*> args) const {
    const Node& n = g_[id];
    Tensor out(DType::f64, n.shape);
    op_row(n.op).eval(args, n, out);
    return out;
  }

  // f with operand i moved by +-delta: the largest change of each result element.
  Vec deviation(NodeId id, size_t i, const Vec& delta) const {
    const Node& n = g_[id];
    std::vector<const Tensor*> args;
    for (NodeId in : n.in) args.push_back(&val(in));
    Tensor moved = val(n.in[i]);
    const Tensor& f = val(id);
    Vec out(f.size(), 0.0);
    for (double sign : {1.0, -1.0}) {
      for (size_t k = 0; k < moved.data.size(); ++k) moved.data[k] = val(n.in[i]).data[k] + sign * delta[k];
      args[i] = &moved;
      Tensor r(n.dtype, n.shape);
      op_row(n.op).eval(args, n, r);
      for (size_t k = 0; k < out.size(); ++k) {
        if (!std::isfinite(f.data[k])) continue;  // compared as equal (both NaN or inf) or not at all
        double d = std::fabs(r.data[k] - f.data[k]);
        out[k] = std::max(out[k], std::isnan(d) ? kInf : d);
      }
    }
    return out;
  }

  // The local rounding of an elementwise result (an absolute bound per element).
  Vec local(NodeId id) const {
    const Node& n = g_[id];
    const Tensor& f = val(id);
    const double u = m_.u;
    Vec out(f.size(), 0.0);
    const double k = local_k(n.op);
    if (k >= 0) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = k * u * std::fabs(f.data[i]);
      return out;
    }
    const Tensor& a = val(n.in[0]);
    auto ma = kern::broadcast_map(n.shape, a.shape);
    std::vector<int64_t> mb;
    if (n.in.size() > 1) mb = kern::broadcast_map(n.shape, val(n.in[1]).shape);
    for (size_t i = 0; i < out.size(); ++i) {
      const double x = a.data[size_t(ma[i])], y = n.in.size() > 1 ? val(n.in[1]).data[size_t(mb[i])] : 0.0;
      const double r = std::fabs(f.data[i]);
      switch (n.op) {
        case Op::gelu:  // 0.5 x erfc(-x / sqrt 2): erfc within 2 ulp, its argument's rounding grows x^2-fold
          out[i] = (8 + x * x) * u * r;
          break;
        case Op::bce: {  // -(y log p + (1 - y) log1p(-p)), logs clamped at -100
          double t1 = y * std::max(std::log(x), -100.0), t2 = (1 - y) * std::max(std::log1p(-x), -100.0);
          out[i] = u * (6 * std::fabs(t1) + 14 * std::fabs(t2) + r);
          break;
        }
        case Op::bce_with_logits: {  // max(z, 0) - z y + log1p(exp(-|z|)): relative to its terms
          double t = x * y, sp = std::log1p(std::exp(-std::fabs(x)));
          out[i] = u * (std::fabs(t) + std::fabs(std::max(x, 0.0) - t) + 17 * sp + r);
          break;
        }
        case Op::huber: {  // |d| <= delta: 0.5 d^2; else delta (|d| - delta / 2)
          double d = std::fabs(x - y), delta = n.attrs.alpha;
          out[i] = d <= delta ? 3 * u * r : u * (delta * d + 2 * r);
          break;
        }
        default:
          out[i] = kInf;  // unknown: untested rather than wrong
      }
    }
    return out;
  }

  void elementwise(NodeId id) {
    const Node& n = g_[id];
    const size_t N = val(id).size();
    Vec A(N, 0.0), V(N, 0.0), D(N, 0.0);
    for (size_t i = 0; i < n.in.size(); ++i) {
      NodeId in = n.in[i];  // (an i32 operand has a channel only from an argmax: D)
      const Vec &Ai = m_.A[size_t(in)], &Vi = m_.V[size_t(in)], &Di = m_.D[size_t(in)];
      if (Ai.empty() && Vi.empty() && Di.empty()) continue;
      if (jumps(n.op) || (n.op == Op::where && i == 0)) {  // either side: at full size
        Vec d = deviation(id, i, tol_of(in));
        for (size_t k = 0; k < N; ++k) D[k] += d[k];
        continue;
      }
      if (!Ai.empty()) {
        Vec d = deviation(id, i, Ai);
        for (size_t k = 0; k < N; ++k) A[k] += d[k];
      }
      if (!Vi.empty()) {
        Vec s(Vi.size());
        for (size_t k = 0; k < s.size(); ++k) s[k] = kLambda * std::sqrt(Vi[k]);
        Vec d = deviation(id, i, s);
        for (size_t k = 0; k < N; ++k) V[k] += (d[k] / kLambda) * (d[k] / kLambda);
      }
      if (!Di.empty()) {
        Vec d = deviation(id, i, Di);
        for (size_t k = 0; k < N; ++k) D[k] += d[k];
      }
    }
    Vec loc = local(id);
    for (size_t k = 0; k < N; ++k) {
      A[k] += loc[k];
      V[k] += loc[k] * loc[k];
    }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  void matmul(NodeId id) {
    const Node& n = g_[id];
    NodeId a = n.in[0], b = n.in[1];
    const int64_t K = val(a).shape.back();
    const double u = m_.u;
    Tensor aa = map(a, [](double x) { return std::fabs(x); }), ab = map(b, [](double x) { return std::fabs(x); });
    Tensor a2 = map(a, [](double x) { return x * x; }), b2 = map(b, [](double x) { return x * x; });
    Tensor terms = apply(id, {&aa, &ab}), sq = apply(id, {&a2, &b2});
    Tensor Aa = chan(m_.A[size_t(a)], a), Ab = chan(m_.A[size_t(b)], b), Va = chan(m_.V[size_t(a)], a),
           Vb = chan(m_.V[size_t(b)], b), Da = chan(m_.D[size_t(a)], a), Db = chan(m_.D[size_t(b)], b);
    Tensor A1 = apply(id, {&Aa, &ab}), A2 = apply(id, {&aa, &Ab}), V1 = apply(id, {&Va, &b2}),
           V2 = apply(id, {&a2, &Vb}), D1 = apply(id, {&Da, &ab}), D2 = apply(id, {&aa, &Db});
    const Tensor& c = val(id);
    Vec A(c.size()), V(c.size()), D(c.size());
    for (size_t i = 0; i < c.size(); ++i) {
      A[i] = A1.data[i] + A2.data[i] + double(K - 1) * u * terms.data[i];
      V[i] = V1.data[i] + V2.data[i] + u * u * double(K) * (sq.data[i] + c.data[i] * c.data[i]);
      D[i] = D1.data[i] + D2.data[i];
    }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  // sum, mean, sum_to: the channels summed (V as is: independent errors), plus the sum's own.
  void sum(NodeId id) {
    const Node& n = g_[id];
    NodeId x = n.in[0];
    const double u = m_.u;
    Tensor ax = map(x, [](double v) { return std::fabs(v); }), x2 = map(x, [](double v) { return v * v; });
    Tensor Ax = chan(m_.A[size_t(x)], x), Vx = chan(m_.V[size_t(x)], x), Dx = chan(m_.D[size_t(x)], x);
    Tensor S = apply(id, {&ax}), Q = apply(id, {&x2}), As = apply(id, {&Ax}), Vs = apply(id, {&Vx}), Ds = apply(id, {&Dx});
    const Tensor& r = val(id);
    const double cnt = double(val(x).size()) / double(std::max<size_t>(r.size(), 1));
    // A mean divides by cnt: sums of |x| and x^2 and the channels come out divided once; V,
    // a square, needs a second division, and the sum itself is cnt * mean.
    const bool mean = n.op == Op::mean;
    Vec A(r.size()), V(r.size()), D(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      const double sum_abs = mean ? S.data[i] * cnt : S.data[i], sum_sq = mean ? Q.data[i] * cnt : Q.data[i];
      const double s = mean ? r.data[i] * cnt : r.data[i];
      double a = (cnt - 1) * u * sum_abs, v = u * u * cnt * (sum_sq + s * s);
      if (mean) {
        a = a / cnt + u * std::fabs(r.data[i]);
        v = v / (cnt * cnt) + u * u * r.data[i] * r.data[i];
      }
      A[i] = As.data[i] + a;
      V[i] = (mean ? Vs.data[i] / cnt : Vs.data[i]) + v;
      D[i] = Ds.data[i];
    }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  // max, min: 1-Lipschitz in the largest error of the reduced elements; no rounding.
  void extreme(NodeId id) {
    const Node& n = g_[id];
    NodeId x = n.in[0];
    auto mp = kern::reduce_map(val(x).shape, kern::axes_of(n.attrs, val(x).shape.size()));
    const size_t M = val(id).size();
    for (int c = 0; c < 3; ++c) {
      const Vec& in = c == 0 ? m_.A[size_t(x)] : c == 1 ? m_.V[size_t(x)] : m_.D[size_t(x)];
      if (in.empty()) continue;
      Vec out(M, 0.0);
      for (size_t i = 0; i < in.size(); ++i) out[size_t(mp[i])] = std::max(out[size_t(mp[i])], in[i]);
      (c == 0 ? m_.A : c == 1 ? m_.V : m_.D)[size_t(id)] = std::move(out);
    }
  }

  // lse = m + log(sum exp(x - m)): d lse / d x_i = p_i (the softmax); its own roundings:
  // x - m, exp (4u), the sum of positive terms ((n - 1) u), log (4u), + m.
  void logsumexp(NodeId id) {
    const Node& n = g_[id];
    NodeId x = n.in[0];
    const Tensor& xv = val(x);
    auto mp = kern::reduce_map(xv.shape, kern::axes_of(n.attrs, xv.shape.size()));
    const Tensor& r = val(id);
    const size_t M = r.size();
    const double u = m_.u, cnt = double(xv.size()) / double(std::max<size_t>(M, 1));
    Vec mx(M, -kInf);
    for (size_t i = 0; i < xv.size(); ++i) mx[size_t(mp[i])] = std::max(mx[size_t(mp[i])], xv.data[i]);
    Vec A(M, 0.0), V(M, 0.0), D(M, 0.0), spread(M, 0.0);
    for (size_t i = 0; i < xv.size(); ++i) {
      const size_t j = size_t(mp[i]);
      const double p = std::isfinite(r.data[j]) ? std::exp(xv.data[i] - r.data[j]) : 0.0;
      A[j] += p * at(m_.A[size_t(x)], i);
      V[j] += p * p * at(m_.V[size_t(x)], i);
      D[j] += p * at(m_.D[size_t(x)], i);
      spread[j] += p * std::fabs(xv.data[i] - mx[j]);
    }
    for (size_t j = 0; j < M; ++j) {
      const double loc = u * (spread[j] + 4 + (cnt - 1) + 4 * std::fabs(r.data[j] - mx[j]) + std::fabs(r.data[j]));
      A[j] += loc;
      V[j] += loc * loc;
    }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  // argmax (i32): exact, unless another element is within the two tolerances of the
  // maximum: then untested (infinite).
  void argmax(NodeId id) {
    const Node& n = g_[id];
    NodeId x = n.in[0];
    const Tensor& xv = val(x);
    auto sp = kern::split_axis(xv.shape, kern::single_axis(n.attrs, xv.shape.size()));
    Vec D(val(id).size(), 0.0);
    for (int64_t a = 0; a < sp.outer; ++a)
      for (int64_t i = 0; i < sp.inner; ++i) {
        const int64_t best = int64_t(val(id).data[size_t(a * sp.inner + i)]);
        const size_t bi = size_t(sp.at(a, best, i));
        for (int64_t k = 0; k < sp.len; ++k) {
          const size_t ki = size_t(sp.at(a, k, i));
          if (k != best && xv.data[ki] >= xv.data[bi] - m_.tolerance(x, bi) - m_.tolerance(x, ki))
            D[size_t(a * sp.inner + i)] = kInf;
        }
      }
    m_.D[size_t(id)] = std::move(D);
  }

  // softmax s_k = exp(x_k - lse): d s_k = s_k (dx_k - sum_j s_j dx_j); its own roundings:
  // x - m, exp, the sum, the division. log_softmax x_k - lse: d = dx_k - sum_j s_j dx_j.
  void softmax(NodeId id) {
    const Node& n = g_[id];
    NodeId x = n.in[0];
    const Tensor& xv = val(x);
    const bool log = n.op == Op::log_softmax;
    auto sp = kern::split_axis(xv.shape, kern::single_axis(n.attrs, xv.shape.size()));
    const double u = m_.u;
    const size_t N = xv.size();
    Vec A(N, 0.0), V(N, 0.0), D(N, 0.0);
    const Vec &Ax = m_.A[size_t(x)], &Vx = m_.V[size_t(x)], &Dx = m_.D[size_t(x)];
    for (int64_t a = 0; a < sp.outer; ++a)
      for (int64_t i = 0; i < sp.inner; ++i) {
        double m = -kInf, S = 0;
        for (int64_t k = 0; k < sp.len; ++k) m = std::max(m, xv.data[size_t(sp.at(a, k, i))]);
        for (int64_t k = 0; k < sp.len; ++k) S += std::exp(xv.data[size_t(sp.at(a, k, i))] - m);
        const double lse = m + std::log(S);
        double sA = 0, sV = 0, sD = 0, spread = 0;
        for (int64_t k = 0; k < sp.len; ++k) {
          const size_t e = size_t(sp.at(a, k, i));
          const double s = std::exp(xv.data[e] - lse);
          sA += s * at(Ax, e);
          sV += s * s * at(Vx, e);
          sD += s * at(Dx, e);
          spread += s * std::fabs(xv.data[e] - m);
        }
        for (int64_t k = 0; k < sp.len; ++k) {
          const size_t e = size_t(sp.at(a, k, i));
          const double s = std::exp(xv.data[e] - lse), w = log ? 1.0 : s;
          const double loc = log ? u * (std::fabs(xv.data[e] - m) + spread + 4 + double(sp.len - 1) +
                                        4 * std::fabs(std::log(S)) + std::fabs(lse) + std::fabs(val(id).data[e]))
                                 : s * u * (std::fabs(xv.data[e] - m) + spread + 8 + double(sp.len - 1) + 1);
          A[e] = w * (at(Ax, e) + sA) + loc;
          V[e] = 2 * w * w * (at(Vx, e) + sV) + loc * loc;
          D[e] = w * (at(Dx, e) + sD);
        }
      }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  // softmax_cross_entropy over the last axis: lse - z[label] (i32 labels; d/dz_j = s_j -
  // [j = label]) or sum_c y_c (lse - z_c) (d/dz_j = s_j sum(y) - y_j, d/dy_c = lse - z_c).
  void sce(NodeId id) {
    const Node& n = g_[id];
    NodeId z = n.in[0], y = n.in[1];
    const Tensor &zv = val(z), &yv = val(y);
    const bool classes = yv.dtype == DType::i32;
    auto sp = kern::split_axis(zv.shape, int64_t(zv.shape.size()) - 1);
    const double u = m_.u;
    Vec A(val(id).size(), 0.0), V(val(id).size(), 0.0), D(val(id).size(), 0.0);
    for (int64_t a = 0; a < sp.outer; ++a) {
      double m = -kInf, S = 0;
      for (int64_t k = 0; k < sp.len; ++k) m = std::max(m, zv.data[size_t(sp.at(a, k, 0))]);
      for (int64_t k = 0; k < sp.len; ++k) S += std::exp(zv.data[size_t(sp.at(a, k, 0))] - m);
      const double lse = m + std::log(S);
      double spread = 0, ysum = 0, terms = 0;
      for (int64_t k = 0; k < sp.len; ++k) {
        const size_t e = size_t(sp.at(a, k, 0));
        spread += std::exp(zv.data[e] - lse) * std::fabs(zv.data[e] - m);
        if (!classes) {
          ysum += yv.data[e];
          terms += std::fabs(yv.data[e] * (lse - zv.data[e]));
        }
      }
      const double lse_loc = u * (spread + 4 + double(sp.len - 1) + 4 * std::fabs(std::log(S)) + std::fabs(lse));
      const size_t o = size_t(a);
      double loc = classes ? lse_loc + u * std::fabs(val(id).data[o])
                           : lse_loc * std::fabs(ysum) + u * (2 + double(sp.len - 1)) * terms;
      for (int64_t k = 0; k < sp.len; ++k) {
        const size_t e = size_t(sp.at(a, k, 0));
        const double s = std::exp(zv.data[e] - lse);
        const double w = classes ? s - (int64_t(yv.data[o]) == k ? 1.0 : 0.0) : s * ysum - yv.data[e];
        A[o] += std::fabs(w) * at(m_.A[size_t(z)], e);
        V[o] += w * w * at(m_.V[size_t(z)], e);
        D[o] += std::fabs(w) * at(m_.D[size_t(z)], e);
        if (!classes) {
          const double wy = lse - zv.data[e];
          A[o] += std::fabs(wy) * at(m_.A[size_t(y)], e);
          V[o] += wy * wy * at(m_.V[size_t(y)], e);
          D[o] += std::fabs(wy) * at(m_.D[size_t(y)], e);
        }
      }
      A[o] += loc;
      V[o] += loc * loc;
    }
    m_.A[size_t(id)] = std::move(A);
    m_.V[size_t(id)] = std::move(V);
    m_.D[size_t(id)] = std::move(D);
  }

  // transpose, reshape, broadcast_to, slice, concat: exact moves; the channels move alike.
  void move(NodeId id) {
    const Node& n = g_[id];
    for (int c = 0; c < 3; ++c) {
      auto& ch = c == 0 ? m_.A : c == 1 ? m_.V : m_.D;
      bool any = false;
      std::vector<Tensor> ins;
      for (NodeId in : n.in) {
        any = any || !ch[size_t(in)].empty();
        ins.push_back(chan(ch[size_t(in)], in));
      }
      if (!any) continue;
      std::vector<const Tensor*> args;
      for (auto& t : ins) args.push_back(&t);
      ch[size_t(id)] = apply(id, args).data;
    }
  }

  const Graph& g_;
  RoundingModel& m_;
};

}  // namespace

double RoundingModel::tolerance(NodeId id, size_t i) const {
  const double a = at(A[size_t(id)], i), v = at(V[size_t(id)], i), d = at(D[size_t(id)], i);
  return std::min(a, kLambda * std::sqrt(v)) + d;
}

Tensor RoundingModel::tolerance(NodeId id) const {
  Tensor t(DType::f64, value[size_t(id)].shape);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = tolerance(id, i);
  return t;
}

std::optional<RoundingModel> rounding_model(const Graph& g, const ValueMap& leaves, std::string& err) {
  RoundingModel m;
  Graph ref = g;  // the f32 engines' literals: rounded to float
  for (Node& n : ref.nodes)
    if (n.op == Op::literal && n.dtype == DType::f32)
      for (double& v : n.attrs.init.data) v = double(float(v));
  auto vals = evaluate(ref, leaves, Precision::f64, err);
  if (!vals) return std::nullopt;
  m.value = std::move(*vals);
  Builder b(g, m);
  if (!b.run(err)) return std::nullopt;
  return m;
}

Agreement agreement(const RoundingModel& m, NodeId id, const Tensor& got) {
  Agreement out;
  const Tensor& want = m.value[size_t(id)];
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    const double a = got.data[i], b = want.data[i];
    if (a == b || (std::isnan(a) && std::isnan(b))) continue;
    const double tol = m.tolerance(id, i), d = std::fabs(a - b);
    const double r = d <= tol ? (tol > 0 ? d / tol : 0.0) : (tol > 0 ? d / tol : kInf);
    if (r > out.worst || std::isnan(r)) out = {std::isnan(r) ? kInf : r, i, a, b, tol};
  }
  return out;
}

}  // namespace kiln::test
