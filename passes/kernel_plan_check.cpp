// check_kernel_plan: the invariants of a kernel plan against its graph (coverage, order,
// roles and shapes, materialisation, update writes, arena overlap), for tests and debug runs.
#include "passes/fusion.hpp"
#include "passes/memory_plan.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <map>

namespace kiln {

std::vector<std::string> check_kernel_plan(const Graph& g, const KernelPlan& plan) {
  std::vector<std::string> bad;
  auto fail = [&](std::string s) { bad.push_back(std::move(s)); };
  const size_t N = g.size();
  if (plan.values.size() != N) {
    fail("values has the wrong size");
    return bad;
  }
  std::vector<char> needed = plan_needed(g, plan.scope);
  auto in_memory = [](Storage s) {
    return s == Storage::leaf || s == Storage::literal || s == Storage::arena || s == Storage::root || s == Storage::target;
  };

  // Coverage: each needed non-leaf, non-view node in exactly one kernel, at its position.
  std::vector<int> seen(N, 0);
  std::vector<Role> role(N, Role::body);
  std::vector<int> pos_in_kernel(N, -1);
  for (size_t k = 0; k < plan.kernels.size(); ++k)
    for (size_t j = 0; j < plan.kernels[k].nodes.size(); ++j) {
      NodeId id = plan.kernels[k].nodes[j].id;
      ++seen[id];
      role[id] = plan.kernels[k].nodes[j].role;
      pos_in_kernel[id] = int(j);
      if (plan.values[id].kernel != int(k)) fail(fmt::format("%{}: values[].kernel is not its kernel {}", id, k));
    }
  for (NodeId i = 0; i < NodeId(N); ++i) {
    const ValuePlace& v = plan.values[i];
    bool leafish = op_row(g[i].op).cls == OpClass::leaf;
    if (!needed[i]) {
      if (seen[i] || v.storage != Storage::none) fail(fmt::format("%{} is not needed but planned", i));
      continue;
    }
    if (leafish) {
      Storage want = g[i].op == Op::literal ? Storage::literal : Storage::leaf;
      if (v.storage != want || seen[i]) fail(fmt::format("%{}: a leaf must have storage {}", i, storage_name(want)));
    } else if (v.storage == Storage::view) {
      if (seen[i] || g[i].op != Op::reshape) fail(fmt::format("%{}: only a reshape outside kernels may be a view", i));
      if (!in_memory(plan.values[v.base].storage)) fail(fmt::format("view %{}: its base %{} is not in memory", i, v.base));
    } else if (seen[i] != 1) {
      fail(fmt::format("%{} ({}) is computed by {} kernels", i, op_name(g[i].op), seen[i]));
    }
  }

  // Roots are in root buffers (or are leaves/literals).
  for (NodeId r : plan_roots(g, plan.scope)) {
    Storage s = plan.values[r].storage;
    if (s != Storage::root && s != Storage::leaf && s != Storage::literal) fail(fmt::format("root %{} has storage {}", r, storage_name(s)));
  }

  // Per kernel: dependency order, roles and shapes, inputs in memory, outputs listed.
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    const Kernel& K = plan.kernels[k];
    for (NodeId o : K.inputs) {
      NodeId b = plan.values[o].base;
      if (b < 0 || !in_memory(plan.values[b].storage)) fail(fmt::format("kernel {}: input %{} is not in memory", k, o));
      else if (plan.values[b].kernel >= int(k)) fail(fmt::format("kernel {} reads %{} before kernel {} computes it", k, o, plan.values[b].kernel));
    }
    if (K.kind == KernelKind::commit) {
      if (k + 1 != plan.kernels.size() || !K.nodes.empty()) fail("the commit kernel must be last and compute nothing");
      continue;
    }
    if (K.nodes.empty()) fail(fmt::format("kernel {} is empty", k));
    // The recorded transpose folds are exactly the product's operands that are operand members.
    for (size_t j = 0; j < 2; ++j) {
      bool folded = K.kind == KernelKind::matmul && K.anchor >= 0 && g[K.anchor].in.size() == 2 &&
                    plan.values[g[K.anchor].in[j]].kernel == int(k) && role[g[K.anchor].in[j]] == Role::operand;
      if (K.folded_transpose[j] != folded)
        fail(fmt::format("kernel {}: folded_transpose[{}] disagrees with its operand members", k, j));
    }
    int anchors = 0;
    for (const KernelNode& kn : K.nodes) {
      const Node& n = g[kn.id];
      for (NodeId o : n.in) {
        if (plan.values[o].kernel == int(k)) {
          if (pos_in_kernel[o] >= pos_in_kernel[kn.id]) fail(fmt::format("kernel {}: %{} before its operand %{}", k, kn.id, o));
          if (plan.values[o].storage == Storage::view) fail(fmt::format("kernel {}: view %{} inside a kernel", k, o));
        } else if (!std::binary_search(K.inputs.begin(), K.inputs.end(), o)) {
          fail(fmt::format("kernel {}: operand %{} of %{} is not an input", k, o, kn.id));
        }
      }
      Storage s = plan.values[kn.id].storage;
      bool out = std::binary_search(K.outputs.begin(), K.outputs.end(), kn.id);
      if (out != (s == Storage::arena || s == Storage::root || s == Storage::target))
        fail(fmt::format("kernel {}: outputs and storage of %{} disagree", k, kn.id));
      switch (kn.role) {
        case Role::anchor:
          ++anchors;
          if (kn.id != K.anchor) fail(fmt::format("kernel {}: %{} is an anchor but not the kernel's", k, kn.id));
          break;
        case Role::body:
          if (n.shape != K.shape || K.anchor >= 0) fail(fmt::format("kernel {}: body %{} off the loop shape", k, kn.id));
          break;
        case Role::epilogue:
          if (K.anchor < 0 || n.shape != g[K.anchor].shape) fail(fmt::format("kernel {}: epilogue %{} off the anchor's shape", k, kn.id));
          break;
        case Role::prologue:
          if (K.kind != KernelKind::reduction || n.shape != g[g[K.anchor].in[0]].shape)
            fail(fmt::format("kernel {}: prologue %{} off the reduction's input shape", k, kn.id));
          break;
        case Role::accumulate:
          if (K.anchor >= 0 || !(n.op == Op::sum || n.op == Op::mean) || num_elements(n.shape) != 1 || n.in.empty() ||
              g[n.in[0]].shape != K.shape)
            fail(fmt::format("kernel {}: accumulate %{} is no scalar sum/mean over the loop shape", k, kn.id));
          if (s == Storage::reg) fail(fmt::format("kernel {}: accumulate %{} is read in registers", k, kn.id));
          break;
        case Role::operand:
          if (K.kind != KernelKind::matmul || n.op != Op::transpose) fail(fmt::format("kernel {}: bad operand %{}", k, kn.id));
          break;
      }
      // In-kernel operands by role: nothing flows from an epilogue or the anchor back into a
      // prologue or the anchor.
      for (NodeId o : n.in) {
        if (plan.values[o].kernel != int(k)) continue;
        Role r = role[o];
        bool ok = kn.role == Role::body || kn.role == Role::accumulate ? r == Role::body
                  : kn.role == Role::prologue ? r == Role::prologue
                  : kn.role == Role::anchor   ? (r == Role::prologue || r == Role::operand)
                  : kn.role == Role::epilogue ? (r == Role::anchor || r == Role::epilogue)
                                              : false;
        if (!ok) fail(fmt::format("kernel {}: %{} ({}) reads %{} ({}) in registers", k, kn.id, role_name(kn.role), o, role_name(r)));
      }
    }
    if ((K.anchor >= 0) != (anchors == 1)) fail(fmt::format("kernel {}: {} anchors", k, anchors));
  }
  for (NodeId i = 0; i < NodeId(N); ++i)
    if (plan.values[i].storage == Storage::reg)
      for (size_t k = 0; k < plan.kernels.size(); ++k)
        if (std::binary_search(plan.kernels[k].inputs.begin(), plan.kernels[k].inputs.end(), i))
          fail(fmt::format("register value %{} is read by kernel {}", i, k));

