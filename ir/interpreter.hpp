// The reference interpreter: executes any graph (forward, backward, optimizer update)
// in f64 or f32 with the op table's reference kernels. The oracle for the JIT and the
// engine of gradient checks.
#pragma once
#include "ir/graph.hpp"
#include "ir/tensor.hpp"
#include <map>
#include <optional>
#include <string>

namespace kiln {

// Values of leaves by name: inputs, params, consts and optimizer states.
using ValueMap = std::map<std::string, Tensor>;

enum class Precision : uint8_t { f64, f32 };  // f32: every result is rounded to float

// Initial values of every param, const and state from its initialiser, with a seeded
// generator (same seed, same values). Inputs are not included.
ValueMap initial_values(const Graph& g, uint64_t seed);

// Evaluates every node. Leaves come from `leaves` by name (literals carry their data).
// Returns nullopt with a clear message in err when a leaf is missing or has the wrong shape.
std::optional<std::vector<Tensor>> evaluate(const Graph& g, const ValueMap& leaves, Precision p, std::string& err);

// One training step: evaluates the graph, then writes every g.updates value into
// `leaves` (params and states). `loss` receives the loss of this step's forward pass.
bool train_step(const Graph& g, ValueMap& leaves, Precision p, std::string& err, double* loss = nullptr);

}  // namespace kiln
