// Model-level helpers shared by train, predict and eval (runtime/model.hpp).
#include "runtime/model.hpp"
#include <cmath>
#include <fmt/format.h>
#include <numbers>

namespace kiln {

namespace {
std::string dims(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

std::optional<std::vector<InputSpec>> input_specs(const Graph& g, std::string& err) {
  std::vector<InputSpec> out;
  for (NodeId id : g.inputs) {
    const Node& n = g[id];
    if (n.shape.empty() || n.shape[0] != g.batch) {
      err = fmt::format("input '{}' must have the batch dim first ({}[batch, ...]) to be fed from data", n.name,
                        dtype_name(n.dtype));
      return std::nullopt;
    }
    InputSpec s;
    s.name = n.name;
    s.dtype = n.dtype;
    s.row_shape.assign(n.shape.begin() + 1, n.shape.end());
    s.normalize = n.attrs.normalize;
    out.push_back(std::move(s));
  }
  if (out.empty()) {
    err = "the model has no inputs to feed with data";
    return std::nullopt;
  }
  return out;
}

std::string model_signature(const Graph& g) {
  std::string s;
  for (NodeId id : g.inputs) {
    const Node& n = g[id];
    Shape row(n.shape.empty() ? n.shape.begin() : n.shape.begin() + 1, n.shape.end());
    s += fmt::format("input {} {}{}{}\n", n.name, dtype_name(n.dtype), dims(row), n.attrs.normalize ? " normalize" : "");
  }
  for (NodeId id : g.params) s += fmt::format("param {} {}{}\n", g[id].name, dtype_name(g[id].dtype), dims(g[id].shape));
  return s;
}

std::string model_hash(const Graph& g) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : model_signature(g)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::vector<std::string> inputs_not_needed_by_outputs(const Graph& g) {
  std::vector<char> used(g.size(), 0);
  for (auto& [name, id] : g.outputs) used[id] = 1;
  for (size_t i = g.size(); i-- > 0;)
    if (used[i])
      for (NodeId in : g.nodes[i].in) used[in] = 1;
  std::vector<std::string> out;
  for (NodeId id : g.inputs)
    if (!used[id]) out.push_back(g[id].name);
  return out;
}

std::vector<std::pair<size_t, int64_t>> label_classes(const Graph& g, const std::vector<InputSpec>& inputs) {
  std::vector<std::pair<size_t, int64_t>> out;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (inputs[k].dtype != DType::i32) continue;
    NodeId leaf = -1;
    for (NodeId id : g.inputs)
      if (g[id].name == inputs[k].name) leaf = id;
    int64_t classes = 0;
    for (const Node& n : g.nodes) {
      if (n.op == Op::one_hot && n.in.size() == 1 && n.in[0] == leaf) classes = classes ? std::min(classes, n.attrs.n) : n.attrs.n;
      if (n.op == Op::softmax_cross_entropy && n.in.size() == 2 && n.in[1] == leaf && !g[n.in[0]].shape.empty()) {
        int64_t c = g[n.in[0]].shape.back();
        classes = classes ? std::min(classes, c) : c;
      }
    }
    if (classes > 0) out.emplace_back(k, classes);
  }
  return out;
}

NodeId step_counter(const Graph& g) {
  for (NodeId id : g.states)
    if (g[id].shape.empty() && (g[id].name == "step" || g[id].name == "optimizer.step")) return id;
  return -1;
}

}  // namespace kiln
