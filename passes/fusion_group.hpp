// Fusion's grouping (internal to passes/fusion*.cpp): node categories, the scope's roots,
// and the Fuser -- union-find groups merged by the consumer, producer and accumulator
// passes under the rules of docs/fusion.md. plan_kernels (fusion.cpp) turns its groups
// into a KernelPlan.
#pragma once
#include "passes/fusion.hpp"
#include "passes/kernel_plan.hpp"
#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <vector>

namespace kiln::fusion_detail {

enum class Cat : uint8_t { leaf, view, elementwise, matmul, reduce, row, shape };

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
    auto roots = plan_roots(g, scope);
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
    std::map<int, size_t> acc_size;  // an accumulator loop's members before any joining
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
      acc_size[gr] = members[gr].size();
    }
    for (int a : acc) {
      if (find(a) != a) continue;
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
      // The loop computing a new value of a leaf it reads (it reads that leaf anyway).
      for (NodeId m : mem)
        for (NodeId o : g[m].in)
          for (const Update& u : scope == PlanScope::step ? g.updates : std::vector<Update>{})
            if (u.target == o) consider(u.value);
      for (int c : cands) {
        if (!may_share_loop(a, c)) continue;
        unite(c, a, std::nullopt);
        break;
      }
    }
    // Sibling accumulator loops: those still on their own (nothing joined them and they
    // joined nothing) share one loop per shape when legal, e.g. a small param's lagged
    // monitor sums of its carried gradient, carried update and value (passes/monitor_ir.hpp).
    std::vector<int> alone;
    for (int a : acc)
      if (find(a) == a && members[a].size() == acc_size[a]) alone.push_back(a);
    for (size_t i = 0; i < alone.size(); ++i)
      for (size_t j = i + 1; j < alone.size(); ++j)
        if (find(alone[j]) == alone[j] && find(alone[i]) == alone[i] && may_share_loop(alone[j], alone[i]))
          unite(alone[i], alone[j], std::nullopt);
  }

  // Whether accumulator group a may join group c's loop: c has no anchor, the loop shapes
  // agree, so does the update-only status (or a reads only leaves: a sum of values that
  // exist before the step rides along an update loop), neither reads the other's
  // accumulators, and no third kernel lies between them.
  bool may_share_loop(int a, int c) {
    NodeId la = loop_member(a), lc = loop_member(c);
    if (anchor[c] >= 0 || lc < 0 || la < 0 || g[lc].shape != g[la].shape) return false;
    if (update_only[lc] != update_only[la] && !reads_only_leaves(a)) return false;
    return !reads_accumulator(c, a) && !reads_accumulator(a, c) && !path_through_third(a, c);
  }
  bool reads_only_leaves(int grp) {
    for (NodeId m : members[grp])
      for (NodeId o : g[m].in)
        if (find(o) != grp && cat[o] != Cat::leaf) return false;
    return true;
  }

  // Copies into states: a copy (stop_gradient) of a value computed elsewhere, alone in its
  // group and read only as an update's value (the monitors carry a gradient this way),
  // joins an update-only loop of its shape that reads the same value (the param's update
  // loop reads the gradient), when no third kernel lies between them; the copy is then
  // written in place there instead of by a loop (or the commit) of its own.
  void update_siblings() {
    if (scope != PlanScope::step) return;
    for (NodeId n = 0; n < NodeId(n_nodes); ++n) {
      if (!kernel_node(n) || !update_only[n] || !is_update_value[n] || g[n].op != Op::stop_gradient) continue;
      int gn = find(n);
      if (anchor[gn] >= 0 || members[gn].size() != 1 || !users[n].empty()) continue;
      for (NodeId u : users[g[n].in[0]]) {  // the loops reading the copied value
        if (!kernel_node(u)) continue;
        int c = find(u);
        NodeId lc = loop_member(c);
        if (c == gn || anchor[c] >= 0 || lc < 0 || !update_only[lc] || g[lc].shape != g[n].shape) continue;
        if (path_through_third(gn, c)) continue;
        unite(c, gn, std::nullopt);
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

}  // namespace kiln::fusion_detail
