// The backend's per-op generators: an element generator for elementwise ops (composable:
// a fused loop chains them) or a kernel generator that emits a whole loop nest for the
// node. The generator files (elemental.cpp, kernels_*.cpp, matmul.cpp) list their
// generators by op; backend/op_gens.cpp collects them into the table that op_gen() reads.
#pragma once
#include <functional>
#include "backend/emit.hpp"
#include "ir/graph.hpp"
#include <span>
#include <string_view>

namespace kiln {
struct Kernel;  // passes/kernel_plan.hpp
}

namespace kiln::backend {

// What an element generator sees: one scalar per operand (already loaded, in the
// operand's own element type) and the node (for attributes and its result type).
struct ElemCtx {
  Builder& b;
  llvm::Module& m;
  const Node& n;
  llvm::Type* ty;  // the node's element type (float or double; f32 for comparisons of i32)

  llvm::Value* c(double v) const;                 // a constant of type ty
  llvm::Value* intrinsic(llvm::Intrinsic::ID id, std::span<llvm::Value* const> args) const;
  llvm::Value* libm(std::string_view name, llvm::Value* x) const;  // tanh -> tanhf for f32
  llvm::Value* select_lt(llvm::Value* a, llvm::Value* b, llvm::Value* x, llvm::Value* y) const;  // a < b ? x : y
};
using ElemFn = llvm::Value* (*)(ElemCtx& ctx, std::span<llvm::Value* const> x);

// What a kernel generator sees: the builder inside the node's kernel function (whose
// arguments are noalias pointers to the output, each operand, and the node's scratch).
struct KernelCtx {
  Builder& b;
  llvm::Module& m;
  const Graph& g;
  const Node& n;
  llvm::Value* out;
  Values in;
  llvm::Value* scratch;  // nullptr unless the op's scratch() asked for bytes
  int lanes;             // f32 lanes of the host's widest vector unit (4, 8 or 16)
  // matmul: in[i] is the operand of a 2-D transpose folded into the product (Role::operand):
  // read it with rows and columns swapped.
  bool trans[2] = {false, false};
  // matmul with a fused epilogue: called (while generating) for output element (i, j)
  // once its final value is in `out`; it overwrites out[i * N + j] with the epilogue's
  // result. Empty: no epilogue.
  std::function<void(llvm::Value* i, llvm::Value* j)> epilogue;
  // reductions with a fused prologue: computes the element of in[0] at row-major index
  // `si` (instead of loading it; in[0] is then no pointer to read), called exactly once per
  // element of in[0]. Empty: none.
  std::function<llvm::Value*(llvm::Value* si)> prologue;
  // A parallel kernel's part in [0, parts) (i64 values; backend/parallel.hpp): the kernel
  // computes only its part of the output. nullptr: serial, compute all of it.
  llvm::Value* part = nullptr;
  llvm::Value* parts = nullptr;

  llvm::Type* type(DType t) const { return elem_type(b.getContext(), t); }
  llvm::Type* out_type() const { return type(n.dtype); }
  llvm::Type* in_type(size_t i) const { return type(g[n.in[i]].dtype); }
  const Shape& in_shape(size_t i) const { return g[n.in[i]].shape; }
  llvm::Value* load_in(size_t i, llvm::Value* index) const;
  bool transposed(size_t i) const { return i < 2 && trans[i]; }  // in[i] is a folded transpose's operand
  void store_out(llvm::Value* v, llvm::Value* index) const;
  ElemCtx elem() const;
};
using KernelFn = void (*)(KernelCtx& ctx);
// Bytes of scratch node n needs as the anchor of plan kernel k (a matmul packs B^T when k
// folds a transpose into B: Kernel::folded_transpose, fusion's decision).
using ScratchFn = int64_t (*)(const Graph& g, const Node& n, const Kernel& k);
// Most parts a kernel can be split into for threads (0 or 1: serial); lanes: f32 vector width.
using PartsFn = int64_t (*)(const Graph& g, const Node& n, int lanes);

struct OpGen {
  ElemFn elem = nullptr;      // elementwise ops: the element generator
  KernelFn kernel = nullptr;  // others: the loop-nest generator
  ScratchFn scratch = nullptr;
  bool alias = false;         // the result is the operand's storage, reinterpreted (reshape)
  PartsFn parts = nullptr;    // kernels that may run in parallel (backend/parallel.hpp)
};

// The generator of an op (backend/op_gens.cpp); all members empty for leaves.
const OpGen& op_gen(Op op);


// The elementwise loop: out[i] = elem(in_0[...], in_1[...], ...) over the node's shape,
// each operand read through `strides` (one vector per operand, indexed by output dim;
// 0 on broadcast dims). Dims are collapsed so the innermost loop is as long and as
// contiguous as possible.
void emit_elementwise(KernelCtx& k, ElemFn f, const std::vector<std::vector<int64_t>>& strides);
// Strides that read an operand of shape `s` broadcast (NumPy rules) to `out`.
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out);


}  // namespace kiln::backend
