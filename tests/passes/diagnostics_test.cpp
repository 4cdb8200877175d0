// Golden tests of the static checks ("[diag]"): every check fires on its broken examples
// with the expected id, location and message, and stays silent on near-miss variants
// (the fixed model, safe look-alikes) and on every model in examples/.
#include "tests/passes/diag_test_util.hpp"
#include <algorithm>
#include <filesystem>

using namespace kiln;
using namespace kiln::diagtest;

namespace {

struct Expected {
  std::string id;
  uint32_t line, col;
  std::string message;
};
struct Golden {
  std::string file;
  std::vector<Expected> diags;
};

// The complete static output of each broken example (ids, ranges, messages), in order.
const std::vector<Golden> kGolden = {
    {"examples/broken/batch-sum-loss.model", {
        {"batch-sum-loss", 8, 8, "the loss sums over the batch dimension (32 examples): the gradient, and the size of every update, grow with the batch size"},
    }},
    {"examples/broken/blocked-gradient.model", {
        {"blocked-gradient", 8, 8, "every path from param 'w' to the loss passes through round, which has no gradient: 'w' will never change"},
        {"blocked-gradient", 8, 8, "every path from param 'b' to the loss passes through round, which has no gradient: 'b' will never change"},
    }},
    {"examples/broken/broadcast-mismatch.model", {
        {"broadcast-mismatch", 9, 13, "pred f32[32,1] and y f32[32] broadcast to f32[32,32]: every element of one is paired with every element of the other"},
    }},
    {"examples/broken/const-as-param.model", {
        {"const-as-param", 6, 1, "'w' is a const drawn from glorot_uniform: it multiplies the data on the way to the loss but will never change; did you mean 'param'?"},
    }},
    {"examples/broken/const_weights.model", {
        {"no-trainable", 6, 18, "'loss' depends on no param: training would never update anything"},
        {"const-as-param", 3, 1, "'weights' is a const drawn from normal(0, 1): it multiplies the data on the way to the loss but will never change; did you mean 'param'?"},
        {"const-as-param", 4, 1, "'bias' is a const drawn from normal(0, 1): it is added to the data on the way to the loss but will never change; did you mean 'param'?"},
    }},
    {"examples/broken/init-scale.model", {
        {"init-scale", 6, 1, "'w1' = normal(0, 1) on a 512-wide input multiplies the activations' standard deviation by about 23x per layer: activations and gradients explode through the layers"},
    }},
    {"examples/broken/linear-collapse.model", {
        {"linear-collapse", 11, 10, "two matrix products follow each other with no non-linearity between them: the stack is one linear map"},
    }},
    {"examples/broken/loss-activation-mismatch-mse.model", {
        {"loss-activation-mismatch", 9, 13, "a softmax output trained with squared error: its gradient vanishes as the softmax saturates, so learning is slow (and can stall on confident mistakes)"},
    }},
    {"examples/broken/loss-activation-mismatch.model", {
        {"loss-activation-mismatch", 9, 13, "bce_with_logits expects logits, but gets probabilities from sigmoid(...): the squashing is applied twice, outputs stay within (0.27, 0.73) and learning stalls"},
    }},
    {"examples/broken/lr-decay.model", {
        {"lr-decay", 12, 3, "the schedule drives the learning rate below 1% of its start (0.1 -> 0.001) after 7 steps, before half of the 100 planned steps: learning stalls early"},
    }},
    {"examples/broken/lr-range.model", {
        {"lr-range", 8, 24, "learning rate 1 is above the usual range for adam (1e-05 .. 0.1): updates overshoot, the loss oscillates or grows and can become NaN"},
    }},
    {"examples/broken/no-trainable.model", {
        {"no-trainable", 8, 18, "'loss' depends on no param: training would never update anything"},
    }},
    {"examples/broken/sigmoid_stack.model", {
        {"unstable-log", 10, 18, "log of a value that can be exactly 0"},
        {"vanishing-gradient", 9, 21, "the gradient reaching 'w1' passes through 3 saturating activations (sigmoid) and arrives about 447x smaller than it left the loss"},
    }},
    {"examples/broken/sqrt-at-zero.model", {
        {"sqrt-at-zero", 9, 8, "sqrt of a value that can be 0: its gradient 1 / (2 sqrt(x)) is infinite there"},
    }},
    {"examples/broken/symmetric-init.model", {
        {"symmetric-init", 6, 1, "weight matrix 'w1' starts with every element equal (zeros): every hidden unit gets the same gradient and the units stay identical"},
    }},
    {"examples/broken/unstable-div.model", {
        {"unstable-div", 8, 13, "division by a value that can be 0: the result and its gradient become inf or NaN"},
    }},
    {"examples/broken/unstable-exp-softmax.model", {
        {"unstable-exp", 10, 9, "hand-written softmax: exp overflows to inf in f32 once logits exceeds 88.7, and the sum can underflow to 0"},
    }},
    {"examples/broken/unstable-exp.model", {
        {"unstable-exp", 9, 13, "exp of a value that can exceed 88.7: it overflows to inf in f32"},
    }},
    {"examples/broken/unstable-log-relu.model", {
        {"unstable-log", 9, 24, "log of a value that can be exactly 0"},
    }},
    {"examples/broken/unstable-log.model", {
        {"unstable-log", 9, 27, "log of a value that can be exactly 0"},
    }},
    {"examples/broken/unused-param.model", {
        {"unused-param", 8, 1, "param 'w_extra' does not reach the loss: its gradient is identically zero and it will never change"},
    }},
    {"examples/broken/vanishing-gradient.model", {
        {"vanishing-gradient", 14, 6, "the gradient reaching 'w1' passes through 3 saturating activations (sigmoid) and arrives about 260x smaller than it left the loss"},
    }},
};

}  // namespace

