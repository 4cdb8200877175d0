// Fusion: partitions the needed nodes of a graph into kernels and orders them.
//
// Algorithm (rules and their reasons: docs/fusion.md):
//  1. Mark the needed nodes (ancestors of the scope's roots and, for step, of the update
//     values), their distinct consumers, and the update-only nodes (needed only by updates).
//  2. Classify nodes: leaf, view (reshape), elementwise (unary/binary/ternary, elementwise
//     losses, broadcast_to, one_hot), matmul, reduction, row, shape. Every elementwise or
//     anchor node starts as its own group.
//  3. Consumer pass (ids descending): a node with exactly one consumer joins that
//     consumer's group when legal (try_merge); a transpose whose one consumer is a matmul
//     is folded into it as a strided operand.
//  4. Producer pass (ids ascending): every node's group tries to merge with the group of
//     each operand (elementwise chains of one shape; epilogues of matmul/reduction/row
//     anchors; prologues of reductions).
//     A merge is legal when: at most one anchor; both update-only or neither; shapes fit
//     the roles (body: one loop shape; epilogue: the anchor's output shape; prologue:
//     the reduction's input shape); every edge between the two respects the roles
//     (nothing flows from an epilogue back into a prologue or the anchor); and the
//     kernel graph stays acyclic (no path between the two groups through a third).
//  4b. Accumulators: a scalar sum/mean kernel with a prologue and no epilogue becomes an
//     elementwise loop with the reduction as an accumulator, which then joins an
//     elementwise/update kernel of its shape sharing an operand (Fuser::accumulate);
//     accumulator loops left alone share one loop per shape when legal. Before that, a
//     copy that is only an update's value joins an update loop of its shape reading the
//     same value (Fuser::update_siblings).
//  5. Materialise a member when it is a root, an update value, or read by another kernel
//     or a view; everything else stays in registers.
//  6. Update writes: an update value is written in place into its target by its own
//     kernel when it is no root and no other update's value, its consumers are all in
//     that kernel, and the kernel reads the target
//     only elementwise at the same index (not in the anchor or prologue, not through a
//     view or broadcast); other updates go to a final commit kernel.
//  7. Order kernels topologically (lowest node id first) with anti-dependencies: every
//     other reader of an in-place target runs before its writer. If that is impossible,
//     the in-place writes involved are demoted to the commit kernel and the order redone.
//  8. Plan the arena (passes/memory_plan.cpp).
#include "passes/fusion.hpp"
#include "passes/fusion_group.hpp"
#include "passes/memory_plan.hpp"
#include "passes/monitor_ir.hpp"
#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <optional>
#include <queue>
#include <set>

