// A dense host tensor as the reference interpreter sees it: values held as double,
// whatever the element type (f32 results are rounded to float after each op).
#pragma once
#include "ir/types.hpp"
#include <vector>

namespace kiln {

struct Tensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<double> data;  // row-major
  Tensor() = default;
  Tensor(DType t, Shape s, double fill = 0.0) : dtype(t), shape(std::move(s)), data(num_elements(shape), fill) {}
  size_t size() const { return data.size(); }
};

}  // namespace kiln
