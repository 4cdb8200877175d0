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
//     elementwise/update kernel of its shape sharing an operand (Fuser::accumulate).
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
#include "passes/memory_plan.hpp"
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

namespace {

enum class Cat : uint8_t { leaf, view, elementwise, matmul, reduce, row, shape };

// The scope's roots other than update values.
std::vector<NodeId> scope_roots(const Graph& g, PlanScope s) {
  std::vector<NodeId> r;
  if (s != PlanScope::predict && g.train.minimize) r.push_back(*g.train.minimize);
  for (auto& [name, id] : g.outputs) r.push_back(id);
  if (s != PlanScope::predict)
    for (auto& [name, id] : g.train.metrics) r.push_back(id);
  if (s == PlanScope::step)
    for (auto& [p, gr] : g.grads) r.push_back(gr);
  return r;
}

std::vector<char> ancestors(const Graph& g, const std::vector<NodeId>& from) {
  std::vector<char> mark(g.size(), 0);
  for (NodeId r : from) mark[r] = 1;
  for (size_t i = g.size(); i-- > 0;)
    if (mark[i])
      for (NodeId o : g[NodeId(i)].in) mark[o] = 1;
  return mark;
}

struct Fuser {
  const Graph& g;
  PlanScope scope;
  size_t n_nodes;
  std::vector<char> needed, is_root, is_update_value, update_only;
  std::vector<Cat> cat;
  std::vector<std::vector<NodeId>> users;  // distinct needed consumers
  std::vector<int> parent;                 // union-find over nodes
  std::vector<std::vector<NodeId>> members;
  std::vector<NodeId> anchor;  // per group root
  std::vector<Role> role;      // per node
  std::vector<int> stamp;
  int epoch = 0;

  Fuser(const Graph& graph, PlanScope s) : g(graph), scope(s), n_nodes(graph.size()) {}

  bool kernel_node(NodeId n) const { return needed[n] && cat[n] != Cat::leaf && cat[n] != Cat::view; }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }

  void classify() {
    auto roots = scope_roots(g, scope);
    std::vector<NodeId> all = roots;
    is_root.assign(n_nodes, 0);
    is_update_value.assign(n_nodes, 0);
    for (NodeId r : roots) is_root[r] = 1;
    if (scope == PlanScope::step)
      for (const Update& u : g.updates) {
        is_update_value[u.value] = 1;
        all.push_back(u.value);
      }
    needed = ancestors(g, all);
    std::vector<char> main = ancestors(g, roots);
    update_only.assign(n_nodes, 0);
    for (size_t i = 0; i < n_nodes; ++i) update_only[i] = needed[i] && !main[i];
    cat.assign(n_nodes, Cat::leaf);
    users.assign(n_nodes, {});
    for (NodeId i = 0; i < NodeId(n_nodes); ++i) {
      if (!needed[i]) continue;
      const Node& n = g[i];
      cat[i] = category(n, is_root[i]);
      for (NodeId o : n.in)
        if (users[o].empty() || users[o].back() != i) users[o].push_back(i);
    }
    parent.resize(n_nodes);
    std::iota(parent.begin(), parent.end(), 0);
    members.assign(n_nodes, {});
    anchor.assign(n_nodes, -1);
    role.assign(n_nodes, Role::body);
    stamp.assign(n_nodes, 0);
    for (NodeId i = 0; i < NodeId(n_nodes); ++i) {
      members[i] = {i};
      if (kernel_node(i) && cat[i] != Cat::elementwise) {
        anchor[i] = i;
        role[i] = Role::anchor;
      }
    }
  }

