// The catalogue of static checks (ids, severities, help texts), -W/-Wno/-Werror handling,
// inline `# kiln: ignore[<id>]` comments, and run_static_checks.
#include "passes/diagnostics/check.hpp"
#include <algorithm>
#include <cctype>

namespace kiln {

const std::vector<CheckInfo>& check_catalogue() {
  using S = Severity;
  static const std::vector<CheckInfo> table = {
      {"no-trainable", S::error, "the minimised loss depends on no param",
       "Nothing in the loss is a param, so the optimizer has nothing to update and training cannot change "
       "anything. Declare the weights that should learn with `param` instead of `const`, and make sure they "
       "reach the loss.",
       check_no_trainable},
      {"const-as-param", S::warning, "a randomly initialised const is combined with the input on the way to the loss",
       "A `const` keeps its initial value for ever. A const drawn from a random initialiser and multiplied with "
       "(or added to) the data looks like a weight that was meant to learn. Declare it with `param`.",
       check_const_as_param},
      {"unused-param", S::warning, "a param does not reach the loss",
       "The loss does not depend on this param, so its gradient is identically zero and it never changes. Use it "
       "in the computation of the loss, or remove it.",
       check_unused_param},
      {"blocked-gradient", S::warning, "every path from a param to the loss passes an op without a gradient",
       "round, floor, ceil, sign, argmax, comparisons and stop_gradient have a zero (or no) gradient: a param whose "
       "every path to the loss passes one of them receives no gradient and never changes. Keep these ops out of "
       "the loss (use them in metrics and outputs), or use a smooth substitute (sigmoid instead of a comparison).",
       check_blocked_gradient},
      {"unstable-log", S::warning, "log of a value that can be exactly 0 in floating point",
       "sigmoid and softmax round to exactly 0 or 1 in f32 once their inputs are large, relu is 0 for every "
       "negative input and exp underflows to 0: log of such a value is -inf and its gradient is NaN or infinite, "
       "which stops learning. kiln rewrites the common forms into exact stable equivalents (log_sigmoid, "
       "log_softmax, bce_with_logits); otherwise add a small epsilon or compute on logits.",
       check_unstable_log},
      {"unstable-exp", S::warning, "exp of an unbounded value, or a hand-written softmax",
       "exp overflows to inf in f32 once its argument exceeds ~88.7; the loss and every gradient then become NaN. "
       "A hand-written softmax exp(z) / sum(exp(z)) is rewritten to softmax(z), which subtracts the maximum first; "
       "otherwise shift the argument (z - max(z)) or clip it.",
       check_unstable_exp},
      {"unstable-div", S::warning, "division by a value whose range includes 0",
       "Dividing by a value that can be 0 gives inf or NaN, and the gradient of a/b grows like 1/b^2 near 0. "
       "Add a small epsilon to the denominator, or clip it away from 0.",
       check_unstable_div},
      {"sqrt-at-zero", S::warning, "sqrt or rsqrt of a value that can be 0, on the way to the loss",
       "The derivative of sqrt(x) is 1 / (2 sqrt(x)): infinite at 0, so one zero element makes the gradient inf "
       "or NaN. Add a small epsilon inside the square root: sqrt(x + 1e-12).",
       check_sqrt_at_zero},
      {"vanishing-gradient", S::warning, "three or more saturating activations lie between a param and the loss",
       "Each sigmoid multiplies the gradient by at most 1/4 (tanh by at most 1, much less once saturated), so the "
       "first layers of a deep sigmoid/tanh stack receive a gradient orders of magnitude smaller than the last "
       "and barely move. Use relu-family activations (relu, leaky_relu, gelu, silu) with he_* initialisers.",
       check_vanishing_gradient},
      {"init-scale", S::warning, "an initialiser grows or shrinks the activations by more than 10x per layer",
       "A layer x @ w multiplies the activations' standard deviation by about sqrt(fan_in * var(w)). Far from 1, "
       "activations explode or vanish through the layers, and so do the gradients. Use glorot_* (tanh, sigmoid) or "
       "he_* (relu family) initialisers, which keep this factor near 1.",
       check_init_scale},
      {"symmetric-init", S::warning, "a weight matrix feeding hidden units is initialised to a constant",
       "When every weight of a layer starts equal, every hidden unit computes the same value and receives the "
       "same gradient, so the units stay identical for ever; zeros before relu get no gradient at all. Initialise "
       "weight matrices randomly (he_normal, glorot_uniform); zeros are fine for biases.",
       check_symmetric_init},
      {"batch-sum-loss", S::warning, "the minimised loss sums over the batch dimension",
       "Summing the per-example losses makes the gradient, and so the size of every update, grow with the batch "
       "size: a learning rate tuned for one batch size diverges at another. Use mean over the batch.",
       check_batch_sum_loss},
      {"lr-range", S::warning, "the learning rate is outside the usual range for its optimizer",
       "sgd usually works with learning rates from 1e-4 to 1; adam, adamw, rmsprop and adagrad from 1e-5 to 0.1. "
       "Far below, the weights move too little to learn in the planned epochs; far above, updates overshoot and "
       "the loss oscillates or becomes NaN.",
       check_lr_range},
      {"lr-decay", S::warning, "the schedule drives the learning rate below 1% of its start before half the steps",
       "Once the learning rate has decayed below 1% of its start, the weights barely move: the rest of the "
       "training is wasted. Decay more slowly (a rate closer to 1, a larger `every`, a cosine total equal to the "
       "planned steps).",
       check_lr_decay},
      {"linear-collapse", S::warning, "two matrix products follow each other with no non-linearity between them",
       "(x @ w1 + b1) @ w2 + b2 is a single linear map x @ (w1 @ w2) + ...: the extra layer adds parameters but no "
       "expressive power. Put an activation (relu, tanh, ...) between the layers.",
       check_linear_collapse},
      {"broadcast-mismatch", S::warning, "an elementwise op between [n] and [n, 1] silently produces [n, n]",
       "NumPy broadcasting turns an op between a column [n, 1] and a vector [n] into an [n, n] table that pairs "
       "every element with every other: the loss compares each prediction with every label. Reshape one operand "
       "so both have the same shape.",
       check_broadcast_mismatch},
      {"loss-activation-mismatch", S::warning, "probabilities fed to a loss that expects logits, or softmax trained with squared error",
       "bce_with_logits and softmax_cross_entropy apply the sigmoid/softmax themselves: feeding them probabilities "
       "squashes twice, so outputs stay near the middle and learning stalls. A softmax output trained with squared "
       "error learns slowly because the gradient vanishes as the softmax saturates; use softmax_cross_entropy on "
       "the logits.",
       check_loss_activation_mismatch},
  };
  return table;
}

const CheckInfo* find_check(std::string_view id) {
  for (auto& c : check_catalogue())
    if (c.id == id) return &c;
  return nullptr;
}

bool check_enabled(const CheckOptions& opts, std::string_view id) {
  std::string s(id);
  if (opts.enabled.count(s)) return true;
  return !opts.disabled.count(s);
}

std::vector<std::string> ignored_ids(std::string_view line) {
  std::vector<std::string> ids;
  // Only a comment can hold the marker: find '#' and then "kiln:" and "ignore".
  size_t hash = line.find('#');
  while (hash != std::string_view::npos) {
    std::string_view rest = line.substr(hash + 1);
    size_t i = rest.find_first_not_of(" \t");
    if (i != std::string_view::npos && rest.substr(i, 5) == "kiln:") {
      rest = rest.substr(i + 5);
      i = rest.find_first_not_of(" \t");
      if (i != std::string_view::npos && rest.substr(i, 6) == "ignore") {
        rest = rest.substr(i + 6);
        if (rest.empty() || rest[0] != '[') {
          ids.push_back("*");
        } else {
          size_t close = rest.find(']');
          std::string_view list = rest.substr(1, close == std::string_view::npos ? rest.size() - 1 : close - 1);
          std::string cur;
          for (char ch : list) {
            if (ch == ',') { if (!cur.empty()) ids.push_back(cur); cur.clear(); }
            else if (!std::isspace(static_cast<unsigned char>(ch))) cur += ch;
          }
          if (!cur.empty()) ids.push_back(cur);
        }
      }
    }
    hash = line.find('#', hash + 1);
  }
  return ids;
}

Diagnostic* CheckContext::report(SourceRange loc, std::string message) {
  if (opts.source && loc.valid() && loc.line <= opts.source->line_count()) {
    auto ids = ignored_ids(opts.source->line_text(loc.line));
    for (auto& i : ids)
      if (i == "*" || i == current->id) return nullptr;
  }
  Severity s = current->severity;
  if (opts.werror && s == Severity::warning) s = Severity::error;
  ++reported;
  return &diags.report(s, std::string(current->id), loc, std::move(message));
}

bool run_static_checks(const Graph& g, Diagnostics& diags, const CheckOptions& opts) {
  size_t errors_before = diags.error_count();
  CheckContext ctx(g, diags, opts);
  for (auto& c : check_catalogue()) {
    if (!check_enabled(opts, c.id)) continue;
    ctx.current = &c;
    c.run(ctx);
  }
  return diags.error_count() == errors_before;
}

}  // namespace kiln
