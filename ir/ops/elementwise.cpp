// Op-table rows for elementwise ops: unary, binary (broadcasting) and ternary.
#include "ir/ops/groups.hpp"
#include "ir/ops/rules.hpp"

namespace kiln::ops {

std::vector<OpRow> elementwise_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::neg, "neg", 1, C::unary, 0, false, unary_float},
      {Op::exp, "exp", 1, C::unary, 0, false, unary_float},
      {Op::log, "log", 1, C::unary, 0, false, unary_float},
      {Op::log1p, "log1p", 1, C::unary, 0, false, unary_float},
      {Op::expm1, "expm1", 1, C::unary, 0, false, unary_float},
      {Op::sqrt, "sqrt", 1, C::unary, 0, false, unary_float},
      {Op::rsqrt, "rsqrt", 1, C::unary, 0, false, unary_float},
      {Op::square, "square", 1, C::unary, 0, false, unary_float},
      {Op::abs, "abs", 1, C::unary, 0, false, unary_float},
      {Op::sign, "sign", 1, C::unary, 0, true, unary_float},
      {Op::sin, "sin", 1, C::unary, 0, false, unary_float},
      {Op::cos, "cos", 1, C::unary, 0, false, unary_float},
      {Op::tanh, "tanh", 1, C::unary, 0, false, unary_float},
      {Op::sigmoid, "sigmoid", 1, C::unary, 0, false, unary_float},
      {Op::relu, "relu", 1, C::unary, 0, false, unary_float},
      {Op::leaky_relu, "leaky_relu", 1, C::unary, kAlpha, false, unary_float},
      {Op::elu, "elu", 1, C::unary, kAlpha, false, unary_float},
      {Op::gelu, "gelu", 1, C::unary, 0, false, unary_float},
      {Op::silu, "silu", 1, C::unary, 0, false, unary_float},
      {Op::softplus, "softplus", 1, C::unary, 0, false, unary_float},
      {Op::log_sigmoid, "log_sigmoid", 1, C::unary, 0, false, unary_float},
      {Op::round, "round", 1, C::unary, 0, true, unary_float},
      {Op::floor, "floor", 1, C::unary, 0, true, unary_float},
      {Op::ceil, "ceil", 1, C::unary, 0, true, unary_float},
      {Op::stop_gradient, "stop_gradient", 1, C::unary, 0, true, unary_any},

      {Op::add, "add", 2, C::binary, 0, false, broadcast_float},
      {Op::sub, "sub", 2, C::binary, 0, false, broadcast_float},
      {Op::mul, "mul", 2, C::binary, 0, false, broadcast_float},
      {Op::div, "div", 2, C::binary, 0, false, broadcast_float},
      {Op::pow, "pow", 2, C::binary, 0, false, broadcast_float},
      {Op::minimum, "minimum", 2, C::binary, 0, false, broadcast_float},
      {Op::maximum, "maximum", 2, C::binary, 0, false, broadcast_float},
      {Op::lt, "lt", 2, C::binary, 0, true, compare},
      {Op::le, "le", 2, C::binary, 0, true, compare},
      {Op::gt, "gt", 2, C::binary, 0, true, compare},
      {Op::ge, "ge", 2, C::binary, 0, true, compare},
      {Op::eq, "eq", 2, C::binary, 0, true, compare},
      {Op::ne, "ne", 2, C::binary, 0, true, compare},

      {Op::clip, "clip", 3, C::ternary, 0, false, broadcast_float},
      {Op::where, "where", 3, C::ternary, 0, false, rules::where},
  };
}

}  // namespace kiln::ops
