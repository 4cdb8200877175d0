// A test executor for kernel plans: runs a plan kernel by kernel with the op table's
// reference kernels, keeping register values only inside their kernel and every
// materialised value in its planned place (leaf buffers, root buffers, update targets, and
// one simulated arena addressed by the memory plan's byte offsets). Dead arena slots are
// poisoned with NaN, so a wrong grouping, order or overlap shows up as a wrong result.
#pragma once
#include "ir/interpreter.hpp"
#include "passes/fusion.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

namespace kiln::testing {

struct PlanRun {
  std::map<NodeId, Tensor> roots;  // root buffers by node
  ValueMap leaves;                 // leaf buffers after the run (params and states updated)
};

class PlanExecutor {
 public:
  PlanExecutor(const Graph& g, const KernelPlan& p) : g_(g), p_(p) {}

  // Throws std::runtime_error when the plan makes a kernel read something it cannot.
  PlanRun run(const ValueMap& leaves) {
    PlanRun out;
    out.leaves = leaves;
    leaf_ = &out.leaves;
    roots_ = &out.roots;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    arena_.assign(size_t(p_.memory.peak_bytes / 4 + 1), nan);
    for (size_t k = 0; k < p_.kernels.size(); ++k) {
      const Kernel& K = p_.kernels[k];
      if (K.scratch_offset >= 0)  // the kernel scribbles over its scratch
        for (int64_t b = K.scratch_offset / 4; b < (K.scratch_offset + K.scratch_bytes) / 4; ++b) arena_[size_t(b)] = -1e300;
      run_kernel(k);
      for (const ArenaSlot& s : p_.memory.slots)  // poison what dies here
        if (s.last == int(k))
          for (int64_t b = s.offset / 4; b < (s.offset + s.bytes) / 4; ++b) arena_[size_t(b)] = nan;
    }
    return out;
  }

 private:
  const Graph& g_;
  const KernelPlan& p_;
  ValueMap* leaf_ = nullptr;
  std::map<NodeId, Tensor>* roots_ = nullptr;
  std::vector<double> arena_;  // one double per 4 bytes: an f64 element takes two

  [[noreturn]] static void fail(const std::string& m) { throw std::runtime_error(m); }

  Tensor& leaf_buffer(NodeId id) {
    auto it = leaf_->find(g_[id].name);
    if (it == leaf_->end()) fail("no buffer for leaf " + g_[id].name);
    return it->second;
  }

  // Reads a value from memory (with the node's own shape: views reinterpret their base).
  Tensor load(NodeId id) {
    const ValuePlace& v = p_.values[id];
    NodeId b = v.base;
    Tensor t(g_[id].dtype, g_[id].shape);
    const ValuePlace& bv = p_.values[b];
    switch (bv.storage) {
      case Storage::leaf: t.data = leaf_buffer(b).data; break;
      case Storage::literal: {
        const auto& d = g_[b].attrs.init.data;
        if (d.size() == 1) std::fill(t.data.begin(), t.data.end(), d[0]);
        else t.data = d;
        break;
      }
      case Storage::root: {
        auto it = roots_->find(b);
        if (it == roots_->end()) fail("root %" + std::to_string(b) + " read before it is written");
        t.data = it->second.data;
        break;
      }
      case Storage::arena: {
        int64_t step = element_bytes(g_[b].dtype) / 4;
        for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = arena_[size_t(bv.offset / 4 + int64_t(i) * step)];
        break;
      }
      default: fail("%" + std::to_string(id) + " is read from memory but has storage " + std::string(storage_name(bv.storage)));
    }
    if (t.data.size() != size_t(num_elements(t.shape))) fail("size mismatch reading %" + std::to_string(id));
    return t;
  }

  void store(NodeId id, const Tensor& t) {
    const ValuePlace& v = p_.values[id];
    if (v.storage == Storage::root) (*roots_)[id] = t;
    if (v.storage == Storage::arena) {
      int64_t step = element_bytes(t.dtype) / 4;
      for (size_t i = 0; i < t.data.size(); ++i) arena_[size_t(v.offset / 4 + int64_t(i) * step)] = t.data[i];
    }
  }