TEST_CASE("every static check fires on its broken examples with the expected id, range and message", "[diag]") {
  for (const Golden& gold : kGolden) {
    SECTION(gold.file) {
      Checked c = check_file(gold.file);
      INFO(c.diags->render_all());
      const auto& all = c.diags->all();
      REQUIRE(all.size() == gold.diags.size());
      for (size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].id == gold.diags[i].id);
        CHECK(all[i].loc.line == gold.diags[i].line);
        CHECK(all[i].loc.col == gold.diags[i].col);
        CHECK(all[i].message == gold.diags[i].message);
        const CheckInfo* info = find_check(all[i].id);
        REQUIRE(info);
        CHECK(all[i].severity == info->severity);
        CHECK_FALSE(all[i].fixits.empty());
      }
      bool has_error = std::any_of(all.begin(), all.end(), [](auto& d) { return d.severity == Severity::error; });
      CHECK(c.ok == !has_error);
    }
  }
}

TEST_CASE("every check in the catalogue has a broken example that fires it and a docs page", "[diag]") {
  namespace fs = std::filesystem;
  std::string root = KILN_SOURCE_DIR;
  for (const CheckInfo& info : check_catalogue()) {
    INFO(info.id);
    CHECK(fs::exists(root + "/docs/checks/" + std::string(info.id) + ".md"));
    CHECK_FALSE(info.summary.empty());
    CHECK(info.help.size() > 40);
    bool fired = false;
    for (const Golden& gold : kGolden)
      for (const Expected& e : gold.diags) fired = fired || e.id == info.id;
    CHECK(fired);
    CHECK(fs::exists(root + "/examples/broken/" + std::string(info.id) + ".model"));
  }
  CHECK(check_catalogue().size() == 17);
  CHECK(find_check("no-trainable")->severity == Severity::error);
  CHECK(find_check("nonsense") == nullptr);
}

TEST_CASE("sigmoid_stack reproduces the output example of DIAGNOSTICS.md", "[diag]") {
  Checked c = check_file("examples/broken/sigmoid_stack.model");
  const Diagnostic* d = c.first("unstable-log");
  REQUIRE(d);
  CHECK(c.count("unstable-log") == 1);  // one warning for the whole hand-written cross-entropy
  std::string text = c.diags->render(*d);
  CHECK_THAT(text, Catch::Contains("warning: log of a value that can be exactly 0 [unstable-log]\n"
                                   "   10 | loss = -mean(y * log(p) + (1 - y) * log(1 - p))"));
  CHECK_THAT(text, Catch::Contains("      |                  ^~~~~~\n"
                                   "note: p = sigmoid(...) (line 9) rounds to 0 or 1 in f32 once |z| > 17\n"
                                   "fix-it: rewritten as bce_with_logits(z, y); pass --no-rewrite to keep the "
                                   "expression as written\n"));
  // The fix-it carries the concrete replacement of the whole sum.
  REQUIRE(d->fixits.size() == 1);
  CHECK(d->fixits[0].replacement == "-bce_with_logits(sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3, y)");
  CHECK(d->fixits[0].loc.line == 10);
  CHECK(d->fixits[0].loc.col == 14);
  // Without the rewrite the fix-it says what to write.
  CheckOptions o;
  o.rewrite = false;
  Checked k = check_file("examples/broken/sigmoid_stack.model", o);
  REQUIRE(k.first("unstable-log"));
  CHECK(k.first("unstable-log")->fixits[0].message == "write bce_with_logits(z, y) instead");
}

