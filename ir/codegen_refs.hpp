// The backend's code generators that the op rows name (OpRow::codegen): one per op but
// the leaves, defined next to their LLVM code in backend/ (backend/ops.hpp: OpGen). Only
// declared here, so ir/ needs no LLVM header.
#pragma once

namespace kiln::backend {
struct OpGen;
}

namespace kiln::backend::gen {

extern const OpGen neg;
extern const OpGen exp;
extern const OpGen log;
extern const OpGen log1p;
extern const OpGen expm1;
extern const OpGen sqrt;
extern const OpGen rsqrt;
extern const OpGen square;
extern const OpGen abs;
extern const OpGen sign;
extern const OpGen sin;
extern const OpGen cos;
extern const OpGen tanh;
extern const OpGen sigmoid;
extern const OpGen relu;
extern const OpGen leaky_relu;
extern const OpGen elu;
extern const OpGen gelu;
extern const OpGen silu;
extern const OpGen softplus;
extern const OpGen log_sigmoid;
extern const OpGen round;
extern const OpGen floor;
extern const OpGen ceil;
extern const OpGen stop_gradient;
extern const OpGen gelu_grad;
extern const OpGen add;
extern const OpGen sub;
extern const OpGen mul;
extern const OpGen div;
extern const OpGen pow;
extern const OpGen minimum;
extern const OpGen maximum;
extern const OpGen lt;
extern const OpGen le;
extern const OpGen gt;
extern const OpGen ge;
extern const OpGen eq;
extern const OpGen ne;
extern const OpGen clip;
extern const OpGen where;
extern const OpGen matmul;
extern const OpGen sum;
extern const OpGen mean;
extern const OpGen max;
extern const OpGen min;
extern const OpGen logsumexp;
extern const OpGen argmax;
extern const OpGen softmax;
extern const OpGen log_softmax;
extern const OpGen bce;
extern const OpGen bce_with_logits;
extern const OpGen softmax_cross_entropy;
extern const OpGen squared_error;
extern const OpGen huber;
extern const OpGen transpose;
extern const OpGen reshape;
extern const OpGen concat;
extern const OpGen one_hot;
extern const OpGen broadcast_to;
extern const OpGen sum_to;
extern const OpGen slice;

}  // namespace kiln::backend::gen
