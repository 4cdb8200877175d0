// Element generators of the elementwise ops (unary, binary, ternary, elementwise losses),
// the elementwise loop that drives them, and their entries of the generator table. Formulas
// mirror the reference interpreter's, evaluated in the node's element type.
#include "backend/op_gens.hpp"
#include "backend/vmath.hpp"
#include <array>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace kiln::backend {

using llvm::Value;
using Args = std::span<Value* const>;
namespace I = llvm::Intrinsic;

// ---- contexts ---------------------------------------------------------------------------

Value* ElemCtx::c(double v) const { return llvm::ConstantFP::get(ty, v); }

Value* ElemCtx::intrinsic(llvm::Intrinsic::ID id, Args args) const {
  return b.CreateIntrinsic(id, {args[0]->getType()}, std::vector<Value*>(args.begin(), args.end()));
}

Value* ElemCtx::libm(std::string_view name, Value* x) const { return libm_call(b, name, x); }

Value* ElemCtx::select_lt(Value* a, Value* bb, Value* x, Value* y) const {
  return b.CreateSelect(b.CreateFCmpOLT(a, bb), x, y);
}

Value* KernelCtx::load_in(size_t i, Value* index) const {
  llvm::Type* t = in_type(i);
  return b.CreateLoad(t, at(b, t, in[i], index));
}

void KernelCtx::store_out(Value* v, Value* index) const { b.CreateStore(v, at(b, out_type(), out, index)); }

ElemCtx KernelCtx::elem() const { return ElemCtx{b, m, n, out_type()}; }

// ---- the elementwise loop ---------------------------------------------------------------

std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> own = row_major_strides(s);
  size_t off = out.size() - s.size();
  for (size_t d = 0; d < s.size(); ++d) st[off + d] = s[d] == 1 ? 0 : own[d];
  return st;
}

void emit_elementwise(KernelCtx& k, ElemFn f, const std::vector<std::vector<int64_t>>& in_strides) {
  std::vector<std::vector<int64_t>> st;
  st.push_back(row_major_strides(k.n.shape));
  for (auto& s : in_strides) st.push_back(s);
  std::vector<int64_t> dims = collapse_dims(k.n.shape, st);
  ElemCtx e = k.elem();
  emit_nest(k.b, dims, [&](const Values& idx) {
    Values x;
    for (size_t i = 0; i < in_strides.size(); ++i) x.push_back(k.load_in(i, linear_index(k.b, idx, st[i + 1])));
    k.store_out(f(e, x), linear_index(k.b, idx, st[0]));
  });
}

// ---- element generators -----------------------------------------------------------------

