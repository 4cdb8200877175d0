// What the backend compiles: the buffer table (the ABI) and, per entry point, the kernel
// plan of passes/fusion with the backend's kernel scratch laid out (Kernel::scratch) and
// placed in its arena.
#pragma once
#include "backend/codegen.hpp"
#include "passes/kernel_plan.hpp"

namespace kiln::backend {

// The buffer table: every input, param, const and state leaf (declaration order), then
// the loss, outputs, metrics and one grad per param (docs/backend.md, "The ABI").
std::vector<BufferSpec> buffer_table(const Graph& g);

// Does entry e write buffers of kind k?
bool entry_writes(Entry e, BufferKind k);
inline PlanScope entry_scope(Entry e) { return PlanScope(int(e)); }

// The node whose memory holds an anchored kernel's anchor value while its epilogue runs:
// the anchor itself when materialised; for a matmul, else the first output member of the
// anchor's shape and type stored in the arena or a root buffer (the epilogue overwrites
// each element of a tile after reading it); -1 otherwise (the value then goes to the
// kernel's scratch: its ScratchUse::anchor region). -1 for kernels without an anchor.
NodeId anchor_home(const Graph& g, const KernelPlan& plan, const Kernel& k);

}  // namespace kiln::backend
