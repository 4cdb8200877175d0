// Kernels that may run on several threads: a kernel whose generator asks for parts gets
// two extra i64 parameters (part, parts) and is called from the entry through the
// kiln_parallel of the thread pool (backend/thread_pool.hpp); the generator splits its work so
// that every output element is computed by the same instructions for any `parts`.
#pragma once
#include "backend/ops.hpp"
#include <span>
#include <string>

namespace kiln::backend {

// Work (in FLOPs, or element operations) below which a kernel stays serial: a dispatch
// costs about a microsecond, a GEMM of 4 MFLOP takes about 40 us on one core.
constexpr int64_t kParallelFlops = 4'000'000;

// Most parts node n's kernel can be split into (0 or 1: serial), from its op's generator
// (op_gen(n.op).parts); `lanes` is the module's f32 vector width.
int64_t kernel_parts(const Graph& g, const Node& n, int lanes);

// A kernel function: `pointer_args` noalias nocapture pointer parameters, then, when
// parts > 1, the i64 parameters (part, parts); noinline, nounwind. The entry learns the
// parts from the function (attribute "kiln-parts").
llvm::Function* create_kernel(llvm::Module& m, size_t pointer_args, const std::string& name, bool external,
                              int64_t parts);
// Gives the generator a parallel kernel's (part, parts) (k.part, k.parts); nothing for a
// serial kernel (they stay nullptr).
void bind_parts(KernelCtx& k, llvm::Function* f);
// In an entry: the call of kernel f with its pointer arguments -- directly when f is
// serial, else through kiln_parallel with a trampoline reading them from an array.
void emit_kernel_call(Builder& b, llvm::Function* f, std::span<llvm::Value* const> args);

// for (i = lo; i < hi; ++i) body(i), with run-time bounds (possibly empty).
void emit_range(Builder& b, llvm::Value* lo, llvm::Value* hi, const std::function<void(llvm::Value*)>& body,
                const char* name = "r");
// if (cond) body();
void emit_if(Builder& b, llvm::Value* cond, const std::function<void()>& body);
// [total * part / parts, total * (part + 1) / parts): this part's share of `total` items.
std::pair<llvm::Value*, llvm::Value*> part_range(Builder& b, const KernelCtx& k, int64_t total);

}  // namespace kiln::backend
