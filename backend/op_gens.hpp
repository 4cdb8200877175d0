// The backend's generator table, indexed by op: each generator file lists its own entries
// (as each ir/ops/*.cpp lists its rows), and backend/op_gens.cpp collects and checks them.
#pragma once
#include "backend/ops.hpp"
#include <string>
#include <vector>

namespace kiln::backend {

struct OpGenEntry {
  Op op;
  OpGen gen;
};

std::vector<OpGenEntry> elemental_gens();  // elemental.cpp: elementwise ops and losses
std::vector<OpGenEntry> reduce_gens();     // kernels_reduce.cpp
std::vector<OpGenEntry> shape_gens();      // kernels_shape.cpp
std::vector<OpGenEntry> nn_gens();         // kernels_nn.cpp
std::vector<OpGenEntry> matmul_gens();     // matmul.cpp

// What is wrong with the table, one line each: an op of the table without a generator (or
// a leaf with one), an op with two, an elementwise op (unary, binary, ternary) without an
// element generator, a generator that neither emits a kernel nor aliases. Empty: complete.
// op_gen() aborts on the first use of an incomplete table; a test calls this.
std::vector<std::string> op_gen_problems();

}  // namespace kiln::backend