  void run_kernel(size_t k) {
    const Kernel& K = p_.kernels[k];
    auto is_input = [&](NodeId o) { return std::binary_search(K.inputs.begin(), K.inputs.end(), o); };
    std::map<NodeId, Tensor> local;
    std::vector<Tensor> loaded;
    std::vector<const Tensor*> args;
    for (const KernelNode& kn : K.nodes) {
      const Node& n = g_[kn.id];
      loaded.clear();
      loaded.reserve(n.in.size());  // stable addresses for args
      args.clear();
      for (NodeId o : n.in) {
        auto it = local.find(o);
        if (it != local.end()) {
          args.push_back(&it->second);
          continue;
        }
        if (!is_input(o)) fail("kernel " + std::to_string(k) + " reads %" + std::to_string(o) + " which is not an input");
        loaded.push_back(load(o));
        args.push_back(&loaded.back());
      }
      Tensor out(n.dtype, n.shape);
      op_row(n.op).eval(args, n, out);
      local[kn.id] = std::move(out);
    }
    // Stores, then the update writes (every load of the kernel already happened).
    for (NodeId o : K.outputs) store(o, local.at(o));
    std::vector<std::pair<NodeId, Tensor>> writes;
    for (const Update& u : K.writes) {
      if (K.kind != KernelKind::commit) {
        writes.push_back({u.target, local.at(u.value)});
      } else {
        if (!is_input(u.value)) fail("commit reads %" + std::to_string(u.value) + " which is not an input");
        writes.push_back({u.target, load(u.value)});
      }
    }
    for (auto& [t, val] : writes) {
      Tensor& buf = leaf_buffer(t);
      if (buf.data.size() != val.data.size()) fail("update size mismatch");
      buf.data = val.data;
    }
  }
};

// Independent of check_kernel_plan: walking the kernels in order, every operand of every
// node is a leaf, a literal, a view of something already available, or was computed
// earlier (in an earlier kernel, or earlier in the same kernel); nothing is computed twice.
inline bool plan_is_topological(const Graph& g, const KernelPlan& p) {
  std::vector<char> ready(g.size(), 0);
  for (NodeId i = 0; i < NodeId(g.size()); ++i) ready[i] = op_row(g[i].op).cls == OpClass::leaf;
  auto available = [&](NodeId o) {
    while (!ready[o] && p.values[o].storage == Storage::view) o = g[o].in[0];
    return ready[o] != 0;
  };
  for (const Kernel& k : p.kernels)
    for (const KernelNode& kn : k.nodes) {
      if (ready[kn.id]) return false;
      for (NodeId o : g[kn.id].in)
        if (!available(o)) return false;
      ready[kn.id] = 1;
    }
  return true;
}

// The plan's results against the interpreter's: every root and every update, exactly.
// Returns a description of the first difference, or "" when they agree.
inline std::string compare_with_interpreter(const Graph& g, const KernelPlan& plan, const ValueMap& leaves) {
  std::string err;
  auto ref = evaluate(g, leaves, Precision::f64, err);
  if (!ref) return "interpreter: " + err;
  PlanRun run;
  try {
    run = PlanExecutor(g, plan).run(leaves);
  } catch (const std::exception& e) {
    return std::string("executor: ") + e.what();
  }
  auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
    return true;
  };
  for (NodeId r : plan_roots(g, plan.scope)) {
    Storage s = plan.values[r].storage;
    if (s == Storage::leaf || s == Storage::literal) continue;  // read by the caller from the leaf itself
    auto it = run.roots.find(r);
    if (it == run.roots.end()) return "root %" + std::to_string(r) + " was never written";
    if (!same(it->second.data, (*ref)[r].data)) return "root %" + std::to_string(r) + " differs";
  }
  std::map<std::string, NodeId> written;
  if (plan.scope == PlanScope::step)
    for (const Update& u : g.updates) written[g[u.target].name] = u.value;
  for (auto& [name, t] : run.leaves) {
    auto w = written.find(name);
    const std::vector<double>& want = w != written.end() ? (*ref)[w->second].data : leaves.at(name).data;
    if (!same(t.data, want)) return "leaf '" + name + "' differs after the step";
  }
  return "";
}

}  // namespace kiln::testing
