// One LLVM function per kernel of a KernelPlan (passes/kernel_plan.hpp): elementwise and
// update loops, matmul/reduction/row anchors with their prologues and epilogues, shape
// copies, the commit kernel. Used by codegen.cpp; the layout of memory is its business.
#pragma once
#include "backend/emit.hpp"
#include "passes/kernel_plan.hpp"
#include <functional>
#include <string>
#include <unordered_map>
#include <llvm/IR/Module.h>

namespace kiln::backend {

// What a kernel function is given: its pointer arguments (noalias: distinct memory) and,
// per node it reads or writes (inputs, views, outputs, commit targets), the argument
// holding that node's memory; nodes not listed are literals (`literal` gives their constant
// array). scratch_arg: the argument of the kernel's scratch, or -1.
struct KernelSig {
  int num_args = 0;
  std::unordered_map<NodeId, int> arg;
  int scratch_arg = -1;
  // An anchor value without a home (anchor_home < 0): its own argument at the kernel's
  // scratch + op_scratch_bytes, so that the op's scratch (e.g. a softmax's running sums)
  // and the value stay noalias (one shared argument kept the normalising loop scalar).
  int anchor_arg = -1;
};

struct KernelGenEnv {
  const Graph& g;
  const KernelPlan& plan;
  llvm::Module& m;
  int lanes;
  std::function<llvm::GlobalVariable*(NodeId)> literal;
};

// Emits the body of plan kernel `k` into `f` (whose arguments follow `sig`). False with a
// message when an op has no generator.
bool emit_plan_kernel(const KernelGenEnv& env, const Kernel& k, const KernelSig& sig, llvm::Function* f, std::string& err);

}  // namespace kiln::backend
