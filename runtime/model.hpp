// What train, predict and eval share about a model: its inputs as the data loader sees
// them, its hash for checkpoints, label checks and the learning-rate schedule. (The
// training and forward graphs are built by the compile pipeline, runtime/compile.hpp.)
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include "runtime/dataset.hpp"
#include <optional>
#include <string>
#include <vector>

namespace kiln {

// The model's inputs in declaration order. Every input must have the batch dim first
// ("input 'x' must have the batch dim first (f32[batch, ...]) to be fed from data");
// row_shape is the rest of its shape.
std::optional<std::vector<InputSpec>> input_specs(const Graph& g, std::string& err);

// The model's hash: FNV-1a (64 bit, hex) of its signature, one line per input
// ("input x f32[30] normalize") and per param ("param w1 f32[30,32]"), in declaration
// order. The batch size, the train block and the computation do not enter it, so a
// checkpoint stays loadable when only those change.
std::string model_signature(const Graph& g);
std::string model_hash(const Graph& g);

// Inputs that no output depends on (the labels): predict may run without them.
std::vector<std::string> inputs_not_needed_by_outputs(const Graph& g);

// For every i32 input used as the labels of one_hot or softmax_cross_entropy, the number
// of classes: (index into `inputs`, classes).
std::vector<std::pair<size_t, int64_t>> label_classes(const Graph& g, const std::vector<InputSpec>& inputs);

// The optimizer's step counter (the state "step", or "optimizer.step"); -1 when absent.
NodeId step_counter(const Graph& g);

}  // namespace kiln
