// Helpers for the reference kernels of ir/ops/*.cpp: NumPy broadcasting index maps,
// elementwise maps, axis reductions and "along one axis" loops, all in double.
#pragma once
#include "ir/graph.hpp"
#include "ir/tensor.hpp"
#include <cmath>
#include <span>
#include <vector>

namespace kiln::kern {

using Ins = std::span<const Tensor* const>;

// For every flat index of `shape` (row-major), the flat index into a second array whose
// per-axis strides are `st` (0 on broadcast or reduced axes).
std::vector<int64_t> walk(const Shape& shape, const std::vector<int64_t>& st);

// For every flat index of `out`, the flat index of the operand of shape `in` that NumPy
// broadcasting reads (in's shape is right-aligned against out's; size-1 axes repeat).
std::vector<int64_t> broadcast_map(const Shape& out, const Shape& in);

// For every flat index of `in`, the flat index of the reduced result (reduced axes
// collapse to 0). `axes` already normalised; empty means all axes.
std::vector<int64_t> reduce_map(const Shape& in, const std::vector<int64_t>& axes);

// The normalised axes of a node's attrs against the rank of its operand (empty = all).
std::vector<int64_t> axes_of(const Attrs& a, size_t rank);

// Splits `s` around `axis` into outer * len * inner (row-major), for along-axis loops:
// element (o, k, i) is at (o * len + k) * inner + i.
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
  int64_t at(int64_t o, int64_t k, int64_t i) const { return (o * len + k) * inner + i; }
};
AxisSplit split_axis(const Shape& s, int64_t axis);
int64_t single_axis(const Attrs& a, size_t rank);  // the one normalised axis of attrs.axes

template <class F>
void map1(Ins in, Tensor& out, F f) {
  const auto& x = in[0]->data;
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(x[i]);
}

template <class F>
void map2(Ins in, Tensor& out, F f) {
  auto ma = broadcast_map(out.shape, in[0]->shape), mb = broadcast_map(out.shape, in[1]->shape);
  const auto &a = in[0]->data, &b = in[1]->data;
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a[ma[i]], b[mb[i]]);
}

template <class F>
void map3(Ins in, Tensor& out, F f) {
  auto ma = broadcast_map(out.shape, in[0]->shape), mb = broadcast_map(out.shape, in[1]->shape),
       mc = broadcast_map(out.shape, in[2]->shape);
  const auto &a = in[0]->data, &b = in[1]->data, &c = in[2]->data;
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a[ma[i]], b[mb[i]], c[mc[i]]);
}

// Numerically stable scalar helpers shared by kernels.
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}
inline double softplus(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0); }
inline double clamped_log(double x) { return std::max(std::log(x), -100.0); }  // as PyTorch's BCELoss

}  // namespace kiln::kern
