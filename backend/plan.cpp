// The buffer table, per-entry liveness of nodes, storage of every node, and the arena.
#include "backend/plan.hpp"
#include "backend/ops.hpp"
#include "passes/memory_plan.hpp"
#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace kiln::backend {

std::string_view buffer_kind_name(BufferKind k) {
  static constexpr std::string_view names[] = {"input", "param", "const", "state", "loss", "output", "metric", "grad"};
  return names[static_cast<int>(k)];
}

int64_t BufferSpec::bytes() const { return num_elements(shape) * (dtype == DType::f64 ? 8 : 4); }

bool entry_writes(Entry e, BufferKind k) {
  switch (e) {
    case Entry::step: return k >= BufferKind::loss;
    case Entry::forward: return k == BufferKind::loss || k == BufferKind::output || k == BufferKind::metric;
    case Entry::predict: return k == BufferKind::output;
  }
  return false;
}

std::vector<int64_t> assign_arena(const std::vector<ArenaRequest>& req, int64_t& total) {
  // Liveness-based: requests whose [def, last_use] ranges intersect never overlap; the
  // others may share bytes (passes/memory_plan's greedy best-fit placement).
  std::vector<LiveValue> v;
  v.reserve(req.size());
  for (const ArenaRequest& r : req) v.push_back({r.bytes, r.def, std::max(r.def, r.last_use)});
  return assign_offsets(v, total);
}

int64_t unshared_arena_bytes(const std::vector<ArenaRequest>& req) {
  int64_t total = 0;
  for (const ArenaRequest& r : req) total += (r.bytes + 63) / 64 * 64;
  return total;
}

std::vector<NodeId> fuse_elementwise_chains(const Graph& g, const std::array<std::vector<bool>, 3>& need,
                                            std::vector<bool>* stored_out, std::vector<NodeId>* prologue_out) {
  const std::vector<bool>& needed = need[0];
  const size_t N = g.size();
  std::vector<std::vector<NodeId>> consumers(N);
  for (size_t i = 0; i < N; ++i)
    if (needed[i])
      for (NodeId s : g[i].in)
        if (consumers[s].empty() || consumers[s].back() != NodeId(i)) consumers[s].push_back(NodeId(i));
  std::vector<bool> root(N, false);
  for (NodeId r : g.roots()) root[r] = true;
  auto elementwise = [&](NodeId id) { return op_row(g[id].op).cls != OpClass::leaf && op_gen(g[id].op).elem; };
  // Backwards, so every consumer's group is known: j joins the earliest group among its
  // elementwise consumers of its shape. It is also stored when it is a root or has
  // consumers outside that group; those must run after the group (their hosts later).
  std::vector<NodeId> fused(N, -1), host(N);
  std::vector<bool> stored(N, false);
  auto same = [&](NodeId c, NodeId j) { return elementwise(c) && g[c].shape == g[j].shape; };
  for (size_t j = N; j-- > 0;) {
    host[j] = NodeId(j);
    if (!needed[j] || consumers[j].empty() || !elementwise(NodeId(j))) continue;
    NodeId h = -1;
    for (NodeId c : consumers[j])
      if (same(c, NodeId(j)) && (h < 0 || host[c] < h)) h = host[c];
    if (h < 0) continue;
    bool ok = true, store = root[j];
    for (NodeId c : consumers[j])
      if (!(same(c, NodeId(j)) && host[c] == h)) {
        store = true;
        ok = ok && host[c] > h;
      }
    if (store)  // stored by the group's loop: every entry evaluating j must run the group
      for (int e = 1; e < 3; ++e) ok = ok && need[e][j] == need[e][h];
    if (ok) {
      fused[j] = host[j] = h;
      stored[j] = store;
    }
  }
  if (stored_out) *stored_out = stored;
  // Matmul epilogues: a 2-D GEMM (N > 1) read only by one group of its shape and type
  // becomes that group's anchor: the group is applied to each output tile once it is final.
  std::vector<bool> anchored(N, false);
  for (size_t m = 0; m < N; ++m) {
    const Node& n = g[m];
    if (!needed[m] || root[m] || n.op != Op::matmul || consumers[m].empty()) continue;
    const Shape &xs = g[n.in[0]].shape, &ys = g[n.in[1]].shape;
    if (xs.size() != 2 || ys.size() != 2 || ys[1] < 2) continue;
    NodeId h = host[consumers[m][0]];
    bool ok = !anchored[h] && g[h].shape == n.shape && g[h].dtype == n.dtype;
    for (NodeId c : consumers[m]) ok = ok && elementwise(c) && host[c] == h;
    if (ok) {
      fused[m] = h;
      anchored[h] = true;
    }
  }
  // Reduction prologues: a group read only by a reduction (its input), storing nothing
  // else, with operands of its shape or single elements, is computed as the reduction
  // reads it; the reduction becomes the host.
  std::vector<NodeId> prologue(N, -1);
  for (size_t r = 0; r < N; ++r) {
    const Node& n = g[r];
    bool reduces = n.op == Op::sum || n.op == Op::mean || n.op == Op::max || n.op == Op::min ||
                   n.op == Op::logsumexp || n.op == Op::sum_to;
    if (!needed[r] || !reduces) continue;
    NodeId x = n.in[0];
    if (root[x] || fused[x] >= 0 || !elementwise(x) || consumers[x].size() != 1 || anchored[x] || g[x].dtype != n.dtype)
      continue;
    std::vector<NodeId> members{x};
    for (size_t j = 0; j < size_t(x); ++j)
      if (fused[j] == x) members.push_back(NodeId(j));
    bool ok = true;
    for (NodeId j : members) {
      ok = ok && !stored[j];
      for (NodeId s : g[j].in)
        if (fused[s] != x && s != x) ok = ok && (g[s].shape == g[x].shape || num_elements(g[s].shape) == 1);
    }
    if (!ok) continue;
    for (NodeId j : members) fused[j] = NodeId(r);
    prologue[r] = x;
  }
  if (prologue_out) *prologue_out = prologue;
  return fused;
}