TEST_CASE("fix-its carry exact replacement ranges", "[diag]") {
  SECTION("const -> param") {
    Checked c = check_file("examples/broken/const-as-param.model");
    const Diagnostic* d = c.first("const-as-param");
    REQUIRE(d);
    REQUIRE(d->fixits.size() == 1);
    CHECK(d->fixits[0].replacement == "param");
    CHECK(d->fixits[0].loc == SourceRange{6, 1, 6, 6});
    REQUIRE(d->notes.size() == 1);
    CHECK(d->notes[0].message == "used here: x @ w");
    CHECK(d->notes[0].loc.line == 8);
  }
  SECTION("sum -> mean") {
    Checked c = check_file("examples/broken/batch-sum-loss.model");
    const Diagnostic* d = c.first("batch-sum-loss");
    REQUIRE(d);
    CHECK(d->fixits[0].replacement == "mean");
    CHECK(d->fixits[0].loc == SourceRange{8, 8, 8, 11});
  }
  SECTION("initialiser") {
    Checked c = check_file("examples/broken/init-scale.model");
    const Diagnostic* d = c.first("init-scale");
    REQUIRE(d);
    auto text_at = [](const Checked& k, const SourceRange& r) {
      return std::string(k.file->line_text(r.line).substr(r.col - 1, r.end_col - r.col));
    };
    CHECK(d->fixits[0].replacement == "he_normal");
    CHECK(d->fixits[0].loc.line == 6);
    CHECK(text_at(c, d->fixits[0].loc) == "normal(0, 1)");
    Checked s = check_file("examples/broken/symmetric-init.model");
    REQUIRE(s.first("symmetric-init"));
    CHECK(s.first("symmetric-init")->fixits[0].replacement == "he_normal");
    CHECK(text_at(s, s.first("symmetric-init")->fixits[0].loc) == "zeros");
  }
  SECTION("notes name the related definitions") {
    Checked c = check_file("examples/broken/const_weights.model");
    const Diagnostic* d = c.first("no-trainable");
    REQUIRE(d);
    std::vector<std::string> notes;
    for (auto& n : d->notes) notes.push_back(n.message);
    CHECK(notes == std::vector<std::string>{"it depends on input 'x', which comes from the data",
                                            "it depends on input 'y', which comes from the data",
                                            "it depends on const 'weights', which is never updated",
                                            "it depends on const 'bias', which is never updated"});
    Checked v = check_file("examples/broken/sigmoid_stack.model");
    const Diagnostic* vg = v.first("vanishing-gradient");
    REQUIRE(vg);
    REQUIRE(vg->notes.size() == 4);  // three sigmoids and w1's declaration
    CHECK(vg->notes[3].loc.line == 3);
  }
}

TEST_CASE("static checks are silent on every model in examples/", "[diag]") {
  namespace fs = std::filesystem;
  size_t n = 0;
  for (auto& e : fs::directory_iterator(std::string(KILN_SOURCE_DIR) + "/examples")) {
    if (e.path().extension() != ".model") continue;
    std::string rel = "examples/" + e.path().filename().string();
    SECTION(rel) {
      Checked c = check_file(rel);
      INFO(c.diags->render_all());
      CHECK(c.diags->all().empty());
      CHECK(c.ok);
    }
    ++n;
  }
  CHECK(n >= 5);
}

namespace {
// A model around a loss expression and declarations: x [batch, 4], y [batch, 1], w, b.
std::string model(const std::string& body, const std::string& train = "optimizer = adam(lr = 0.01)") {
  return "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w : f32[4, 1] = glorot_uniform\n"
         "param b : f32[1] = zeros\n" + body + "\ntrain { minimize loss; " + train + " }\n";
}
}  // namespace

