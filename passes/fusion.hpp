// Fusion: groups the nodes of a graph into kernels (elementwise loops, matmul/reduction/row
// kernels with fused prologues and epilogues, in-place optimizer updates) and orders them;
// then memory planning places every materialised value. Rules: docs/fusion.md.
#pragma once
#include "passes/kernel_plan.hpp"
#include <string>
#include <vector>

namespace kiln {

// The roots a plan of that scope computes, other than update values: the loss, outputs and
// metrics (forward), outputs only (predict), and the grads too (step).
std::vector<NodeId> plan_roots(const Graph& g, PlanScope scope);

// The nodes a plan of that scope must compute: needed[i] is true when a root of the scope
// (or, for step, an update value) depends on node i.
std::vector<char> plan_needed(const Graph& g, PlanScope scope);

struct PlanOptions {
  // false: no merges at all -- one kernel per node (no folded transposes, no prologues or
  // epilogues); in-place update writes and the commit kernel work as usual. For
  // comparisons (fused vs unfused code) and timing.
  bool fuse = true;
};

// Fuses the graph into kernels and plans the arena (plan_memory). The graph must be valid
// (verify_graph); fusion cannot fail on a valid graph.
KernelPlan plan_kernels(const Graph& g, PlanScope scope = PlanScope::step, const PlanOptions& opt = {});

// Consistency checks of a plan against its graph: every needed node placed exactly once,
// kernels in dependency order, kernel shapes and roles, materialisation of every value read
// across kernels, update writes (each update once; in-place writes after every other reader
// of the target), and the arena (no two simultaneously live slots overlap). Empty when sound.
// (passes/kernel_plan_check.cpp)
std::vector<std::string> check_kernel_plan(const Graph& g, const KernelPlan& plan);

// The text form of `kiln dump --stage=fused` (passes/kernel_plan_print.cpp).
std::string print_kernel_plan(const Graph& g, const KernelPlan& plan);
// The same as one JSON object: {model, scope, kernels: [{index, kind, anchor, shape, nodes:
// [{id, op, name, type, role, storage, bytes, offset, target, loc}], inputs, outputs, writes:
// [{target, value}], scratch_bytes, scratch_offset}], memory: {slots: [{node, offset, bytes,
// first, last}], peak_bytes, unshared_bytes}, values: [{id, storage, kernel, base, offset,
// bytes, target}] (planned nodes only)}. -1 means "none".
std::string print_kernel_plan_json(const Graph& g, const KernelPlan& plan);

}  // namespace kiln
