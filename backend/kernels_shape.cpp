// Kernel generators of the shape ops: transpose and broadcast_to (strided copies through
// the elementwise loop), concat, one_hot; reshape is an alias of its operand's storage.
#include "backend/op_gens.hpp"

namespace kiln::backend {

using llvm::Value;

namespace {

Value* g_identity(ElemCtx&, std::span<Value* const> x) { return x[0]; }

// transpose reverses the axes: out[j_0..j_{r-1}] = in[j_{r-1}..j_0].
void transpose_kernel(KernelCtx& k) {
  std::vector<int64_t> st = row_major_strides(k.in_shape(0));
  std::reverse(st.begin(), st.end());
  emit_elementwise(k, g_identity, {st});
}

void broadcast_to_kernel(KernelCtx& k) { emit_elementwise(k, g_identity, {broadcast_strides(k.in_shape(0), k.n.shape)}); }

void concat_kernel(KernelCtx& k) {
  std::vector<int64_t> axes = k.n.attrs.axes;
  normalize_axes(axes, k.n.shape.size());
  size_t ax = axes[0];
  const Shape& s = k.n.shape;
  int64_t outer = 1, after = 1;
  for (size_t d = 0; d < ax; ++d) outer *= s[d];
  for (size_t d = ax + 1; d < s.size(); ++d) after *= s[d];
  int64_t row = s[ax] * after, off = 0;
  Builder& b = k.b;
  for (size_t t = 0; t < k.in.size(); ++t) {
    int64_t len = k.in_shape(t)[ax] * after;
    emit_nest(b, {outer, len}, [&](const Values& idx) {
      Value* x = k.load_in(t, linear_index(b, idx, {len, 1}));
      k.store_out(x, b.CreateAdd(linear_index(b, idx, {row, 1}), i64(b, off)));
    });
    off += len;
  }
}

// one_hot(labels, n): out[l, c] = labels[l] == c (labels outside [0, n) give a zero row).
void one_hot_kernel(KernelCtx& k) {
  int64_t n = k.n.attrs.n, count = num_elements(k.in_shape(0));
  Builder& b = k.b;
  llvm::Type* t = k.out_type();
  emit_for(b, count, [&](Value* l) {
    Value* label = b.CreateSExt(k.load_in(0, l), b.getInt64Ty());
    Value* base = b.CreateMul(l, i64(b, n));
    emit_for(b, n, [&](Value* c) {
      Value* v = b.CreateUIToFP(b.CreateICmpEQ(label, c), t);
      k.store_out(v, b.CreateAdd(base, c));
    });
  });
}

// slice (internal): attrs.axes = {axis}, attrs.n = start; out[o, k, i] = in[o, start + k, i].
void slice_kernel(KernelCtx& k) {
  std::vector<int64_t> axes = k.n.attrs.axes;
  normalize_axes(axes, k.n.shape.size());
  size_t ax = axes[0];
  int64_t outer = 1, after = 1;
  for (size_t d = 0; d < ax; ++d) outer *= k.n.shape[d];
  for (size_t d = ax + 1; d < k.n.shape.size(); ++d) after *= k.n.shape[d];
  int64_t len = k.n.shape[ax] * after, row = k.in_shape(0)[ax] * after, start = k.n.attrs.n * after;
  Builder& b = k.b;
  emit_nest(b, {outer, len}, [&](const Values& idx) {
    Value* x = k.load_in(0, b.CreateAdd(linear_index(b, idx, {row, 1}), i64(b, start)));
    k.store_out(x, linear_index(b, idx, {len, 1}));
  });
}

}  // namespace

// This file's generators (backend/op_gens.cpp).
std::vector<OpGenEntry> shape_gens() {
  return {
      {Op::transpose, {nullptr, transpose_kernel}},
      {Op::broadcast_to, {nullptr, broadcast_to_kernel}},
      {Op::concat, {nullptr, concat_kernel}},
      {Op::one_hot, {nullptr, one_hot_kernel}},
      {Op::slice, {nullptr, slice_kernel}},
      {Op::reshape, {nullptr, nullptr, nullptr, true}},  // an alias: the operand's storage, reinterpreted
  };
}

}  // namespace kiln::backend
