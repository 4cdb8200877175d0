// Op-table rows for the softmax family and the per-example losses.
#include "ir/ops/groups.hpp"
#include "ir/ops/rules.hpp"

namespace kiln::ops {
using rules::ty;

// softmax_cross_entropy(logits [..., C], labels): labels are one-hot/probabilities of the
// logits' type and shape, or i32 class indices of shape [...]; the result has shape [...].
static bool sce_rule(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string& err) {
  const ValueType &z = in[0], &y = in[1];
  if (!is_float(z.dtype) || z.shape.empty()) {
    err = fmt::format("softmax_cross_entropy takes logits of rank 1 or more, got {}", ty(z));
    return false;
  }
  Shape batch(z.shape.begin(), z.shape.end() - 1);
  if (y.dtype == DType::i32) {
    if (y.shape != batch) {
      err = fmt::format("class labels {} do not match logits {}: expected i32{}", ty(y), ty(z), shape_str(batch));
      return false;
    }
  } else if (y.dtype != z.dtype || y.shape != z.shape) {
    err = fmt::format("one-hot labels {} do not match logits {}: expected {} (or i32{} class indices)", ty(y), ty(z),
                      ty(z), shape_str(batch));
    return false;
  }
  out = {z.dtype, batch};
  return true;
}

std::vector<OpRow> nn_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::softmax, "softmax", 1, C::nn, kAxes, false, along_axis},
      {Op::log_softmax, "log_softmax", 1, C::nn, kAxes, false, along_axis},
      {Op::bce, "bce", 2, C::loss, 0, false, broadcast_float},
      {Op::bce_with_logits, "bce_with_logits", 2, C::loss, 0, false, broadcast_float},
      {Op::softmax_cross_entropy, "softmax_cross_entropy", 2, C::loss, 0, false, sce_rule},
      {Op::squared_error, "squared_error", 2, C::loss, 0, false, broadcast_float},
      {Op::huber, "huber", 2, C::loss, kAlpha, false, broadcast_float},
  };
}

}  // namespace kiln::ops
