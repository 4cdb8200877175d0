// Shared fixtures of the parser tests: the LANGUAGE.md examples (embedded, so that the
// tests do not depend on the design folder) and helpers that parse and print.
#pragma once
#include "frontend/ast_print.hpp"
#include "frontend/parse.hpp"
#include <catch2/catch.hpp>
#include <string>

namespace kiln::test {

struct Result {
  bool ok = false;
  std::string ast;     // print_ast output when ok
  std::string errors;  // rendered diagnostics
  size_t error_count = 0;
};

inline Result parse_text(const std::string& text, const std::string& path = "t.model") {
  SourceFile file(path, text);
  Diagnostics diags(&file);
  auto parsed = parse_model(file, diags);
  Result r;
  r.ok = parsed.has_value();
  if (parsed) r.ast = print_ast(*parsed, file);
  r.errors = diags.render_all();
  r.error_count = diags.error_count();
  return r;
}

// The AST of a single `e = EXPR` binding, without the Program/Binding lines.
inline std::string expr_ast(const std::string& expr) {
  Result r = parse_text("e = " + expr + "\n");
  INFO(r.errors);
  REQUIRE(r.ok);
  std::string out;
  size_t pos = r.ast.find('\n', r.ast.find("Binding e"));
  for (size_t i = pos + 1; i < r.ast.size();) {
    size_t j = r.ast.find('\n', i);
    std::string line = r.ast.substr(i, j - i);
    out += line.substr(4, line.rfind(" (") - 4) + "\n";  // drop the Binding indent and position
    i = j + 1;
  }
  return out;
}

inline const char* kWholeFile = R"(# breast_cancer.model: a small binary classifier
model breast_cancer

dim batch = 64
dim hidden = 32

input x : f32[batch, 30] normalize   # fed from the data; standardised with training-set statistics
input y : f32[batch, 1]

param w1 : f32[30, hidden] = he_normal
param b1 : f32[hidden]     = zeros
param w2 : f32[hidden, 1]  = glorot_uniform
param b2 : f32[1]          = zeros

fn dense(v, w, b) = v @ w + b

h      = relu(dense(x, w1, b1))
logits = dense(h, w2, b2)
loss   = mean(bce_with_logits(logits, y))

output prob = sigmoid(logits)

train {
  minimize loss
  optimizer = adam(lr = 0.01)
  epochs = 30
  metric accuracy = mean(round(sigmoid(logits)) == y)
}
)";

inline const char* kTrainBlock = R"(train {
  minimize loss                                   # required: a scalar value
  optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = false)
  # or: adam(lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8), adamw(lr, weight_decay = 0.01, ...),
  #     rmsprop(lr, rho = 0.9, eps = 1e-7), adagrad(lr, eps = 1e-7)
  schedule = exponential_decay(rate = 0.96, every = 100)   # or step_decay(...), cosine(total = N), constant
  clip_norm = 5.0                                 # optional global-norm gradient clipping
  epochs = 20
  seed = 42                                       # initialisation and shuffling
  metric accuracy = mean(argmax(logits, axis=1) == labels)   # logged each epoch; never trained
}
)";

inline const char* kDeepSigmoid = R"(input x : f32[batch, 30]
input y : f32[batch, 1]
param w1 : f32[30, 128] = glorot_uniform
param b1 : f32[128] = zeros
param w2 : f32[128, 64] = glorot_uniform
param b2 : f32[64] = zeros
param w3 : f32[64, 1] = glorot_uniform
param b3 : f32[1] = zeros
p = sigmoid(sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3)
loss = -mean(y * log(p) + (1 - y) * log(1 - p))     # unstable-log: p can be exactly 0 or 1
train { minimize loss; optimizer = adam(lr = 0.01) }
)";

inline const char* kConstWeights = R"(input x : f32[batch, 10]
input y : f32[batch, 1]
const weights : f32[10, 1] = normal(0, 1)            # const-as-param: meant to be a param
const bias : f32[1] = normal(0, 1)
loss = mean(square(y - (x @ weights + bias)))
train { minimize loss; optimizer = sgd(lr = 0.001) }  # error: no param reaches the loss
)";

// Inline forms quoted in LANGUAGE.md's tables and prose.
inline const char* kInlineForms = R"(model m
dim hidden = 32
input x : f32[batch, 30] normalize
input labels : i32[batch]
input s : f64
param w : f32[30, 8] = he_normal
const c : f32[3] = [1, 2, 3]
const m2 : f32[2, 2] = [[1, 2], [3, 4]]
const half : f32 = 0.5
const neg : f32 = -2.5
const small : f32 = 1e-3
param a1 : f32[3] = ones
param a2 : f32[3] = constant(0.1)
param a3 : f32[3] = normal(0, 0.01)
param a4 : f32[3] = uniform(-1, 1)
param a5 : f32[3] = glorot_normal
param a6 : f32[3] = he_uniform
param a7 : f32[3] = lecun_normal
fn f(a, b) = a * b
z = x @ w
e1 = exp(z) + log(z) + log1p(z) + expm1(z) + sqrt(z) + rsqrt(z) + square(z) + abs(z) + sign(z)
e2 = sin(z) + cos(z) + tanh(z) + sigmoid(z) + relu(z) + leaky_relu(z, alpha=0.01) + elu(z, alpha=1)
e3 = gelu(z) + silu(z) + softplus(z) + log_sigmoid(z) + minimum(z, z) + maximum(z, z) + clip(z, 0, 1)
e4 = where(z > 0, z, 0) + round(z) + floor(z) + ceil(z) + stop_gradient(z)
r1 = sum(z) + mean(z) + max(z) + min(z) + logsumexp(z) + sum(z, axis=1, keepdims=true)
t = transpose(z); r = reshape(z, [8, 64]); k = concat([z, z], axis=1); o = one_hot(labels, 8)
sm = softmax(z, axis=-1) + log_softmax(z, axis=-1)
acc = mean(argmax(z, axis=1) == labels)
l1 = bce(sigmoid(z), z) + bce_with_logits(z, z) + softmax_cross_entropy(z, labels)
l2 = squared_error(z, z) + huber(z, z, delta=1)
cmp = (z < 1) + (z <= 1) + (z > 1) + (z >= 1) + (z == 1) + (z != 1)
p = z ^ 2 - -z / 2
output prob = sigmoid(z)
train { minimize l2; optimizer = adamw(lr = 0.01, weight_decay = 0.01); schedule = cosine(total = 100) }
)";

}  // namespace kiln::test
