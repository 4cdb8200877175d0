// Kernel generators of softmax and log_softmax (stable, along one axis) and of
// softmax_cross_entropy (one-hot/probability labels or i32 class indices).
#include "backend/op_gens.hpp"
#include "backend/vmath.hpp"
#include <llvm/IR/Intrinsics.h>

namespace kiln::backend {

using llvm::Value;
namespace I = llvm::Intrinsic;

namespace {

Value* reassoc(Value* v) {
  if (auto* in = llvm::dyn_cast<llvm::Instruction>(v)) in->setHasAllowReassoc(true);
  return v;
}

struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
AxisSplit split(const Shape& s, std::vector<int64_t> axes) {
  normalize_axes(axes, s.size());
  AxisSplit a;
  size_t ax = axes[0];
  for (size_t d = 0; d < ax; ++d) a.outer *= s[d];
  a.len = s[ax];
  for (size_t d = ax + 1; d < s.size(); ++d) a.inner *= s[d];
  return a;
}

// softmax = exp(x - m) / sum exp(x - m); log_softmax = x - (m + log(sum exp(x - m))),
// m the max along the axis. Scratch holds m and the sums for one row of `inner` lanes,
// so the lanes (the dims after the axis) are the contiguous, vectorisable inner loop.
void softmax_kernel(KernelCtx& k) {
  AxisSplit a = split(k.n.shape, k.n.attrs.axes);
  bool log = k.n.op == Op::log_softmax;
  Builder& b = k.b;
  llvm::Type* t = k.out_type();
  Value* m = k.scratch;
  Value* s = at(b, t, k.scratch, i64(b, a.inner));
  auto ld = [&](Value* p, Value* i) { return b.CreateLoad(t, at(b, t, p, i)); };
  auto st = [&](Value* v, Value* p, Value* i) { b.CreateStore(v, at(b, t, p, i)); };
  emit_for(b, a.outer, [&](Value* o) {
    Value* row = b.CreateMul(o, i64(b, a.len * a.inner));
    auto xi = [&](Value* kk, Value* i) { return b.CreateAdd(row, b.CreateAdd(b.CreateMul(kk, i64(b, a.inner)), i)); };
    emit_for(b, a.inner, [&](Value* i) {
      st(llvm::ConstantFP::getInfinity(t, true), m, i);
      st(llvm::ConstantFP::get(t, 0), s, i);
    });
    emit_nest(b, {a.len, a.inner}, [&](const Values& j) {
      st(b.CreateBinaryIntrinsic(I::maxnum, ld(m, j[1]), ld(k.in[0], xi(j[0], j[1]))), m, j[1]);
    });
    emit_nest(b, {a.len, a.inner}, [&](const Values& j) {
      Value* e = math_exp(b, b.CreateFSub(ld(k.in[0], xi(j[0], j[1])), ld(m, j[1])));
      st(reassoc(b.CreateFAdd(ld(s, j[1]), e)), s, j[1]);
      if (!log) st(e, k.out, xi(j[0], j[1]));
    });
    if (log)  // lse = m + log(s), kept in s
      emit_for(b, a.inner, [&](Value* i) { st(b.CreateFAdd(ld(m, i), math_log(b, ld(s, i))), s, i); });
    emit_nest(b, {a.len, a.inner}, [&](const Values& j) {
      Value* p = xi(j[0], j[1]);
      Value* r = log ? b.CreateFSub(ld(k.in[0], p), ld(s, j[1])) : b.CreateFDiv(ld(k.out, p), ld(s, j[1]));
      st(r, k.out, p);
    });
  });
}

int64_t softmax_scratch(const Graph& g, const Node& n, const Kernel&) {
  return 2 * split(n.shape, n.attrs.axes).inner * (n.dtype == DType::f64 ? 8 : 4);
}

// softmax_cross_entropy(z [R, C], y): lse = m + log sum exp(z - m) per row; the loss is
// sum_c y_c (lse - z_c) for probability labels, lse - z_label for i32 class indices
// (NaN for a label outside [0, C)).
void sce_kernel(KernelCtx& k) {
  const Shape& zs = k.in_shape(0);
  int64_t C = zs.back(), R = num_elements(zs) / C;
  bool idx_labels = k.g[k.n.in[1]].dtype == DType::i32;
  Builder& b = k.b;
  llvm::Type* t = k.out_type();
  auto z = [&](Value* i) { return k.load_in(0, i); };
  emit_for(b, R, [&](Value* r) {
    Value* row = b.CreateMul(r, i64(b, C));
    Value* m = emit_for(b, 0, C, 1, {llvm::ConstantFP::getInfinity(t, true)}, [&](Value* c, const Values& acc) {
      return Values{b.CreateBinaryIntrinsic(I::maxnum, acc[0], z(b.CreateAdd(row, c)))};
    })[0];
    Value* s = emit_for(b, 0, C, 1, {llvm::ConstantFP::get(t, 0)}, [&](Value* c, const Values& acc) {
      Value* e = math_exp(b, b.CreateFSub(z(b.CreateAdd(row, c)), m));
      return Values{reassoc(b.CreateFAdd(acc[0], e))};
    })[0];
    Value* lse = b.CreateFAdd(m, math_log(b, s));
    Value* loss;
    if (idx_labels) {
      Value* lab = b.CreateSExt(k.load_in(1, r), b.getInt64Ty());
      Value* ok = b.CreateICmpULT(lab, i64(b, C));  // unsigned: also rejects negatives
      Value* zl = z(b.CreateAdd(row, b.CreateSelect(ok, lab, i64(b, 0))));
      loss = b.CreateSelect(ok, b.CreateFSub(lse, zl), llvm::ConstantFP::getNaN(t));
    } else {
      loss = emit_for(b, 0, C, 1, {llvm::ConstantFP::get(t, 0)}, [&](Value* c, const Values& acc) {
        Value* i = b.CreateAdd(row, c);
        Value* term = b.CreateFMul(k.load_in(1, i), b.CreateFSub(lse, z(i)));
        return Values{reassoc(b.CreateFAdd(acc[0], term))};
      })[0];
    }
    k.store_out(loss, r);
  });
}

}  // namespace

// This file's generators (backend/op_gens.cpp).
std::vector<OpGenEntry> nn_gens() {
  return {
      {Op::softmax, {nullptr, softmax_kernel, softmax_scratch}},
      {Op::log_softmax, {nullptr, softmax_kernel, softmax_scratch}},
      {Op::softmax_cross_entropy, {nullptr, sce_kernel}},
  };
}

}  // namespace kiln::backend
