// The op table's interface: the Op enum, node attributes, and the row type that holds
// everything about one op (shape rule, reference kernel, derivative, interval, how the
// language reaches it, what the static checks know of it) but its code generator, which
// the backend indexes by op (backend/op_gens.cpp).
#pragma once
#include "ir/types.hpp"
#include <array>
#include <span>
#include <string>
#include <vector>

namespace kiln {

// Every op of the IR. The rows live in ir/ops/*.cpp, one group a file.
enum class Op : uint8_t {
  // leaves
  input, param, const_, literal, state,
  // elementwise unary
  neg, exp, log, log1p, expm1, sqrt, rsqrt, square, abs, sign, sin, cos, tanh, sigmoid, relu,
  leaky_relu, elu, gelu, silu, softplus, log_sigmoid, softsign, hard_sigmoid, round, floor, ceil, stop_gradient,
  // elementwise binary (NumPy broadcasting)
  add, sub, mul, div, pow, minimum, maximum, lt, le, gt, ge, eq, ne,
  // elementwise ternary
  clip, where,
  // linear algebra
  matmul,
  // reductions
  sum, mean, max, min, logsumexp, argmax,
  // shape
  transpose, reshape, concat, one_hot, broadcast_to, sum_to,
  // nn
  softmax, log_softmax,
  // losses (per example)
  bce, bce_with_logits, softmax_cross_entropy, squared_error, huber,
  // internal, created by derivative rules: gelu's derivative; slice along one axis
  // (axes = {axis}, n = start, shape = the result's shape)
  gelu_grad, slice,
  count_  // number of ops; not an op
};
constexpr int kNumOps = static_cast<int>(Op::count_);

enum class InitKind : uint8_t {
  none, zeros, ones, constant, normal, uniform, glorot_uniform, glorot_normal, he_normal,
  he_uniform, lecun_normal, literal
};
std::string_view init_name(InitKind k);

// How a param/const is initialised. normal: a=mean b=std; uniform: a=lo b=hi;
// constant: a=value; literal: data (row-major, exactly num_elements values).
struct Init {
  InitKind kind = InitKind::none;
  double a = 0, b = 0;
  std::vector<double> data;
  bool operator==(const Init&) const = default;
};

// Attributes of a node. Each op uses the subset named by its row's `attrs` mask.
struct Attrs {
  std::vector<int64_t> axes;  // reductions (empty = all axes); one axis for softmax, log_softmax, argmax, concat
  bool keepdims = false;      // reductions
  Shape shape;                // reshape, broadcast_to, sum_to: the target shape
  double alpha = 0;           // leaky_relu alpha, elu alpha, huber delta
  int64_t n = 0;              // one_hot depth
  bool normalize = false;     // input: standardised by the runtime
  Init init;                  // param, const, literal, state: initial value
  bool operator==(const Attrs&) const = default;
};
enum AttrBit : uint32_t {
  kAxes = 1, kKeepdims = 2, kShape = 4, kAlpha = 8, kN = 16, kNormalize = 32, kInit = 64
};

struct ValueType {
  DType dtype = DType::f32;
  Shape shape;
  bool operator==(const ValueType&) const = default;
};

enum class OpClass : uint8_t { leaf, unary, binary, ternary, matmul, reduce, shape, nn, loss };

struct Node;
struct Tensor;
struct GradContext;    // passes/autodiff: builds the backward graph (issue: autodiff)
struct IntervalContext;  // ir/interval.hpp

// Shape and type rule: fills `out`, or returns false with a message in `err` that names
// the operand types (the caller attaches source ranges).
using InferFn = bool (*)(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Reference kernel: computes `out` (dtype/shape already set from the node) from inputs.
using EvalFn = void (*)(std::span<const Tensor* const> in, const Node& n, Tensor& out);
// Derivative rule: given the gradient of the node's output, adds the gradient of each input.
using GradFn = void (*)(GradContext& ctx);
using IntervalFn = void (*)(IntervalContext& ctx);

// How the language reaches an op: a call, whose kind says how frontend/lower_call.cpp binds
// its arguments; an operator (frontend/lower_expr.cpp); a declaration; or not at all. The
// front end derives its functions and operators from the rows.
enum class CallKind : uint8_t {
  unset,        // the row does not say: the op table refuses it
  internal,     // not in the language: made by derivative rules and passes (gelu_grad, slice, ...)
  declaration,  // a leaf: declared by `input`, `param`, `const`, or written as a literal
  prefix,       // an operator before its operand (Surface::name is its symbol): -x
  infix,        // an operator between its operands: a + b
  // Calls. The front end lists its functions by kind in this order, each kind's rows in table
  // order (the order breaks ties between "did you mean" suggestions).
  unary,    // f(x)
  alpha,    // f(x, alpha=default)
  binary,   // f(a, b)
  ternary,  // f(x, lo, hi)
  reduce,   // f(x, axis=all, keepdims=false)
  argmax,   // f(x, axis)
  reshape,  // f(x, [dims])
  concat,   // f([a, b, ...], axis=0)
  one_hot,  // f(labels, n)
  softmax,  // f(x, axis=-1)
  loss,     // f(prediction, target), bound as binary
  huber,    // f(a, b, delta=default), delta > 0
};
constexpr bool is_call(CallKind k) { return k >= CallKind::unary; }

struct Surface {
  CallKind kind = CallKind::unset;
  std::string_view name;                     // calls: the function ("" in a row: the op's name); operators: the symbol
  std::array<std::string_view, 3> params{};  // calls: the parameter names, in order
  int required = 0;                          // calls: how many leading parameters have no default
  double alpha = 0;                          // alpha, huber: the number parameter's default (Attrs::alpha)
};

// The rows' surfaces (ir/ops/*.cpp), one helper per kind.
namespace surface {
constexpr Surface internal() { return {CallKind::internal}; }
constexpr Surface declaration() { return {CallKind::declaration}; }
constexpr Surface prefix(std::string_view symbol) { return {CallKind::prefix, symbol}; }
constexpr Surface infix(std::string_view symbol) { return {CallKind::infix, symbol}; }
constexpr Surface unary() { return {CallKind::unary, {}, {"x"}, 1}; }
constexpr Surface alpha(double def) { return {CallKind::alpha, {}, {"x", "alpha"}, 1, def}; }
constexpr Surface binary(std::string_view a, std::string_view b) { return {CallKind::binary, {}, {a, b}, 2}; }
constexpr Surface ternary(std::string_view a, std::string_view b, std::string_view c) {
  return {CallKind::ternary, {}, {a, b, c}, 3};
}
constexpr Surface reduce() { return {CallKind::reduce, {}, {"x", "axis", "keepdims"}, 1}; }
constexpr Surface argmax() { return {CallKind::argmax, {}, {"x", "axis"}, 2}; }
constexpr Surface reshape() { return {CallKind::reshape, {}, {"x", "shape"}, 2}; }
constexpr Surface concat() { return {CallKind::concat, {}, {"values", "axis"}, 1}; }
constexpr Surface one_hot() { return {CallKind::one_hot, {}, {"labels", "n"}, 2}; }
constexpr Surface softmax() { return {CallKind::softmax, {}, {"x", "axis"}, 1}; }
constexpr Surface loss(std::string_view a, std::string_view b) { return {CallKind::loss, {}, {a, b}, 2}; }
constexpr Surface huber(double def) { return {CallKind::huber, {}, {"a", "b", "delta"}, 2, def}; }
}  // namespace surface

// What the static checks (passes/diagnostics/) know of an op as an activation function.
enum class ActKind : uint8_t {
  none,
  rectifier,   // relu's family: he_* initialisers keep the activations' scale (init-scale)
  saturating,  // its derivative vanishes for large |x| (vanishing-gradient)
};
struct Activation {
  ActKind kind = ActKind::none;
  double max_slope = 0;   // saturating: the derivative's largest value (sigmoid: 1/4)
  std::string_view slope;  // saturating: that bound as a note words it ("1/4")
};
namespace activation {
constexpr Activation rectifier() { return {ActKind::rectifier}; }
constexpr Activation saturating(double max_slope, std::string_view words) {
  return {ActKind::saturating, max_slope, words};
}
}  // namespace activation

// One op: everything about it but its code generator (the backend's, indexed by op:
// backend/op_gens.cpp). The op table (ir/op_table.cpp) refuses, at its first use, a row
// without its surface, or a non-leaf row without its reference kernel or interval rule, or
// a differentiable one without its derivative.
struct OpRow {
  Op op;
  std::string_view name;   // as printed in the IR text form
  int arity;               // number of inputs; -1: variadic (concat)
  OpClass cls;
  uint32_t attrs;          // AttrBit mask of the attributes the op uses
  bool zero_grad;          // no gradient flows through (round, floor, comparisons, ...)
  InferFn infer;
  EvalFn eval = nullptr;
  GradFn grad = nullptr;
  IntervalFn interval = nullptr;
  Surface surface = {};  // how the language reaches it
  Activation act = {};   // what the static checks know of it as an activation function
};

const OpRow& op_row(Op op);
const OpRow* find_op(std::string_view name);  // by IR name; nullptr when unknown
inline std::string_view op_name(Op op) { return op_row(op).name; }

// Shape helpers shared by the rules (and by later passes).
bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out);
// Normalises possibly negative axes against rank; false if out of range or repeated.
bool normalize_axes(std::vector<int64_t>& axes, size_t rank);

}  // namespace kiln
