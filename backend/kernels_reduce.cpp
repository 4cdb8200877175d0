// Kernel generators of the reductions (sum, mean, max, min, logsumexp over any axes, with
// keepdims), sum_to, and argmax. One accumulation loop walks the input in row-major order.
#include "backend/op_gens.hpp"
#include "backend/vmath.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
#include <llvm/IR/Intrinsics.h>

namespace kiln::backend {

using llvm::Value;

namespace {

enum class Acc { sum, max, min };

double identity(Acc a) {
  switch (a) {
    case Acc::sum: return 0;
    case Acc::max: return -std::numeric_limits<double>::infinity();
    case Acc::min: return std::numeric_limits<double>::infinity();
  }
  return 0;
}

// reassoc: the sum may be reordered (so LLVM vectorises it); only with a pinned
// vectorisation (emit_reduce), so the order depends on the shapes alone.
Value* combine(Builder& b, Acc a, Value* acc, Value* x, bool reassoc = false) {
  switch (a) {
    case Acc::sum: {
      auto* r = b.CreateFAdd(acc, x);
      if (auto* in = llvm::dyn_cast<llvm::Instruction>(r)) in->setHasAllowReassoc(reassoc);
      return r;
    }
    case Acc::max: return b.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, acc, x);
    case Acc::min: return b.CreateBinaryIntrinsic(llvm::Intrinsic::minnum, acc, x);
  }
  return nullptr;
}

// dst[o] (dst_elems elements of type t) = identity, then for every element x of the
// contiguous array `src` (shape in_shape): dst[o(idx)] = combine(dst[o(idx)], map(x, o)),
// where o(idx) = sum idx[d] * out_strides[d] (0 on reduced dims).
using MapFn = std::function<Value*(Value* x, Value* o)>;
void emit_reduce(KernelCtx& k, llvm::Type* t, Value* src, const Shape& in_shape, std::vector<int64_t> out_strides,
                 Value* dst, int64_t dst_elems, Acc a, const MapFn& map = nullptr) {
  Builder& b = k.b;
  Value* id = llvm::ConstantFP::get(t, identity(a));
  emit_for(b, dst_elems, [&](Value* i) { b.CreateStore(id, at(b, t, dst, i)); });
  std::vector<std::vector<int64_t>> st{row_major_strides(in_shape), std::move(out_strides)};
  std::vector<int64_t> dims = collapse_dims(in_shape, st);
  auto value = [&](Value* si, Value* o) {
    Value* x = k.prologue && src == k.in[0] ? k.prologue(si) : b.CreateLoad(t, at(b, t, src, si));
    return map ? map(x, o) : x;
  };
  if (dims.empty()) {  // a single element
    Value* o = i64(b, 0);
    Value* p = at(b, t, dst, o);
    b.CreateStore(combine(b, a, b.CreateLoad(t, p), value(o, o)), p);
    return;
  }
  std::vector<int64_t> outer(dims.begin(), dims.end() - 1);
  int64_t inner = dims.back();
  bool inner_reduced = st[1].back() == 0;
  emit_nest(b, outer, [&](const Values& idx) {
    Values full = idx;
    full.push_back(i64(b, 0));
    Value* sbase = linear_index(b, full, st[0]);
    Value* obase = linear_index(b, full, st[1]);
    if (inner_reduced) {  // a scalar accumulator carried through the inner loop
      // The pinned order (emit.hpp: sum_order): lane partial sums, one horizontal sum.
      const SumOrder so = sum_order(inner, t->isDoubleTy(), k.lanes);
      const bool vec = so.vec;
      Value* p = at(b, t, dst, obase);
      Values r = emit_for(b, 0, inner, 1, {b.CreateLoad(t, p)}, [&](Value* j, const Values& acc) {
        Value* si = b.CreateAdd(sbase, b.CreateMul(j, i64(b, st[0].back())));
        return Values{combine(b, a, acc[0], value(si, obase), vec)};
      });
      if (vec) pin_vectorization(b, so.width, so.interleave, so.predicate);
      b.CreateStore(r[0], p);
    } else {  // the inner dim is kept: a contiguous (vectorisable) update of dst
      emit_for(b, inner, [&](Value* j) {
        Value* si = b.CreateAdd(sbase, b.CreateMul(j, i64(b, st[0].back())));
        Value* o = b.CreateAdd(obase, b.CreateMul(j, i64(b, st[1].back())));
        Value* p = at(b, t, dst, o);
        b.CreateStore(combine(b, a, b.CreateLoad(t, p), value(si, o)), p);
      });
    }
  });
}

// Output strides (per input dim) of a reduction over attrs.axes (empty = all).
std::vector<int64_t> reduce_out_strides(const Shape& s, std::vector<int64_t> axes) {
  normalize_axes(axes, s.size());
  Shape kept;
  std::vector<bool> red(s.size(), axes.empty());
  for (auto ax : axes) red[ax] = true;
  for (size_t d = 0; d < s.size(); ++d)
    if (!red[d]) kept.push_back(s[d]);
  std::vector<int64_t> ks = row_major_strides(kept), st(s.size(), 0);
  for (size_t d = 0, j = 0; d < s.size(); ++d)
    if (!red[d]) st[d] = ks[j++];
  return st;
}

void reduce_kernel(KernelCtx& k) {
  const Shape& s = k.in_shape(0);
  llvm::Type* t = k.out_type();
  int64_t n_out = num_elements(k.n.shape);
  std::vector<int64_t> ost = reduce_out_strides(s, k.n.attrs.axes);
  Builder& b = k.b;
  switch (k.n.op) {
    case Op::sum: emit_reduce(k, t, k.in[0], s, ost, k.out, n_out, Acc::sum); break;
    case Op::max: emit_reduce(k, t, k.in[0], s, ost, k.out, n_out, Acc::max); break;
    case Op::min: emit_reduce(k, t, k.in[0], s, ost, k.out, n_out, Acc::min); break;
    case Op::mean: {
      emit_reduce(k, t, k.in[0], s, ost, k.out, n_out, Acc::sum);
      Value* count = llvm::ConstantFP::get(t, double(num_elements(s) / std::max<int64_t>(n_out, 1)));
      emit_for(b, n_out, [&](Value* i) {
        Value* p = at(b, t, k.out, i);
        b.CreateStore(b.CreateFDiv(b.CreateLoad(t, p), count), p);
      });
      break;
    }
    case Op::logsumexp: {  // m = max; s = sum exp(x - m); m + log s  (just m when m is not finite)
      emit_reduce(k, t, k.in[0], s, ost, k.out, n_out, Acc::max);
      Value* inf = llvm::ConstantFP::getInfinity(t);
      auto finite = [&](Value* m) { return b.CreateFCmpOLT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, m), inf); };
      auto safe_max = [&](Value* o) {
        Value* m = b.CreateLoad(t, at(b, t, k.out, o));
        return b.CreateSelect(finite(m), m, llvm::ConstantFP::get(t, 0));
      };
      emit_reduce(k, t, k.in[0], s, ost, k.scratch, n_out, Acc::sum, [&](Value* x, Value* o) {
        return math_exp(b, b.CreateFSub(x, safe_max(o)));
      });
      emit_for(b, n_out, [&](Value* i) {
        Value* sum = b.CreateLoad(t, at(b, t, k.scratch, i));
        Value* m = b.CreateLoad(t, at(b, t, k.out, i));
        Value* r = b.CreateFAdd(m, math_log(b, sum));
        b.CreateStore(b.CreateSelect(finite(m), r, m), at(b, t, k.out, i));
      });
      break;
    }
    default: break;
  }
}

