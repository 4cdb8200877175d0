// Op-table rows for matrix multiplication, reductions and argmax.
#include "ir/ops/groups.hpp"
#include "ir/ops/rules.hpp"

namespace kiln::ops {

// NumPy's matmul for vectors and matrices: [m,k]@[k,n] -> [m,n]; [k]@[k,n] -> [n];
// [m,k]@[k] -> [m]; [k]@[k] -> scalar.
static bool matmul_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  using rules::ty;
  if (!is_float(in[0].dtype) || in[0].dtype != in[1].dtype) {
    err = fmt::format("cannot multiply {} by {}: @ takes two floating-point operands of one element type", ty(in[0]),
                      ty(in[1]));
    return false;
  }
  const Shape &x = in[0].shape, &y = in[1].shape;
  if (x.empty() || y.empty() || x.size() > 2 || y.size() > 2) {
    err = fmt::format("cannot multiply {} by {}: @ takes vectors and matrices (rank 1 or 2)", ty(in[0]), ty(in[1]));
    return false;
  }
  int64_t kx = x.back(), ky = y[0];
  if (kx != ky) {
    err = fmt::format("cannot multiply {} by {}: inner dimensions {} and {} differ", ty(in[0]), ty(in[1]), kx, ky);
    return false;
  }
  out.dtype = in[0].dtype;
  out.shape.clear();
  if (x.size() == 2) out.shape.push_back(x[0]);
  if (y.size() == 2) out.shape.push_back(y[1]);
  return true;
}

std::vector<OpRow> linalg_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::matmul, "matmul", 2, C::matmul, 0, false, matmul_rule},
      {Op::sum, "sum", 1, C::reduce, kAxes | kKeepdims, false, reduce},
      {Op::mean, "mean", 1, C::reduce, kAxes | kKeepdims, false, reduce},
      {Op::max, "max", 1, C::reduce, kAxes | kKeepdims, false, reduce},
      {Op::min, "min", 1, C::reduce, kAxes | kKeepdims, false, reduce},
      {Op::logsumexp, "logsumexp", 1, C::reduce, kAxes | kKeepdims, false, reduce},
      {Op::argmax, "argmax", 1, C::reduce, kAxes, true, rules::argmax},
  };
}

}  // namespace kiln::ops
