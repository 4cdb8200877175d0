// The kernel plan: what fusion and memory planning hand to the backend. A list of kernels
// in execution order, where every value lives (register, arena slot, root buffer, ...),
// and the arena layout. Format and rules: docs/fusion.md.
#pragma once
#include "ir/graph.hpp"
#include <array>
#include <string>
#include <vector>

namespace kiln {

// Which entry point a plan is for (the roots it computes):
//   step     loss, outputs, metrics, grads, and every g.updates value written into its target;
//   forward  loss, outputs and metrics;
//   predict  outputs only;
//   monitor  the metrics computed from states alone: the run-time monitors' lagged sums
//            (passes/monitor_ir.hpp), for the last step of a run of steps.
enum class PlanScope : uint8_t { step, forward, predict, monitor };

enum class KernelKind : uint8_t {
  elementwise,  // one loop nest over `shape`; every node has that shape
  matmul,       // anchor: one matmul; operand transposes folded in; epilogue over its output
  reduction,    // anchor: sum mean max min logsumexp argmax sum_to; prologue over its input, epilogue over its output
  row,          // anchor: softmax, log_softmax, softmax_cross_entropy; epilogue over its output
  shape,        // anchor: transpose, concat, slice (or a reshape that is a root): one node, a copy
  update,       // an elementwise loop whose nodes only feed g.updates; writes update targets in place
  commit,       // last kernel: copies update values that could not be written in place (parallel assignment)
};
std::string_view kernel_kind_name(KernelKind k);

// The role of a node inside its kernel.
enum class Role : uint8_t {
  body,      // elementwise / update kernels: computed in the loop over Kernel::shape
  operand,   // a transpose folded into the matmul anchor as a strided operand (no loop of its own)
  prologue,  // reduction: elementwise over the anchor's input shape, computed as the reduction reads it
  anchor,    // the kernel's one non-elementwise node
  epilogue,  // elementwise over the anchor's output shape, applied to each result element
  accumulate,  // elementwise / update kernels: a sum or mean of all elements of a loop value
               // (scalar result), accumulated as the loop runs and stored after it; nothing
               // in its kernel reads it
};
std::string_view role_name(Role r);

// Where a value lives.
enum class Storage : uint8_t {
  none,      // not needed by this plan's roots
  leaf,      // input, param, const or state: the caller's buffer
  literal,   // a literal: a constant in the code (one value splatted, or a small array)
  view,      // reshape of a value in memory: reads `base`'s bytes with this node's shape
  reg,       // computed and consumed inside its kernel only: never touches memory
  arena,     // materialised in the arena at `offset`
  root,      // materialised in its own root buffer (loss, output, metric, grad)
  target,    // an update value written in place into the buffer of update target `target`
};
std::string_view storage_name(Storage s);

struct KernelNode {
  NodeId id;
  Role role;
};

// What a region of a kernel's scratch holds (the backend lays them out: backend/plan.cpp).
enum class ScratchUse : uint8_t {
  op,      // the anchor op's own working memory (packed GEMM panels, a softmax's running sums)
  anchor,  // the anchor's value while the epilogue runs, when it has no home among the outputs
  copy,    // commit: the old value of an update's source, a leaf buffer that the commit overwrites
};
std::string_view scratch_use_name(ScratchUse u);

// One region of a kernel's scratch, at `offset` from the scratch's start.
struct ScratchRegion {
  ScratchUse use;
  NodeId node = -1;    // op, anchor: the kernel's anchor; copy: the update value copied
  int write = -1;      // copy: the index in Kernel::writes of the update whose source it holds
  int64_t offset = 0;  // a multiple of 64
  int64_t bytes = 0;   // a multiple of 64
};

struct Kernel {
  KernelKind kind;
  NodeId anchor = -1;              // matmul/reduction/row/shape: the anchor node; -1 otherwise
  Shape shape;                     // elementwise/update: the loop shape; anchored: the anchor's output shape
  std::vector<KernelNode> nodes;   // every node computed here, in id (= dependency) order
  std::vector<NodeId> inputs;      // values read from memory (leaves, literals, views, other kernels' outputs), sorted
  std::vector<NodeId> outputs;     // members that are materialised (storage arena, root or target), sorted
  std::vector<Update> writes;      // update targets this kernel writes: target <- value (value in this kernel,
                                   // or for commit any node); per element all loads happen before any store
  // matmul: whether operand i of the anchor (0: A, 1: B) is a transpose that fusion folded
  // into the product (the kernel's Role::operand member): the product reads the transpose's
  // operand instead, rows and columns swapped. The backend's code and scratch (packing B^T)
  // follow this decision; false for other kinds.
  std::array<bool, 2> folded_transpose{};
  // Scratch memory private to this kernel, laid out once (by the backend's codegen_plan, with
  // add_scratch of passes/memory_plan.hpp) and read by the code generator: its regions in
  // offset order, scratch_bytes their extent; plan_memory places it in the arena at
  // scratch_offset (-1 when none). A scratch without regions is one unstructured block.
  std::vector<ScratchRegion> scratch;
  int64_t scratch_bytes = 0;
  int64_t scratch_offset = -1;
};

// Per node: where its value lives and which kernel computes it.
struct ValuePlace {
  Storage storage = Storage::none;
  int kernel = -1;      // index into KernelPlan::kernels of the computing kernel; -1 for leaf/literal/view/none
  NodeId base = -1;     // view: the non-view node whose memory it reads (chains resolved); else the node itself
  int64_t offset = -1;  // arena: byte offset (64-byte aligned)
  int64_t bytes = 0;    // size of the value (elements * 4 for f32/i32, * 8 for f64)
  NodeId target = -1;   // Storage::target: the update target whose buffer receives it
};

// One arena slot: `node` lives in [offset, offset + bytes) from the start of kernel `first`
// through the end of kernel `last` (positions in KernelPlan::kernels). node == -1: the
// scratch of kernel `first` (== last).
struct ArenaSlot {
  NodeId node;
  int64_t offset, bytes;
  int first, last;
};

struct MemoryPlan {
  std::vector<ArenaSlot> slots;  // values in increasing node id order, then kernel scratch in kernel order
  int64_t peak_bytes = 0;        // arena size
  int64_t unshared_bytes = 0;    // sum of the (64-byte rounded) slot sizes: the arena without reuse
};

struct KernelPlan {
  PlanScope scope = PlanScope::step;
  std::vector<Kernel> kernels;     // execution order
  std::vector<ValuePlace> values;  // indexed by node id
  MemoryPlan memory;
};

// Bytes of one element of a value of type t.
inline int64_t element_bytes(DType t) { return t == DType::f64 ? 8 : 4; }

}  // namespace kiln
