// Reverse-mode symbolic differentiation: appends the backward graph of the loss
// (g.train.minimize) to the graph and records (param, gradient) pairs in g.grads.
#pragma once
#include "passes/pass.hpp"
#include <memory>

namespace kiln {

// Differentiates g.train.minimize with respect to every param. Returns false (with an
// error diagnostic, id "train") when there is nothing to differentiate.
bool differentiate(Graph& g, Diagnostics& d);

// The pass form of differentiate() ("autodiff"); reports a change when it succeeded.
std::unique_ptr<Pass> make_autodiff_pass();

}  // namespace kiln
