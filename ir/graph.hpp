// The IR graph: SSA nodes in a vector (ids are indices), the model's declarations,
// and its training configuration.
#pragma once
#include "ir/op.hpp"
#include "ir/train_settings.hpp"
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

using NodeId = int32_t;

struct Node {
  Op op;
  DType dtype = DType::f32;
  Shape shape;
  std::vector<NodeId> in;
  Attrs attrs;
  SourceRange loc;
  std::string name;  // leaves: the declared name; other nodes: the user's binding, if any
  ValueType type() const { return {dtype, shape}; }
};

struct TrainConfig {
  bool present = false;            // the file has a train block
  std::optional<NodeId> minimize;  // the loss
  SourceRange minimize_loc;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  std::optional<double> clip_norm;
  int64_t epochs = 10;
  uint64_t seed = 42;
  std::vector<std::pair<std::string, NodeId>> metrics;
  SourceRange loc;
};

// A state update produced by the optimizer pass: after the step, `target` (a param or
// state leaf) takes the value of `value`.
struct Update {
  NodeId target, value;
};

struct Graph {
  std::string model_name;
  std::string file;                 // the source file's path, for locations
  int64_t batch = 32;               // the value of the `batch` dim
  std::vector<Node> nodes;
  std::vector<NodeId> inputs, params, consts, states;  // leaves in declaration order
  std::vector<std::pair<std::string, NodeId>> outputs;
  TrainConfig train;
  // Filled by autodiff/optimizer passes.
  std::vector<std::pair<NodeId, NodeId>> grads;  // (param, its gradient)
  std::vector<Update> updates;

  const Node& operator[](NodeId id) const { return nodes[id]; }
  Node& operator[](NodeId id) { return nodes[id]; }
  size_t size() const { return nodes.size(); }

  // Appends a node whose dtype/shape were already computed.
  NodeId append(Node n);
  // Infers dtype/shape with the op's rule and appends; on a shape/type error returns
  // nullopt and fills `err`.
  std::optional<NodeId> add(Op op, std::vector<NodeId> in, Attrs attrs, SourceRange loc, std::string& err);
  // As add(), for passes building known-good IR: a failure is an internal error (assert).
  NodeId make(Op op, std::vector<NodeId> in, Attrs attrs = {}, SourceRange loc = {});
  NodeId scalar(double v, DType t, SourceRange loc = {});  // a literal scalar

  // Every id that some live root (loss, outputs, metrics, grads, updates) uses.
  std::vector<NodeId> roots() const;
  // Rewrites every use of ids (in nodes and roots) through `map` (map[i] = new id of i).
  void remap_roots(const std::vector<NodeId>& map);
};

// Marks (1) the nodes in `from` and every node they are computed from, one pass over the
// ids downwards (an input's id is below its user's).
inline std::vector<char> ancestors(const Graph& g, const std::vector<NodeId>& from) {
  std::vector<char> mark(g.size(), 0);
  for (NodeId r : from) mark[r] = 1;
  for (size_t i = g.size(); i-- > 0;)
    if (mark[i])
      for (NodeId o : g[NodeId(i)].in) mark[o] = 1;
  return mark;
}

}  // namespace kiln