  // Update writes: each update exactly once; an in-place write after every other reader.
  if (plan.scope == PlanScope::step) {
    std::map<std::pair<NodeId, NodeId>, int> writes;
    for (size_t k = 0; k < plan.kernels.size(); ++k)
      for (const Update& u : plan.kernels[k].writes) {
        ++writes[{u.target, u.value}];
        if (plan.kernels[k].kind == KernelKind::commit) continue;
        if (plan.values[u.value].kernel != int(k) || plan.values[u.value].storage != Storage::target ||
            plan.values[u.value].target != u.target)
          fail(fmt::format("kernel {} writes %{} in place but does not hold it as a target value", k, u.value));
        for (size_t r = 0; r < plan.kernels.size(); ++r)
          for (NodeId o : plan.kernels[r].inputs)
            if (plan.values[o].base == u.target && r > k)
              fail(fmt::format("kernel {} reads %{} after kernel {} overwrote it", r, u.target, k));
      }
    for (const Update& u : g.updates)
      if (writes[{u.target, u.value}] != 1) fail(fmt::format("update %{} <- %{} is written {} times", u.target, u.value, writes[{u.target, u.value}]));
  } else {
    for (const Kernel& K : plan.kernels)
      if (!K.writes.empty()) fail("only a step plan writes updates");
  }

