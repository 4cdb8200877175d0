// The buffer table and the kernel plans the backend compiles (passes/fusion's KernelPlan
// plus the backend's kernel scratch).
#include "backend/plan.hpp"
#include "backend/ops.hpp"
#include "passes/fusion.hpp"
#include "passes/memory_plan.hpp"

namespace kiln::backend {

std::string_view buffer_kind_name(BufferKind k) {
  static constexpr std::string_view names[] = {"input", "param", "const", "state", "loss", "output", "metric", "grad"};
  return names[static_cast<int>(k)];
}

int64_t BufferSpec::bytes() const { return num_elements(shape) * element_bytes(dtype); }

bool entry_writes(Entry e, BufferKind k) {
  switch (e) {
    case Entry::step: return k >= BufferKind::loss;
    case Entry::forward: return k == BufferKind::loss || k == BufferKind::output || k == BufferKind::metric;
    case Entry::predict: return k == BufferKind::output;
    case Entry::monitor: return k == BufferKind::metric;
  }
  return false;
}

std::vector<BufferSpec> buffer_table(const Graph& g) {
  std::vector<BufferSpec> t;
  auto add = [&](BufferKind k, std::string name, NodeId id) { t.push_back({k, std::move(name), id, g[id].dtype, g[id].shape}); };
  for (NodeId id : g.inputs) add(BufferKind::input, g[id].name, id);
  for (NodeId id : g.params) add(BufferKind::param, g[id].name, id);
  for (NodeId id : g.consts) add(BufferKind::const_, g[id].name, id);
  for (NodeId id : g.states) add(BufferKind::state, g[id].name, id);
  if (g.train.minimize) add(BufferKind::loss, "loss", *g.train.minimize);
  for (auto& [name, id] : g.outputs) add(BufferKind::output, name, id);
  for (auto& [name, id] : g.train.metrics) add(BufferKind::metric, name, id);
  for (auto& [param, grad] : g.grads) add(BufferKind::grad, g[param].name, grad);
  return t;
}

NodeId anchor_home(const Graph& g, const KernelPlan& plan, const Kernel& k) {
  if (k.anchor < 0) return -1;
  auto in_memory = [&](NodeId v) {
    Storage s = plan.values[v].storage;
    return s == Storage::arena || s == Storage::root;
  };
  if (in_memory(k.anchor)) return k.anchor;
  // Only the GEMM applies its epilogue to a tile it has just stored: a row or reduction
  // epilogue is a second pass, which over an output of short rows (masked vectors) stalls
  // when it reads and writes the same memory (measured: +40% on digits' softmax kernel).
  if (k.kind != KernelKind::matmul) return -1;
  const Node& a = g[k.anchor];
  for (const KernelNode& kn : k.nodes)
    if (kn.role == Role::epilogue && in_memory(kn.id) && g[kn.id].shape == a.shape && g[kn.id].dtype == a.dtype)
      return kn.id;
  return -1;
}

// The bytes of the anchor op's own scratch (OpGen::scratch) in kernel k.
static int64_t op_scratch_bytes(const Graph& g, const Kernel& k) {
  if (k.anchor < 0) return 0;
  const Node& a = g[k.anchor];
  ScratchFn f = op_gen(a.op).scratch;
  return f ? f(g, a, k) : 0;
}

// The kernels' scratch layouts, one region after the other (add_scratch): the op's own
// scratch; the anchor's value when it has no home; the commit's copies of old values in
// leaf buffers that it overwrites (in the order of its writes). The code generator reads
// them (codegen.cpp binds the arguments, kernel_gen.cpp addresses the regions).
KernelPlan codegen_plan(const Graph& g, PlanScope scope, bool fuse) {
  KernelPlan plan = plan_kernels(g, scope, {fuse});
  bool any = false;
  for (Kernel& k : plan.kernels) {
    if (int64_t s = op_scratch_bytes(g, k); s > 0) add_scratch(k, ScratchUse::op, s, k.anchor);
    if (k.anchor >= 0 && anchor_home(g, plan, k) < 0 &&
        (k.kind == KernelKind::matmul || k.kind == KernelKind::reduction || k.kind == KernelKind::row))
      add_scratch(k, ScratchUse::anchor, plan.values[k.anchor].bytes, k.anchor);
    if (k.kind == KernelKind::commit)
      for (size_t i = 0; i < k.writes.size(); ++i) {
        const Update& u = k.writes[i];
        NodeId b = plan.values[u.value].base;
        if (plan.values[b].storage != Storage::leaf) continue;
        bool overwritten = false;
        for (const Update& w : k.writes) overwritten = overwritten || w.target == b;
        if (overwritten) add_scratch(k, ScratchUse::copy, plan.values[u.value].bytes, u.value, int(i));
      }
    any = any || k.scratch_bytes > 0;
  }
  if (any) plan_memory(g, plan);
  return plan;
}

}  // namespace kiln::backend