int64_t reduce_scratch(const Graph& g, const Node& n, const Kernel&) {
  return n.op == Op::logsumexp ? num_elements(n.shape) * (n.dtype == DType::f64 ? 8 : 4) : 0;
}

// sum_to: sums over the dims along which the target shape was broadcast.
void sum_to_kernel(KernelCtx& k) {
  const Shape& s = k.in_shape(0);
  const Shape& to = k.n.shape;
  std::vector<int64_t> ts = row_major_strides(to), ost(s.size(), 0);
  size_t off = s.size() - to.size();
  for (size_t d = off; d < s.size(); ++d)
    if (to[d - off] == s[d]) ost[d] = ts[d - off];
  emit_reduce(k, k.out_type(), k.in[0], s, ost, k.out, num_elements(to), Acc::sum);
}

// argmax over one axis: the first index of the largest value.
void argmax_kernel(KernelCtx& k) {
  const Shape& s = k.in_shape(0);
  std::vector<int64_t> axes = k.n.attrs.axes;
  normalize_axes(axes, s.size());
  size_t ax = axes[0];
  int64_t outer = 1, inner = 1, len = s[ax];
  for (size_t d = 0; d < ax; ++d) outer *= s[d];
  for (size_t d = ax + 1; d < s.size(); ++d) inner *= s[d];
  Builder& b = k.b;
  llvm::Type* t = k.in_type(0);
  auto value = [&](Value* si) { return k.prologue ? k.prologue(si) : b.CreateLoad(t, at(b, t, k.in[0], si)); };
  emit_nest(b, {outer, inner}, [&](const Values& idx) {
    Value* base = b.CreateAdd(b.CreateMul(idx[0], i64(b, len * inner)), idx[1]);
    Value* first = value(base);
    Values r = emit_for(b, 1, len, 1, {first, i64(b, 0)}, [&](Value* j, const Values& c) {
      Value* x = value(b.CreateAdd(base, b.CreateMul(j, i64(b, inner))));
      Value* better = b.CreateFCmpOGT(x, c[0]);
      return Values{b.CreateSelect(better, x, c[0]), b.CreateSelect(better, j, c[1])};
    });
    Value* o = b.CreateAdd(b.CreateMul(idx[0], i64(b, inner)), idx[1]);
    k.store_out(b.CreateTrunc(r[1], b.getInt32Ty()), o);
  });
}

}  // namespace

// This file's generators (backend/op_gens.cpp).
std::vector<OpGenEntry> reduce_gens() {
  return {
      {Op::sum, {nullptr, reduce_kernel, reduce_scratch}},
      {Op::mean, {nullptr, reduce_kernel, reduce_scratch}},
      {Op::max, {nullptr, reduce_kernel, reduce_scratch}},
      {Op::min, {nullptr, reduce_kernel, reduce_scratch}},
      {Op::logsumexp, {nullptr, reduce_kernel, reduce_scratch}},
      {Op::sum_to, {nullptr, sum_to_kernel}},
      {Op::argmax, {nullptr, argmax_kernel}},
  };
}

}  // namespace kiln::backend