TEST_CASE("near misses: the fixed models and safe look-alikes stay silent", "[diag]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // no-trainable / const-as-param: fixed, and a const that is not a random weight
      {"fixed no-trainable", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w : f32[4, 1] = zeros\n"
                             "loss = mean(squared_error(x @ w, y))\ntrain { minimize loss; optimizer = sgd(lr = 0.1) }\n"},
      {"fixed const as literal mask", model("const mask : f32[4] = [1, 0, 1, 0]\nloss = mean(squared_error((x * mask) @ w + b, y))")},
      {"random const that never meets the data", model("const noise : f32[1] = normal(0, 1)\nloss = mean(squared_error(x @ w + b, y))\noutput n = noise * 2")},
      // unused-param: every param reaches the loss; a param used twice
      {"params all used", model("p = x @ w + b\nloss = mean(squared_error(p, y)) + 0.01 * mean(square(w))")},
      // blocked-gradient: round only in a metric and an output; where on a comparison
      {"round in metric", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w : f32[4, 1] = glorot_uniform\n"
                          "param b : f32[1] = zeros\nz = x @ w + b\nloss = mean(bce_with_logits(z, y))\n"
                          "output label = round(sigmoid(z))\n"
                          "train { minimize loss; optimizer = adam(lr = 0.01); metric acc = mean(round(sigmoid(z)) == y) }\n"},
      {"where on a comparison", model("z = x @ w + b\nloss = mean(where(z > 0, square(z - y), abs(z - y)))")},
      // unstable-log: the stable forms and epsilon-guarded logs
      {"log_sigmoid", model("z = x @ w + b\nloss = -mean(y * log_sigmoid(z) + (1 - y) * log_sigmoid(-z))")},
      {"bce_with_logits", model("loss = mean(bce_with_logits(x @ w + b, y))")},
      {"log of sigmoid plus epsilon", model("p = sigmoid(x @ w + b)\nloss = -mean(y * log(p + 1e-6) + (1 - y) * log(1 - p + 1e-6))")},
      {"log of softplus plus one", model("loss = mean(log(1 + exp(-abs(x @ w + b))) + square(y))")},
      {"log of square plus one", model("loss = mean(log(square(x @ w + b - y) + 1))")},
      // unstable-exp: exp of a bounded value
      {"exp of tanh", model("loss = mean(squared_error(exp(tanh(x @ w + b)), y))")},
      {"exp of negative softplus", model("loss = mean(squared_error(exp(-softplus(x @ w + b)), y))")},
      // unstable-div: a divisor bounded away from 0
      {"div by constant", model("loss = mean(squared_error(x @ w + b, y)) / 2")},
      {"div by square plus one", model("loss = mean(abs(x @ w + b - y) / (square(y) + 1))")},
      {"div only in a metric", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w : f32[4, 1] = glorot_uniform\n"
                               "param b : f32[1] = zeros\nz = x @ w + b\nloss = mean(bce_with_logits(z, y))\n"
                               "train { minimize loss; optimizer = adam(lr = 0.01); metric recall = sum(round(sigmoid(z)) * y) / sum(y) }\n"},
      // sqrt-at-zero: epsilon inside; sqrt in a metric only
      {"sqrt with epsilon", model("loss = sqrt(mean(squared_error(x @ w + b, y)) + 1e-8)")},
      {"sqrt of exp", model("loss = mean(squared_error(sqrt(exp(tanh(x @ w + b))), y))")},
      // vanishing-gradient: two sigmoids; a relu stack
      {"two sigmoids", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w1 : f32[4, 8] = glorot_uniform\n"
                       "param w2 : f32[8, 8] = glorot_uniform\nparam w3 : f32[8, 1] = glorot_uniform\n"
                       "h = sigmoid(sigmoid(x @ w1) @ w2)\nloss = mean(bce_with_logits(h @ w3, y))\n"
                       "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
      {"relu stack", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w1 : f32[4, 8] = he_normal\n"
                     "param w2 : f32[8, 8] = he_normal\nparam w3 : f32[8, 8] = he_normal\nparam w4 : f32[8, 1] = glorot_uniform\n"
                     "h = relu(relu(relu(x @ w1) @ w2) @ w3)\nloss = mean(bce_with_logits(h @ w4, y))\n"
                     "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
      // init-scale: small normal on a wide layer; he_normal
      {"small normal on a wide layer", "input x : f32[batch, 512]\ninput y : f32[batch, 1]\nparam w1 : f32[512, 8] = normal(0, 0.05)\n"
                                       "param w2 : f32[8, 1] = he_normal\nloss = mean(bce_with_logits(relu(x @ w1) @ w2, y))\n"
                                       "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
      // symmetric-init: zeros on the output layer of a linear model and on biases
      {"zeros on a linear model", model("loss = mean(squared_error(x @ w + b, y))", "optimizer = sgd(lr = 0.05)")},
      {"zeros on the last layer", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w1 : f32[4, 8] = he_normal\n"
                                  "param b1 : f32[8] = zeros\nparam w2 : f32[8, 1] = zeros\n"
                                  "loss = mean(bce_with_logits(relu(x @ w1 + b1) @ w2, y))\n"
                                  "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
      // batch-sum-loss: mean over the batch, sum over features, sum divided by the batch
      {"sum over features then mean", model("loss = mean(sum(square(x @ w + b - y) * x, axis=1))")},
      {"sum divided by batch", model("loss = sum(squared_error(x @ w + b, y)) / 32")},
      // lr-range: the edges of the usual ranges
      {"sgd lr 1", model("loss = mean(squared_error(x @ w + b, y))", "optimizer = sgd(lr = 1)")},
      {"adam lr 1e-5", model("loss = mean(squared_error(x @ w + b, y))", "optimizer = adam(lr = 0.00001)")},
      // lr-decay: slow decays
      {"slow exponential decay", model("loss = mean(squared_error(x @ w + b, y))",
                                       "optimizer = sgd(lr = 0.1); schedule = exponential_decay(rate = 0.96, every = 100); epochs = 100")},
      {"cosine over the run", model("loss = mean(squared_error(x @ w + b, y))",
                                    "optimizer = sgd(lr = 0.1); schedule = cosine(total = 100); epochs = 100")},
      // linear-collapse: an activation between the layers; a product of two weights only
      {"relu between layers", "input x : f32[batch, 4]\ninput y : f32[batch, 1]\nparam w1 : f32[4, 8] = he_normal\n"
                              "param b1 : f32[8] = zeros\nparam w2 : f32[8, 1] = glorot_uniform\n"
                              "h = relu(x @ w1 + b1)\nloss = mean(bce_with_logits(h @ w2, y))\n"
                              "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
      // broadcast-mismatch: matching shapes; a bias broadcast
      {"matching label shape", model("loss = mean(squared_error(x @ w + b, y))")},
      {"row broadcast", model("param s : f32[4] = ones\nloss = mean(squared_error((x * s) @ w + b, y))")},
      // loss-activation-mismatch: logits into the loss; sigmoid probabilities into bce
      {"logits into bce_with_logits", model("loss = mean(bce_with_logits(x @ w + b, y))")},
      {"softmax cross-entropy on logits", "input x : f32[batch, 4]\ninput labels : i32[batch]\nparam w : f32[4, 3] = glorot_uniform\n"
                                          "loss = mean(softmax_cross_entropy(x @ w, labels))\noutput p = softmax(x @ w)\n"
                                          "train { minimize loss; optimizer = adam(lr = 0.01) }\n"},
  };
  for (auto& [name, text] : cases) {
    SECTION(name) {
      Checked c = check_text(name + ".model", text);
      INFO(text);
      INFO(c.diags->render_all());
      CHECK(c.diags->all().empty());
    }
  }
}

TEST_CASE("options: -Wno-<id>, -W<id>, -Werror and inline ignores", "[diag]") {
  const std::string text = read_source("examples/broken/sigmoid_stack.model");
  SECTION("-Wno disables a check; -W wins over -Wno") {
    CheckOptions o;
    o.disabled = {"unstable-log"};
    Checked c = check_text("s.model", text, o);
    CHECK(c.count("unstable-log") == 0);
    CHECK(c.count("vanishing-gradient") == 1);
    o.enabled = {"unstable-log"};
    Checked k = check_text("s.model", text, o);
    CHECK(k.count("unstable-log") == 1);
  }
  SECTION("-Werror turns warnings into errors") {
    CheckOptions o;
    Checked plain = check_text("s.model", text, o);
    CHECK(plain.ok);
    o.werror = true;
    Checked c = check_text("s.model", text, o);
    CHECK_FALSE(c.ok);
    REQUIRE(c.first("unstable-log"));
    CHECK(c.first("unstable-log")->severity == Severity::error);
  }
  SECTION("an ignore comment on the offending line silences that id only") {
    std::string t = text;
    size_t eol = t.find('\n', t.find("loss = -mean"));
    size_t hash = t.rfind('#', eol);
    t = t.substr(0, hash) + "# kiln: ignore[unstable-log]" + t.substr(eol);
    Checked c = check_text("s.model", t);
    CHECK(c.count("unstable-log") == 0);
    CHECK(c.count("vanishing-gradient") == 1);
    std::string u = text.substr(0, hash) + "# kiln: ignore[sqrt-at-zero]" + text.substr(eol);
    CHECK(check_text("s.model", u).count("unstable-log") == 1);
  }
  SECTION("ignore comment parsing") {
    CHECK(ignored_ids("x = 1  # kiln: ignore[unstable-log, unstable-div]") ==
          std::vector<std::string>{"unstable-log", "unstable-div"});
    CHECK(ignored_ids("x = 1  # kiln: ignore") == std::vector<std::string>{"*"});
    CHECK(ignored_ids("x = 1  # a comment about kiln").empty());
    CHECK(ignored_ids("x = 1").empty());
  }
  SECTION("an error stops: no-trainable makes run_static_checks fail") {
    Checked c = check_file("examples/broken/no-trainable.model");
    CHECK_FALSE(c.ok);
    CHECK(c.diags->has_errors());
  }
}

TEST_CASE("lr-decay counts steps from the number of rows when known", "[diag]") {
  // exponential_decay(0.9, every = 10): below 1% after 10 * ln(0.01) / ln(0.9) = 437.1 steps.
  std::string text = model("loss = mean(squared_error(x @ w + b, y))",
                           "optimizer = sgd(lr = 0.1); schedule = exponential_decay(rate = 0.9, every = 10); epochs = 20");
  CHECK(check_text("d.model", text).count("lr-decay") == 0);  // at least 20 steps: 437 > 10
  CheckOptions o;
  o.rows = 3200;  // 100 batches of 32 a epoch: 2000 steps, half = 1000 > 437
  Checked c = check_text("d.model", text, o);
  REQUIRE(c.count("lr-decay") == 1);
  CHECK(c.first("lr-decay")->message ==
        "the schedule drives the learning rate below 1% of its start (0.1 -> 0.001) after 438 steps, before half of "
        "the 2000 planned steps: learning stalls early");
  o.rows = 1280;  // 40 batches: 800 steps, half = 400 < 437
  CHECK(check_text("d.model", text, o).count("lr-decay") == 0);
}

TEST_CASE("unstable-log names the saturating op and rewrites each stable form", "[diag]") {
  struct Case {
    std::string body, after, note;
  };
  const std::vector<Case> cases = {
      {"z = x @ w + b\nloss = -mean(log(sigmoid(z)))", "rewritten as log_sigmoid(z); pass --no-rewrite to keep the expression as written",
       "sigmoid(...) (line 6) rounds to 0 in f32 once z < -89"},
      {"z = x @ w + b\np = sigmoid(z)\nloss = -mean(log(1 - p))", "rewritten as log_sigmoid(-z); pass --no-rewrite to keep the expression as written",
       "p = sigmoid(...) (line 6) rounds to 1 in f32 once z > 17, so 1 - p is 0"},
      {"z = x @ w + b\nloss = mean(bce(sigmoid(z), y))", "rewritten as bce_with_logits(z, y); pass --no-rewrite to keep the expression as written",
       "sigmoid(...) (line 6) rounds to 0 or 1 in f32 once |z| > 17"},
      {"z = x @ w + b\nloss = -mean(log(exp(z)))", "add a small epsilon: log(exp(z) + 1e-7)",
       "exp(...) (line 6) underflows to 0 in f32 once its argument is below -104"},
  };
  for (auto& k : cases) {
    SECTION(k.body) {
      Checked c = check_text("u.model", model(k.body));
      INFO(c.diags->render_all());
      const Diagnostic* d = c.first("unstable-log");
      REQUIRE(d);
      REQUIRE(d->notes.size() == 1);
      CHECK(d->notes[0].message == k.note);
      REQUIRE(d->fixits.size() == 1);
      CHECK(d->fixits[0].message == k.after);
    }
  }
}
