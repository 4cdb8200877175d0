// The buffer table, per-entry liveness of nodes, storage of every node, and the arena.
#include "backend/plan.hpp"
#include "backend/ops.hpp"
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
  std::vector<int64_t> off(req.size());
  total = 0;
  for (size_t i = 0; i < req.size(); ++i) {
    off[i] = total;
    total += (req[i].bytes + 63) / 64 * 64;
  }
  return off;
}

static int64_t value_bytes(const Node& n) { return num_elements(n.shape) * (n.dtype == DType::f64 ? 8 : 4); }

bool make_plan(const Graph& g, Plan& p, std::string& err) {
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
  std::vector<int> last_use(N, -1);
  for (size_t i = 0; i < N; ++i)
    if (all[i])
      for (size_t j = 0; j < g[i].in.size(); ++j) last_use[effective_input(g, g[i], j)] = int(i);
  for (auto& r : g.roots()) last_use[r] = int(N);
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
    const OpGen& gen = op_gen(n.op);
    if (gen.alias) {
      p.loc[i] = p.loc[n.in[0]];
      continue;
    }
    if (!gen.kernel) {
      err = fmt::format("the JIT has no code generator for op '{}' (%{})", op_name(n.op), i);
      return false;
    }
    if (root_buf[i] >= 0) {
      p.loc[i] = {Loc::buffer, root_buf[i]};
    } else {
      p.loc[i] = {Loc::arena, int64_t(req.size())};  // request index for now
      req.push_back({value_bytes(n), int(i), last_use[i]});
      owner.push_back({NodeId(i), false});
    }
    if (gen.scratch)
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
    if (p.loc[up.value].kind == Loc::buffer && size_t(p.loc[up.value].index) < first_root) {
      temp_req[u] = req.size();
      p.update_temp[u] = int64_t(req.size());
      req.push_back({value_bytes(g[up.value]), int(N), int(N)});
      owner.push_back({-1, false});
    }
  }
  // 4. Arena offsets.
  std::vector<int64_t> off = assign_arena(req, p.arena_bytes);
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
