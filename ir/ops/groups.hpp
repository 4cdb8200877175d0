// The op table is assembled from these groups of rows, one file each in ir/ops/.
#pragma once
#include "ir/op.hpp"
#include <vector>

namespace kiln::ops {
std::vector<OpRow> leaf_rows();         // leaf.cpp
std::vector<OpRow> elementwise_rows();  // elementwise.cpp
std::vector<OpRow> linalg_rows();       // linalg.cpp: matmul, reductions, argmax
std::vector<OpRow> shape_rows();        // shape.cpp
std::vector<OpRow> nn_rows();           // nn.cpp: softmax family and losses
}  // namespace kiln::ops