namespace {

Value* softplus_tail(ElemCtx& e, Value* x) {  // log1p(exp(-|x|))
  Value* ax = e.intrinsic(I::fabs, {&x, 1});
  Value* ex = math_exp(e.b, e.b.CreateFNeg(ax));
  return math_log1p(e.b, ex);
}
// The stable form: x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)), with one exp(-|x|).
Value* sigmoid(ElemCtx& e, Value* x) {
  Value* ex = math_exp(e.b, e.b.CreateFNeg(e.intrinsic(I::fabs, {&x, 1})));
  Value* num = e.b.CreateSelect(e.b.CreateFCmpOGE(x, e.c(0)), e.c(1), ex);
  return e.b.CreateFDiv(num, e.b.CreateFAdd(e.c(1), ex));
}
Value* max0(ElemCtx& e, Value* x) { return e.b.CreateSelect(e.b.CreateFCmpOGT(x, e.c(0)), x, e.c(0)); }
Value* min0(ElemCtx& e, Value* x) { return e.b.CreateSelect(e.b.CreateFCmpOLT(x, e.c(0)), x, e.c(0)); }
// std::min / std::max: min(a, b) = b < a ? b : a; max(a, b) = a < b ? b : a.
Value* std_min(ElemCtx& e, Value* a, Value* b) { return e.select_lt(b, a, b, a); }
Value* std_max(ElemCtx& e, Value* a, Value* b) { return e.select_lt(a, b, b, a); }

template <llvm::Intrinsic::ID id>
Value* intr1(ElemCtx& e, Args x) { return e.intrinsic(id, x.first(1)); }

Value* g_neg(ElemCtx& e, Args x) { return e.b.CreateFNeg(x[0]); }
Value* g_id(ElemCtx&, Args x) { return x[0]; }
Value* g_exp(ElemCtx& e, Args x) { return math_exp(e.b, x[0]); }
Value* g_log(ElemCtx& e, Args x) { return math_log(e.b, x[0]); }
Value* g_log1p(ElemCtx& e, Args x) { return math_log1p(e.b, x[0]); }
Value* g_expm1(ElemCtx& e, Args x) { return math_expm1(e.b, x[0]); }
Value* g_rsqrt(ElemCtx& e, Args x) { return e.b.CreateFDiv(e.c(1), e.intrinsic(I::sqrt, x)); }
Value* g_square(ElemCtx& e, Args x) { return e.b.CreateFMul(x[0], x[0]); }
Value* g_sign(ElemCtx& e, Args x) {
  Value* s = e.b.CreateSelect(e.b.CreateFCmpOLT(x[0], e.c(0)), e.c(-1), e.c(0));
  return e.b.CreateSelect(e.b.CreateFCmpOGT(x[0], e.c(0)), e.c(1), s);
}
Value* g_tanh(ElemCtx& e, Args x) { return math_tanh(e.b, x[0]); }
Value* g_sigmoid(ElemCtx& e, Args x) { return sigmoid(e, x[0]); }
Value* g_relu(ElemCtx& e, Args x) { return max0(e, x[0]); }
Value* g_leaky_relu(ElemCtx& e, Args x) {
  return e.b.CreateSelect(e.b.CreateFCmpOGT(x[0], e.c(0)), x[0], e.b.CreateFMul(e.c(e.n.attrs.alpha), x[0]));
}
Value* g_elu(ElemCtx& e, Args x) {
  Value* neg = e.b.CreateFMul(e.c(e.n.attrs.alpha), math_expm1(e.b, x[0]));
  return e.b.CreateSelect(e.b.CreateFCmpOGT(x[0], e.c(0)), x[0], neg);
}
constexpr double kSqrt2 = 1.4142135623730951, kInvSqrt2Pi = 0.3989422804014327;
// 1 + erf(x / sqrt 2), as erfc(-x / sqrt 2): no cancellation for negative x.
Value* one_plus_erf(ElemCtx& e, Value* x) { return e.libm("erfc", e.b.CreateFDiv(e.b.CreateFNeg(x), e.c(kSqrt2))); }
Value* g_gelu(ElemCtx& e, Args x) {  // 0.5 x (1 + erf(x / sqrt 2))
  return e.b.CreateFMul(e.b.CreateFMul(e.c(0.5), x[0]), one_plus_erf(e, x[0]));
}
// gelu's derivative: 0.5 (1 + erf(x / sqrt 2)) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// The two terms cancel for negative x, so an f32 node computes it in f64.
Value* g_gelu_grad(ElemCtx& e0, Args x0) {
  ElemCtx e{e0.b, e0.m, e0.n, e0.b.getDoubleTy()};
  Value* x = e.b.CreateFPExt(x0[0], e.ty);
  Value* cdf = e.b.CreateFMul(e.c(0.5), one_plus_erf(e, x));
  Value* g = math_exp(e.b, e.b.CreateFMul(e.b.CreateFMul(e.c(-0.5), x), x));
  Value* r = e.b.CreateFAdd(cdf, e.b.CreateFMul(e.b.CreateFMul(x, e.c(kInvSqrt2Pi)), g));
  return r->getType() == e0.ty ? r : e.b.CreateFPTrunc(r, e0.ty);
}
Value* g_silu(ElemCtx& e, Args x) { return e.b.CreateFMul(x[0], sigmoid(e, x[0])); }
Value* g_softplus(ElemCtx& e, Args x) { return e.b.CreateFAdd(max0(e, x[0]), softplus_tail(e, x[0])); }
Value* g_log_sigmoid(ElemCtx& e, Args x) { return e.b.CreateFSub(min0(e, x[0]), softplus_tail(e, x[0])); }
Value* g_softsign(ElemCtx& e, Args x) {  // x / (1 + |x|)
  return e.b.CreateFDiv(x[0], e.b.CreateFAdd(e.c(1), e.intrinsic(I::fabs, x.first(1))));
}
Value* g_hard_sigmoid(ElemCtx& e, Args x) {  // min(max(x + 3, 0), 6) / 6, as PyTorch
  Value* relu6 = std_min(e, std_max(e, e.b.CreateFAdd(x[0], e.c(3)), e.c(0)), e.c(6));
  return e.b.CreateFDiv(relu6, e.c(6));
}

Value* g_add(ElemCtx& e, Args x) { return e.b.CreateFAdd(x[0], x[1]); }
Value* g_sub(ElemCtx& e, Args x) { return e.b.CreateFSub(x[0], x[1]); }
Value* g_mul(ElemCtx& e, Args x) { return e.b.CreateFMul(x[0], x[1]); }
Value* g_div(ElemCtx& e, Args x) { return e.b.CreateFDiv(x[0], x[1]); }
Value* g_pow(ElemCtx& e, Args x) { return e.intrinsic(I::pow, x.first(2)); }
Value* g_minimum(ElemCtx& e, Args x) { return std_min(e, x[0], x[1]); }
Value* g_maximum(ElemCtx& e, Args x) { return std_max(e, x[0], x[1]); }

template <llvm::CmpInst::Predicate fp, llvm::CmpInst::Predicate ip>
Value* g_compare(ElemCtx& e, Args x) {
  Value* c = x[0]->getType()->isIntegerTy() ? e.b.CreateICmp(ip, x[0], x[1]) : e.b.CreateFCmp(fp, x[0], x[1]);
  return e.b.CreateUIToFP(c, e.ty);
}
using P = llvm::CmpInst::Predicate;

Value* g_clip(ElemCtx& e, Args x) { return std_min(e, std_max(e, x[0], x[1]), x[2]); }
Value* g_where(ElemCtx& e, Args x) {
  Value* c = x[0]->getType()->isIntegerTy() ? e.b.CreateICmpNE(x[0], e.b.getInt32(0))
                                            : e.b.CreateFCmpUNE(x[0], llvm::ConstantFP::get(x[0]->getType(), 0));
  return e.b.CreateSelect(c, x[1], x[2]);
}

// -(y max(log p, -100) + (1 - y) max(log(1 - p), -100)); log(1 - p) as log1p(-p), exact
// where 1 - p would round.
Value* g_bce(ElemCtx& e, Args x) {
  Value* lp = std_max(e, math_log(e.b, x[0]), e.c(-100));
  Value* lq = std_max(e, math_log1p(e.b, e.b.CreateFNeg(x[0])), e.c(-100));
  Value* s = e.b.CreateFAdd(e.b.CreateFMul(x[1], lp), e.b.CreateFMul(e.b.CreateFSub(e.c(1), x[1]), lq));
  return e.b.CreateFNeg(s);
}
// max(z, 0) - z y + log1p(exp(-|z|))
Value* g_bce_with_logits(ElemCtx& e, Args x) {
  Value* a = e.b.CreateFSub(max0(e, x[0]), e.b.CreateFMul(x[0], x[1]));
  return e.b.CreateFAdd(a, softplus_tail(e, x[0]));
}
Value* g_squared_error(ElemCtx& e, Args x) {
  Value* d = e.b.CreateFSub(x[0], x[1]);
  return e.b.CreateFMul(d, d);
}
// d = |a - b|: d <= delta ? 0.5 d^2 : delta (d - 0.5 delta)
Value* g_huber(ElemCtx& e, Args x) {
  double delta = e.n.attrs.alpha;
  Value* d = e.intrinsic(I::fabs, std::array{e.b.CreateFSub(x[0], x[1])});
  Value* quad = e.b.CreateFMul(e.c(0.5), e.b.CreateFMul(d, d));
  Value* lin = e.b.CreateFMul(e.c(delta), e.b.CreateFSub(d, e.c(0.5 * delta)));
  return e.b.CreateSelect(e.b.CreateFCmpOLE(d, e.c(delta)), quad, lin);
}

// Elementwise ops run through the broadcasting loop.
void elementwise_kernel(KernelCtx& k) {
  std::vector<std::vector<int64_t>> st;
  for (size_t i = 0; i < k.n.in.size(); ++i) st.push_back(broadcast_strides(k.in_shape(i), k.n.shape));
  emit_elementwise(k, op_gen(k.n.op).elem, st);
}

}  // namespace