  // Scratch layouts: regions in offset order, aligned, disjoint, inside the kernel's scratch;
  // at most one op and one anchor region (of the kernel's anchor); copies only in the commit,
  // each of one of its writes.
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    const Kernel& K = plan.kernels[k];
    int64_t end = 0;
    int ops = 0, anchors = 0;
    for (const ScratchRegion& r : K.scratch) {
      if (r.offset % kArenaAlign != 0 || r.bytes <= 0 || r.bytes % kArenaAlign != 0 || r.offset < end)
        fail(fmt::format("kernel {}: scratch region @{} {}B is misaligned, empty or overlaps the one before", k, r.offset, r.bytes));
      end = r.offset + r.bytes;
      ops += r.use == ScratchUse::op;
      anchors += r.use == ScratchUse::anchor;
      if (r.use != ScratchUse::copy && (K.anchor < 0 || r.node != K.anchor))
        fail(fmt::format("kernel {}: {} scratch of %{}, which is not its anchor", k, scratch_use_name(r.use), r.node));
      if (r.use == ScratchUse::copy &&
          (K.kind != KernelKind::commit || r.write < 0 || size_t(r.write) >= K.writes.size() || K.writes[size_t(r.write)].value != r.node))
        fail(fmt::format("kernel {}: a copy region that is not one of a commit's writes", k));
    }
    if (ops > 1 || anchors > 1) fail(fmt::format("kernel {}: more than one op or anchor scratch region", k));
    if (end > K.scratch_bytes) fail(fmt::format("kernel {}: scratch regions end past its {} bytes", k, K.scratch_bytes));
  }

  // Arena: every arena value has a slot, aligned, inside the peak; no two live slots overlap.
  const auto& slots = plan.memory.slots;
  std::vector<int> slot_of(N, -1);
  for (size_t s = 0; s < slots.size(); ++s) {
    const ArenaSlot& a = slots[s];
    if (a.node < 0) {
      if (a.first != a.last || a.first < 0 || size_t(a.first) >= plan.kernels.size() ||
          plan.kernels[a.first].scratch_offset != a.offset || plan.kernels[a.first].scratch_bytes != a.bytes)
        fail(fmt::format("scratch slot @{} does not match kernel {}", a.offset, a.first));
    } else {
      slot_of[a.node] = int(s);
      if (plan.values[a.node].offset != a.offset) fail(fmt::format("slot of %{} disagrees with its value", a.node));
      if (a.first != plan.values[a.node].kernel) fail(fmt::format("slot of %{} does not start at its kernel", a.node));
    }
    if (a.offset % kArenaAlign != 0) fail(fmt::format("slot of %{} is not aligned", a.node));
    if (a.offset + a.bytes > plan.memory.peak_bytes) fail(fmt::format("slot of %{} ends past the peak", a.node));
    for (size_t k = 0; k < plan.kernels.size(); ++k)
      for (NodeId o : plan.kernels[k].inputs)
        if (a.node >= 0 && plan.values[o].base == a.node && (int(k) > a.last || int(k) < a.first))
          fail(fmt::format("kernel {} reads %{} outside its live range", k, a.node));
    for (size_t t = 0; t < s; ++t) {
      const ArenaSlot& b = slots[t];
      bool live_together = a.first <= b.last && b.first <= a.last;
      bool overlap = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      if (live_together && overlap)
        fail(fmt::format("slots of %{} and %{} overlap while both live (-1: scratch)", a.node, b.node));
    }
  }
  for (NodeId i = 0; i < NodeId(N); ++i)
    if (plan.values[i].storage == Storage::arena && slot_of[i] < 0) fail(fmt::format("arena value %{} has no slot", i));
  return bad;
}

}  // namespace kiln