static int64_t value_bytes(const Node& n) { return num_elements(n.shape) * (n.dtype == DType::f64 ? 8 : 4); }

bool make_plan(const Graph& g, Plan& p, std::string& err, bool fuse) {
  const size_t N = g.size();
  // 1. The buffer table: leaves in declaration order, then roots.
  std::vector<int> leaf_buf(N, -1);
  auto add_leaves = [&](const std::vector<NodeId>& ids, BufferKind k) {
    for (NodeId id : ids) {
      leaf_buf[id] = int(p.buffers.size());
      p.buffers.push_back({k, g[id].name, id, g[id].dtype, g[id].shape});
    }
  };
  add_leaves(g.inputs, BufferKind::input);
  add_leaves(g.params, BufferKind::param);
  add_leaves(g.consts, BufferKind::const_);
  add_leaves(g.states, BufferKind::state);
  size_t first_root = p.buffers.size();
  auto add_root = [&](BufferKind k, std::string name, NodeId id) { p.buffers.push_back({k, std::move(name), id, g[id].dtype, g[id].shape}); };
  if (g.train.minimize) add_root(BufferKind::loss, "loss", *g.train.minimize);
  for (auto& [name, id] : g.outputs) add_root(BufferKind::output, name, id);
  for (auto& [name, id] : g.train.metrics) add_root(BufferKind::metric, name, id);
  for (auto& [param, grad] : g.grads) add_root(BufferKind::grad, g[param].name, grad);

  // 2. What each entry evaluates: the ancestors of its roots.
  for (int e = 0; e < 3; ++e) {
    auto& need = p.needed[e];
    need.assign(N, false);
    for (size_t b = first_root; b < p.buffers.size(); ++b)
      if (entry_writes(Entry(e), p.buffers[b].kind)) need[p.buffers[b].node] = true;
    if (Entry(e) == Entry::step)
      for (auto& u : g.updates) need[u.value] = true;
    for (size_t i = N; i-- > 0;)
      if (need[i])
        for (size_t j = 0; j < g[i].in.size(); ++j) need[effective_input(g, g[i], j)] = true;
  }
  const auto& all = p.needed[0];

  // 3. Storage: leaves in their buffers, literals as constants, aliases as their operand,
  // a root in the first root buffer that every entry evaluating it writes, the rest in the arena.
  p.loc.assign(N, {});
  p.scratch.assign(N, -1);
  std::vector<int> root_buf(N, -1);
  for (size_t b = p.buffers.size(); b-- > first_root;) {
    NodeId id = p.buffers[b].node;
    bool ok = true;
    for (int e = 1; e < 3; ++e)
      if (p.needed[e][id] && !entry_writes(Entry(e), p.buffers[b].kind)) ok = false;
    if (ok) root_buf[id] = int(b);  // walking backwards: the first eligible one wins
  }
  std::vector<ArenaRequest> req;
  std::vector<std::pair<NodeId, bool>> owner;  // per request: (node, is scratch)
  // Live ranges over node positions (kernels run in id order; position N is the copy-out of
  // roots and the update writes). A read of an alias (reshape) is a read of its storage.
  auto storage_of = [&](NodeId id) {
    while (op_row(g[id].op).cls != OpClass::leaf && op_gen(g[id].op).alias) id = g[id].in[0];
    return id;
  };
  // Fused chains run in the kernel of their last member (the host), at its position.
  std::vector<bool> stored(N, false);
  p.prologue.assign(N, -1);
  p.fused_into = fuse ? fuse_elementwise_chains(g, p.needed, &stored, &p.prologue) : std::vector<NodeId>(N, -1);
  p.stores.assign(N, {});
  for (size_t i = 0; i < N; ++i)
    if (all[i] && p.fused_into[i] >= 0 && stored[i]) p.stores[p.fused_into[i]].push_back(NodeId(i));
  std::vector<int> host(N);
  for (size_t i = N; i-- > 0;) host[i] = p.fused_into[i] < 0 ? int(i) : host[p.fused_into[i]];
  p.operands.assign(N, {});
  p.anchor.assign(N, -1);
  for (size_t i = 0; i < N; ++i)  // members in id order: operands of a host in first-read order
    if (all[i] && p.fused_into[i] >= 0) {
      if (g[i].op == Op::matmul) p.anchor[host[i]] = NodeId(i);
      for (size_t j = 0; j < g[i].in.size(); ++j)
        if (NodeId s = effective_input(g, g[i], j); p.fused_into[s] != host[i]) {  // not a member
          auto& ops = p.operands[host[i]];
          if (std::find(ops.begin(), ops.end(), s) == ops.end()) ops.push_back(s);
        }
    }
  for (size_t i = 0; i < N; ++i)  // the hosts' own operands that are not members
    if (all[i] && p.fused_into[i] < 0 && !p.operands[i].empty())
      for (NodeId s : g[i].in)
        if (p.fused_into[s] != NodeId(i) && std::find(p.operands[i].begin(), p.operands[i].end(), s) == p.operands[i].end())
          p.operands[i].push_back(s);
  std::vector<int> last_use(N, -1);
  for (size_t i = 0; i < N; ++i)
    if (all[i])
      for (size_t j = 0; j < g[i].in.size(); ++j) {
        NodeId s = storage_of(effective_input(g, g[i], j));
        last_use[s] = std::max(last_use[s], host[i]);
      }
  for (auto& r : g.roots()) last_use[storage_of(r)] = int(N);
  // In-place updates: an elementwise update value (a host, or a stored member of a plain
  // elementwise group) is written straight into its target's buffer when nothing reads
  // the target after its loop, the loop reads the target only at the element it writes
  // (operands of the loop's shape), no other entry computes it, and the value needs no
  // root buffer. Its kernel then has no noalias arguments.
  std::vector<int> in_place(N, -1);  // per node: the leaf buffer it is written into
  p.in_place.assign(N, false);
  if (fuse) {
    std::vector<int> target_uses(N, 0);
    for (const Update& u : g.updates) ++target_uses[u.target];
    for (const Update& u : g.updates) {
      NodeId v = u.value, t = u.target;
      if (!all[v] || op_row(g[v].op).cls == OpClass::leaf || !op_gen(g[v].op).elem || root_buf[v] >= 0) continue;
      if (leaf_buf[t] < 0 || target_uses[t] != 1 || p.needed[1][v] || p.needed[2][v] || in_place[v] >= 0) continue;
      NodeId h = NodeId(host[v]);
      if (p.anchor[h] >= 0 || p.prologue[h] >= 0 || g[h].shape != g[v].shape || last_use[t] > h) continue;
      const std::vector<NodeId>& reads = p.operands[h].empty() ? g[h].in : p.operands[h];
      bool ok = true;
      for (NodeId o : reads)
        if (storage_of(o) == t) ok = ok && g[o].shape == g[v].shape;
      if (!ok) continue;
      in_place[v] = leaf_buf[t];
      p.in_place[h] = true;
    }
  }
  for (size_t i = 0; i < N; ++i) {
    if (!all[i]) continue;
    const Node& n = g[i];
    const OpRow& row = op_row(n.op);
    if (row.cls == OpClass::leaf) {
      if (n.op == Op::literal) {
        p.loc[i] = {Loc::literal, int64_t(i)};
        size_t have = n.attrs.init.data.size();
        if (have != 1 && int64_t(have) != num_elements(n.shape)) {
          err = fmt::format("literal %{} has {} values for shape {}", i, have, type_str(n.dtype, n.shape));
          return false;
        }
      } else if (leaf_buf[i] >= 0) {
        p.loc[i] = {Loc::buffer, leaf_buf[i]};
      } else {
        err = fmt::format("{} %{} ({}) is not among the graph's declared inputs, params, consts or states",
                          op_name(n.op), i, n.name);
        return false;
      }
      continue;
    }
    if (p.fused_into[i] >= 0 && !stored[i]) continue;  // in registers of its host's loop
    const OpGen& gen = op_gen(n.op);
    if (gen.alias) {
      p.loc[i] = p.loc[n.in[0]];
      continue;
    }
    if (!gen.kernel) {
      err = fmt::format("the JIT has no code generator for op '{}' (%{})", op_name(n.op), i);
      return false;
    }
    if (in_place[i] >= 0) {
      p.loc[i] = {Loc::buffer, in_place[i]};
    } else if (root_buf[i] >= 0) {
      p.loc[i] = {Loc::buffer, root_buf[i]};
    } else {
      p.loc[i] = {Loc::arena, int64_t(req.size())};  // request index for now
      req.push_back({value_bytes(n), int(i), last_use[i]});
      owner.push_back({NodeId(i), false});
    }
    if (p.anchor[i] >= 0) {  // a fused matmul's scratch belongs to its host
      const Node& a = g[p.anchor[i]];
      if (int64_t s = op_gen(a.op).scratch(g, a); s > 0) {
        p.scratch[i] = int64_t(req.size());
        req.push_back({s, int(i), int(i)});
        owner.push_back({NodeId(i), true});
      }
    } else if (gen.scratch)
      if (int64_t s = gen.scratch(g, n); s > 0) {
        p.scratch[i] = int64_t(req.size());
        req.push_back({s, int(i), int(i)});
        owner.push_back({NodeId(i), true});
      }
  }
  // Old values of updates that live in leaf buffers are copied aside before any update writes.
  p.update_temp.assign(g.updates.size(), -1);
  std::vector<size_t> temp_req(g.updates.size());
  for (size_t u = 0; u < g.updates.size(); ++u) {
    const Update& up = g.updates[u];
    if (p.loc[up.value].kind == Loc::buffer && size_t(p.loc[up.value].index) < first_root && in_place[up.value] < 0) {
      temp_req[u] = req.size();
      p.update_temp[u] = int64_t(req.size());
      req.push_back({value_bytes(g[up.value]), int(N), int(N)});
      owner.push_back({-1, false});
    }
  }
  // 4. Arena offsets.
  std::vector<int64_t> off = assign_arena(req, p.arena_bytes);
  p.unshared_arena_bytes = unshared_arena_bytes(req);
  for (size_t i = 0; i < N; ++i) {
    if (p.loc[i].kind == Loc::arena && !op_gen(g[i].op).alias)
      p.loc[i].index = off[p.loc[i].index];
    if (p.scratch[i] >= 0) p.scratch[i] = off[p.scratch[i]];
  }
  for (size_t i = 0; i < N; ++i)  // aliases of arena values: re-resolve with offsets
    if (all[i] && op_gen(g[i].op).alias) p.loc[i] = p.loc[g[i].in[0]];
  for (auto& t : p.update_temp)
    if (t >= 0) t = off[t];
  return true;
}

}  // namespace kiln::backend
