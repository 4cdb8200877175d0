// Interval transfer functions, one per op (or family), referenced by the op table's rows
// (OpRow::interval in ir/ops/*.cpp). Each sets ctx.out from ctx.in (ir/interval.hpp).
#pragma once
#include "ir/interval.hpp"
#include <cmath>

namespace kiln::interval {

// The rule of an elementwise op whose reference function F is non-decreasing: F at both
// ends. A row names it with its own function (relu's is `interval::increasing<f_relu>`), so
// a monotone op needs no rule of its own. At an infinite end where F is NaN (inf / inf),
// F's limit there, and the result may be NaN.
template <double (*F)(double)>
void increasing(IntervalContext& c) {
  const Interval& x = c.in[0];
  bool nan = x.nan;
  auto at = [&](double v) {
    double y = F(v);
    if (std::isnan(y) && std::isinf(v)) {
      nan = true;
      y = F(std::copysign(std::numeric_limits<double>::max(), v));
    }
    return y;
  };
  c.out = {at(x.lo), at(x.hi), nan};
}

void leaf(IntervalContext& c);  // never called: leaves are bounded by leaf_range
void identity(IntervalContext& c);  // stop_gradient, transpose, reshape, broadcast_to, slice, max, min, mean
void neg(IntervalContext& c);
void exp(IntervalContext& c);
void log(IntervalContext& c);
void log1p(IntervalContext& c);
void expm1(IntervalContext& c);
void sqrt(IntervalContext& c);
void rsqrt(IntervalContext& c);
void square(IntervalContext& c);
void abs(IntervalContext& c);
void sin_cos(IntervalContext& c);
void tanh(IntervalContext& c);
void sigmoid(IntervalContext& c);
void leaky_relu(IntervalContext& c);
void elu(IntervalContext& c);
void gelu(IntervalContext& c);
void gelu_grad(IntervalContext& c);
void silu(IntervalContext& c);
void softplus(IntervalContext& c);
void log_sigmoid(IntervalContext& c);
void add(IntervalContext& c);
void sub(IntervalContext& c);
void mul(IntervalContext& c);
void div(IntervalContext& c);
void pow(IntervalContext& c);
void minimum(IntervalContext& c);
void maximum(IntervalContext& c);
void compare(IntervalContext& c);  // lt le gt ge eq ne: 0 or 1
void clip(IntervalContext& c);
void where(IntervalContext& c);
void matmul(IntervalContext& c);
void sum(IntervalContext& c);       // also sum_to
void logsumexp(IntervalContext& c);
void argmax(IntervalContext& c);
void concat(IntervalContext& c);
void one_hot(IntervalContext& c);
void softmax(IntervalContext& c);
void log_softmax(IntervalContext& c);
void bce(IntervalContext& c);
void bce_with_logits(IntervalContext& c);
void softmax_cross_entropy(IntervalContext& c);
void squared_error(IntervalContext& c);
void huber(IntervalContext& c);

}  // namespace kiln::interval