  static Cat category(const Node& n, bool root) {
    switch (op_row(n.op).cls) {
      case OpClass::leaf: return Cat::leaf;
      case OpClass::unary:
      case OpClass::binary:
      case OpClass::ternary: return Cat::elementwise;
      case OpClass::matmul: return Cat::matmul;
      case OpClass::reduce: return Cat::reduce;
      case OpClass::shape:
        if (n.op == Op::reshape) return root ? Cat::shape : Cat::view;  // a root needs its own buffer: a copy
        if (n.op == Op::broadcast_to || n.op == Op::one_hot) return Cat::elementwise;
        if (n.op == Op::sum_to) return Cat::reduce;
        return Cat::shape;
      case OpClass::nn: return Cat::row;
      case OpClass::loss: return n.op == Op::softmax_cross_entropy ? Cat::row : Cat::elementwise;
    }
    return Cat::shape;
  }

  // True when some group other than ga and gb lies on a path between them (a merge would
  // make the kernel graph cyclic).
  bool path_through_third(int ga, int gb) {
    ++epoch;
    std::vector<int> stack;
    auto visit_operands = [&](int grp, bool from_start) {
      for (NodeId m : members[grp])
        for (NodeId o : g[m].in) {
          int r = find(o);
          if (r == ga || r == gb) {
            if (!from_start) return true;
            continue;
          }
          if (stamp[r] != epoch) {
            stamp[r] = epoch;
            stack.push_back(r);
          }
        }
      return false;
    };
    visit_operands(ga, true);
    visit_operands(gb, true);
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (visit_operands(x, false)) return true;
    }
    return false;
  }

  // Edges between anchored group k and unanchored group u respect role r for u's members.
  bool edges_fit(int k, int u, Role r) {
    for (NodeId m : members[u])
      for (NodeId o : g[m].in)
        if (find(o) == k) {
          Role ro = role[o];
          if (r == Role::epilogue ? !(ro == Role::anchor || ro == Role::epilogue) : ro != Role::prologue) return false;
        }
    for (NodeId m : members[k])
      for (NodeId o : g[m].in)
        if (find(o) == u) {
          Role rm = role[m];
          if (r == Role::epilogue ? rm != Role::epilogue : !(rm == Role::prologue || rm == Role::anchor)) return false;
        }
    return true;
  }

  void unite(int keep, int drop, std::optional<Role> r) {
    for (NodeId m : members[drop]) {
      if (r) role[m] = *r;
      members[keep].push_back(m);
    }
    members[drop].clear();
    parent[drop] = keep;
  }

  static bool has_prologue(Op op) { return op != Op::logsumexp; }  // logsumexp reads its input twice

  // Merges the groups of nodes x and y when legal (rules: step 4 above).
  bool try_merge(NodeId x, NodeId y) {
    int gx = find(x), gy = find(y);
    if (gx == gy || !kernel_node(gx) || !kernel_node(gy)) return false;
    if (update_only[x] != update_only[y]) return false;
    NodeId ax = anchor[gx], ay = anchor[gy];
    if (ax >= 0 && ay >= 0) return false;
    std::optional<Role> r;
    int keep = gx, drop = gy;
    if (ax < 0 && ay < 0) {
      if (g[members[gx][0]].shape != g[members[gy][0]].shape) return false;
    } else {
      if (ax < 0) std::swap(keep, drop);  // keep: the anchored group
      NodeId a = anchor[keep];
      if (cat[a] == Cat::shape) return false;
      const Shape& s = g[members[drop][0]].shape;
      if (cat[a] == Cat::reduce && has_prologue(g[a].op) && s == g[g[a].in[0]].shape && edges_fit(keep, drop, Role::prologue))
        r = Role::prologue;
      else if (s == g[a].shape && edges_fit(keep, drop, Role::epilogue))
        r = Role::epilogue;
      else
        return false;
    }
    if (path_through_third(gx, gy)) return false;
    unite(keep, drop, r);
    return true;
  }

  // A sum or mean of every element to a scalar.
  bool scalar_total(NodeId n) const {
    return (g[n].op == Op::sum || g[n].op == Op::mean) && num_elements(g[n].shape) == 1 && !g[n].in.empty();
  }
  // The loop shape of an unanchored group (its first non-accumulate member's).
  NodeId loop_member(int grp) const {
    for (NodeId m : members[grp])
      if (role[m] != Role::accumulate) return m;
    return -1;
  }
  bool reads_accumulator(int reader, int grp) {
    for (NodeId m : members[reader])
      for (NodeId o : g[m].in)
        if (find(o) == grp && role[o] == Role::accumulate) return true;
    return false;
  }

  // 4b. Accumulators (after group()). A scalar sum/mean kernel with a prologue and no
  // epilogue is an elementwise loop over its input with the reduction as an accumulator;
  // then it joins an elementwise/update kernel of its loop shape that shares an operand
  // with it (reads the same value, or computes one it reads), when legal (same update-only
  // status, no accumulator read inside, no third kernel in between).
  void accumulate() {
    std::vector<int> acc;
    for (NodeId r = 0; r < NodeId(n_nodes); ++r) {
      if (!kernel_node(r) || cat[r] != Cat::reduce || !scalar_total(r)) continue;
      int gr = find(r);
      if (anchor[gr] != r) continue;
      bool pro = false, epi = false;
      for (NodeId m : members[gr]) {
        pro = pro || role[m] == Role::prologue;
        epi = epi || role[m] == Role::epilogue;
      }
      if (!pro || epi) continue;
      for (NodeId m : members[gr])
        if (role[m] == Role::prologue) role[m] = Role::body;
      role[r] = Role::accumulate;
      anchor[gr] = -1;
      acc.push_back(gr);
    }
    for (int a : acc) {
      if (find(a) != a) continue;
      NodeId la = loop_member(a);
      std::vector<int> cands;
      auto consider = [&](NodeId n) {
        if (!kernel_node(n)) return;
        int c = find(n);
        if (c != a && std::find(cands.begin(), cands.end(), c) == cands.end()) cands.push_back(c);
      };
      std::vector<NodeId> mem = members[a];
      std::sort(mem.begin(), mem.end());
      for (NodeId m : mem)
        for (NodeId o : g[m].in) {
          consider(o);
          for (NodeId u : users[o]) consider(u);
        }
      for (int c : cands) {
        NodeId lc = loop_member(c);
        if (anchor[c] >= 0 || lc < 0 || g[lc].shape != g[la].shape || update_only[lc] != update_only[la]) continue;
        if (reads_accumulator(c, a) || reads_accumulator(a, c) || path_through_third(a, c)) continue;
        unite(c, a, std::nullopt);
        break;
      }
    }
  }

  void group() {
    // 3. Consumer pass.
    for (NodeId n = NodeId(n_nodes) - 1; n >= 0; --n) {
      if (!kernel_node(n) || users[n].size() != 1) continue;
      NodeId c = users[n][0];
      if (!kernel_node(c)) continue;
      if (g[n].op == Op::transpose && cat[n] == Cat::shape && cat[c] == Cat::matmul && !is_root[n] &&
          !is_update_value[n] && update_only[n] == update_only[c]) {
        anchor[n] = -1;
        unite(find(c), find(n), Role::operand);
        continue;
      }
      if (cat[n] == Cat::elementwise) try_merge(n, c);
    }
    // 4. Producer pass.
    for (NodeId n = 0; n < NodeId(n_nodes); ++n) {
      if (!kernel_node(n) || cat[n] == Cat::shape || role[n] == Role::operand) continue;
      for (NodeId o : g[n].in)
        if (kernel_node(o) && cat[o] != Cat::shape && role[o] != Role::operand) try_merge(n, o);
    }
  }
};

}  // namespace

std::vector<char> plan_needed(const Graph& g, PlanScope scope) {
  std::vector<NodeId> all = scope_roots(g, scope);
  if (scope == PlanScope::step)
    for (const Update& u : g.updates) all.push_back(u.value);
  return ancestors(g, all);
}

KernelPlan plan_kernels(const Graph& g, PlanScope scope, const PlanOptions& opt) {
  Fuser f(g, scope);
  f.classify();
  if (opt.fuse) {
    f.group();
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
