// Stabilising rewrites: unstable forms (log of a sigmoid or softmax, a hand-written binary
// cross-entropy, bce on a sigmoid, a hand-written softmax) into their exact stable equivalents.
#pragma once
#include "passes/pass.hpp"
#include <memory>
#include <string>
#include <vector>

namespace kiln {

enum class RewriteKind : uint8_t {
  log_sigmoid,            // log(sigmoid(z))            -> log_sigmoid(z)
  log_one_minus_sigmoid,  // log(1 - sigmoid(z))        -> log_sigmoid(-z)
  log_softmax,            // log(softmax(z, axis))      -> log_softmax(z, axis)
  hand_bce,               // y*log(p) + (1-y)*log(1-p), p = sigmoid(z) -> -bce_with_logits(z, y)
                          // (and the negated forms -y*log(p) - (1-y)*log(1-p) -> bce_with_logits(z, y))
  bce_sigmoid,            // bce(sigmoid(z), y)         -> bce_with_logits(z, y)
  softmax,                // exp(z) / sum(exp(z), axis, keepdims) -> softmax(z, axis)
};

// One match of an unstable form in a graph.
struct StableRewrite {
  RewriteKind kind;
  NodeId root;                 // the node whose value the rewrite replaces
  NodeId z = -1, y = -1;       // the logits (and labels)
  NodeId activation = -1;      // the sigmoid/softmax/exp node that saturates
  int64_t axis = -1;           // softmax axis
  bool negate = false;         // hand_bce: the root is +bce (negated form) rather than -bce
  std::vector<NodeId> covered; // the log/exp/div nodes the rewrite removes (first: where to report)
  // The stable form with placeholders where the user bound no name, as in messages:
  // "bce_with_logits(z, y)", "log_sigmoid(-z)", "softmax(z)".
  std::string after;
};

// Every rewrite that applies, in node order; a node covered by a hand-written BCE is not
// matched again on its own.
std::vector<StableRewrite> find_stable_rewrites(const Graph& g);

struct StabilizeOptions {
  bool report = true;  // one note per rewrite (id of the check it fixes, severity note)
};

// Applies every rewrite, then renumbers and drops the replaced nodes. Returns true when
// the graph changed. Each rewrite is reported as a note: "rewrote <before> as <after>".
bool stabilize(Graph& g, Diagnostics& d, const StabilizeOptions& opts = {});
std::unique_ptr<Pass> make_stabilize_pass(StabilizeOptions opts = {});

}  // namespace kiln