// This file's generators (backend/op_gens.cpp): elementwise ops run through the broadcasting
// loop, and fuse: the element generator is what a fused loop calls.
std::vector<OpGenEntry> elemental_gens() {
  auto elementwise = [](ElemFn f) { return OpGen{f, elementwise_kernel}; };
  return {
      {Op::neg, elementwise(g_neg)},
      {Op::exp, elementwise(g_exp)},
      {Op::log, elementwise(g_log)},
      {Op::log1p, elementwise(g_log1p)},
      {Op::expm1, elementwise(g_expm1)},
      {Op::sqrt, elementwise(intr1<I::sqrt>)},
      {Op::rsqrt, elementwise(g_rsqrt)},
      {Op::square, elementwise(g_square)},
      {Op::abs, elementwise(intr1<I::fabs>)},
      {Op::sign, elementwise(g_sign)},
      {Op::sin, elementwise(intr1<I::sin>)},
      {Op::cos, elementwise(intr1<I::cos>)},
      {Op::tanh, elementwise(g_tanh)},
      {Op::sigmoid, elementwise(g_sigmoid)},
      {Op::relu, elementwise(g_relu)},
      {Op::leaky_relu, elementwise(g_leaky_relu)},
      {Op::elu, elementwise(g_elu)},
      {Op::gelu, elementwise(g_gelu)},
      {Op::gelu_grad, elementwise(g_gelu_grad)},
      {Op::silu, elementwise(g_silu)},
      {Op::softplus, elementwise(g_softplus)},
      {Op::log_sigmoid, elementwise(g_log_sigmoid)},
      {Op::softsign, elementwise(g_softsign)},
      {Op::hard_sigmoid, elementwise(g_hard_sigmoid)},
      {Op::round, elementwise(intr1<I::roundeven>)},
      {Op::floor, elementwise(intr1<I::floor>)},
      {Op::ceil, elementwise(intr1<I::ceil>)},
      {Op::stop_gradient, elementwise(g_id)},  // the planner fuses it like any unary op
      {Op::add, elementwise(g_add)},
      {Op::sub, elementwise(g_sub)},
      {Op::mul, elementwise(g_mul)},
      {Op::div, elementwise(g_div)},
      {Op::pow, elementwise(g_pow)},
      {Op::minimum, elementwise(g_minimum)},
      {Op::maximum, elementwise(g_maximum)},
      {Op::lt, elementwise(g_compare<P::FCMP_OLT, P::ICMP_SLT>)},
      {Op::le, elementwise(g_compare<P::FCMP_OLE, P::ICMP_SLE>)},
      {Op::gt, elementwise(g_compare<P::FCMP_OGT, P::ICMP_SGT>)},
      {Op::ge, elementwise(g_compare<P::FCMP_OGE, P::ICMP_SGE>)},
      {Op::eq, elementwise(g_compare<P::FCMP_OEQ, P::ICMP_EQ>)},
      {Op::ne, elementwise(g_compare<P::FCMP_UNE, P::ICMP_NE>)},
      {Op::clip, elementwise(g_clip)},
      {Op::where, elementwise(g_where)},
      {Op::bce, elementwise(g_bce)},
      {Op::bce_with_logits, elementwise(g_bce_with_logits)},
      {Op::squared_error, elementwise(g_squared_error)},
      {Op::huber, elementwise(g_huber)},
  };
}

}  // namespace kiln::backend