namespace kiln {

std::string_view kernel_kind_name(KernelKind k) {
  static constexpr std::string_view names[] = {"elementwise", "matmul", "reduction", "row", "shape", "update", "commit"};
  return names[static_cast<int>(k)];
}
std::string_view role_name(Role r) {
  static constexpr std::string_view names[] = {"body", "operand", "prologue", "anchor", "epilogue", "accumulate"};
  return names[static_cast<int>(r)];
}
std::string_view storage_name(Storage s) {
  static constexpr std::string_view names[] = {"none", "leaf", "literal", "view", "reg", "arena", "root", "target"};
  return names[static_cast<int>(s)];
}

using namespace fusion_detail;

std::vector<NodeId> plan_roots(const Graph& g, PlanScope s) {
  std::vector<NodeId> r;
  if (s == PlanScope::monitor) {
    for (size_t k = 0; k < g.train.metrics.size(); ++k)
      if (lagged_metric(g, k)) r.push_back(g.train.metrics[k].second);
    return r;
  }
  if (s != PlanScope::predict && g.train.minimize) r.push_back(*g.train.minimize);
  for (auto& [name, id] : g.outputs) r.push_back(id);
  if (s != PlanScope::predict)
    for (auto& [name, id] : g.train.metrics) r.push_back(id);
  if (s == PlanScope::step)
    for (auto& [p, gr] : g.grads) r.push_back(gr);
  return r;
}

std::vector<char> plan_needed(const Graph& g, PlanScope scope) {
  std::vector<NodeId> all = plan_roots(g, scope);
  if (scope == PlanScope::step)
    for (const Update& u : g.updates) all.push_back(u.value);
  return ancestors(g, all);
}

KernelPlan plan_kernels(const Graph& g, PlanScope scope, const PlanOptions& opt) {
  Fuser f(g, scope);
  f.classify();
  if (opt.fuse) {
    f.group();
    f.update_siblings();
    f.accumulate();
  }
  const size_t N = g.size();
  KernelPlan plan;
  plan.scope = scope;
  plan.values.assign(N, {});

  // Groups -> unordered kernels.
  std::vector<Kernel> ks;
  std::vector<int> group_kernel(N, -1), kernel_of(N, -1);
  for (NodeId i = 0; i < NodeId(N); ++i) {
    if (!f.kernel_node(i)) continue;
    int r = f.find(i);
    if (group_kernel[r] < 0) {
      group_kernel[r] = int(ks.size());
      Kernel k;
      NodeId a = f.anchor[r];
      k.anchor = a;
      if (a >= 0) {
        Cat c = f.cat[a];
        k.kind = c == Cat::matmul ? KernelKind::matmul : c == Cat::reduce ? KernelKind::reduction
                 : c == Cat::row  ? KernelKind::row : KernelKind::shape;
        k.shape = g[a].shape;
      } else {
        k.kind = f.update_only[i] ? KernelKind::update : KernelKind::elementwise;
        k.shape = f.role[i] == Role::accumulate ? g[g[i].in[0]].shape : g[i].shape;
      }
      ks.push_back(std::move(k));
    }
    kernel_of[i] = group_kernel[r];
    ks[kernel_of[i]].nodes.push_back({i, f.role[i]});
    if (f.role[i] == Role::operand)  // a folded transpose: record which operand(s) of the product it is
      for (size_t j = 0; j < 2; ++j) ks[kernel_of[i]].folded_transpose[j] |= g[f.anchor[r]].in[j] == i;
  }

  // 5. Storage of every needed node.
  for (NodeId i = 0; i < NodeId(N); ++i) {
    ValuePlace& v = plan.values[i];
    if (!f.needed[i]) continue;
    v.base = i;
    v.bytes = num_elements(g[i].shape) * element_bytes(g[i].dtype);
    if (f.cat[i] == Cat::leaf) {
      v.storage = g[i].op == Op::literal ? Storage::literal : Storage::leaf;
    } else if (f.cat[i] == Cat::view) {
      v.storage = Storage::view;
      v.base = plan.values[g[i].in[0]].base;
    } else {
      bool outside = f.is_root[i] || f.is_update_value[i];
      for (NodeId c : f.users[i]) outside = outside || kernel_of[c] != kernel_of[i];
      v.storage = !outside ? Storage::reg : f.is_root[i] ? Storage::root : Storage::arena;
    }
  }

  // 6. Update writes: in place where legal, else through the commit kernel.
  std::vector<char> in_place(g.updates.size(), 0);
  std::vector<char> targeted(N, 0);
  if (scope == PlanScope::step) {
    std::vector<int> uses_as_value(N, 0);  // a value written to two targets lives in memory
    for (const Update& u : g.updates) ++uses_as_value[u.value];
    for (size_t u = 0; u < g.updates.size(); ++u) {
      NodeId t = g.updates[u].target, val = g.updates[u].value;
      bool ok = f.kernel_node(val) && !f.is_root[val] && !targeted[t] && uses_as_value[val] == 1;
      for (NodeId c : ok ? f.users[val] : std::vector<NodeId>{}) ok = ok && kernel_of[c] == kernel_of[val];
      if (ok)
        for (const KernelNode& kn : ks[kernel_of[val]].nodes)
          for (NodeId o : g[kn.id].in) {
            if (plan.values[o].storage == Storage::view && plan.values[o].base == t) ok = false;
            if (o != t) continue;
            bool same_index = ((kn.role == Role::body || kn.role == Role::epilogue) && f.cat[kn.id] == Cat::elementwise &&
                               g[kn.id].op != Op::broadcast_to && g[kn.id].op != Op::one_hot && g[kn.id].shape == g[t].shape) ||
                              (kn.role == Role::accumulate && ks[kernel_of[val]].shape == g[t].shape);
            ok = ok && same_index;
          }
      targeted[t] = 1;
      if (ok) {
        in_place[u] = 1;
        plan.values[val].storage = Storage::target;
        plan.values[val].target = t;
      }
    }
  }
  auto demote = [&](size_t u) {
    in_place[u] = 0;
    NodeId val = g.updates[u].value;
    plan.values[val].storage = Storage::arena;
    plan.values[val].target = -1;
  };
  // A commit reading a leaf that an in-place write changes must see the old value: demote that write too.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t u = 0; u < g.updates.size(); ++u) {
      if (in_place[u] || scope != PlanScope::step) continue;
      NodeId b = plan.values[g.updates[u].value].base;
      for (size_t w = 0; w < g.updates.size(); ++w)
        if (in_place[w] && g.updates[w].target == b) {
          demote(w);
          changed = true;
        }
    }
  }

  // Inputs and outputs of each kernel.
  for (size_t k = 0; k < ks.size(); ++k) {
    std::set<NodeId> in;
    for (const KernelNode& kn : ks[k].nodes) {
      for (NodeId o : g[kn.id].in)
        if (kernel_of[o] != int(k)) in.insert(o);
    }
    ks[k].inputs.assign(in.begin(), in.end());
  }

  // 7. Order with anti-dependencies; demote in-place writes that cannot be ordered.
  std::vector<int> order;
  for (;;) {
    std::vector<std::set<int>> succ(ks.size());
    std::vector<int> indeg(ks.size(), 0);
    auto edge = [&](int a, int b) {
      if (a != b && succ[a].insert(b).second) ++indeg[b];
    };
    std::vector<std::vector<int>> readers(N);  // kernels reading each base
    for (size_t k = 0; k < ks.size(); ++k)
      for (NodeId o : ks[k].inputs) {
        NodeId b = plan.values[o].base;
        if (kernel_of[b] >= 0) edge(kernel_of[b], int(k));
        readers[b].push_back(int(k));
      }
    for (size_t u = 0; u < g.updates.size(); ++u)
      if (in_place[u])
        for (int r : readers[g.updates[u].target]) edge(r, kernel_of[g.updates[u].value]);
    auto first_id = [&](int k) { return ks[k].nodes.front().id; };
    auto later = [&](int a, int b) { return first_id(a) > first_id(b); };
    std::priority_queue<int, std::vector<int>, decltype(later)> ready(later);
    for (size_t k = 0; k < ks.size(); ++k)
      if (indeg[k] == 0) ready.push(int(k));
    order.clear();
    while (!ready.empty()) {
      int k = ready.top();
      ready.pop();
      order.push_back(k);
      for (int s : succ[k])
        if (--indeg[s] == 0) ready.push(s);
    }
    if (order.size() == ks.size()) break;
    std::vector<char> done(ks.size(), 0);
    for (int k : order) done[k] = 1;
    bool demoted = false;
    for (size_t u = 0; u < g.updates.size(); ++u)
      if (in_place[u] && !done[kernel_of[g.updates[u].value]]) {
        demote(u);
        demoted = true;
      }
    assert(demoted && "fusion: the kernel graph has a data cycle");
    if (!demoted) std::abort();  // an internal error even without asserts: never loop forever
  }

  // Writes, outputs, and the final order.
  for (size_t u = 0; u < g.updates.size() && scope == PlanScope::step; ++u)
    if (in_place[u]) ks[kernel_of[g.updates[u].value]].writes.push_back(g.updates[u]);
  std::vector<int> position(ks.size());
  for (size_t p = 0; p < order.size(); ++p) position[order[p]] = int(p);
  for (size_t p = 0; p < order.size(); ++p) {
    Kernel k = std::move(ks[order[p]]);
    for (const KernelNode& kn : k.nodes) {
      plan.values[kn.id].kernel = int(p);
      Storage s = plan.values[kn.id].storage;
      if (s == Storage::arena || s == Storage::root || s == Storage::target) k.outputs.push_back(kn.id);
    }
    plan.kernels.push_back(std::move(k));
  }
  // The commit kernel: every update not written in place, as one parallel assignment.
  Kernel commit;
  commit.kind = KernelKind::commit;
  std::set<NodeId> commit_in;
  for (size_t u = 0; u < g.updates.size() && scope == PlanScope::step; ++u)
    if (!in_place[u]) {
      commit.writes.push_back(g.updates[u]);
      commit_in.insert(g.updates[u].value);
    }
  if (!commit.writes.empty()) {
    commit.inputs.assign(commit_in.begin(), commit_in.end());
    plan.kernels.push_back(std::move(commit));
  }
  plan_memory(g, plan);
  return plan;
}

}  // namespace kiln
