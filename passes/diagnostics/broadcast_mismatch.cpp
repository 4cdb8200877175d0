// Check broadcast-mismatch: an elementwise op whose operands have the same number of
// elements but broadcast against each other into more ([n] with [n, 1] -> [n, n]).
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {
bool elementwise_binary(Op op) {
  switch (op) {
    case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::pow: case Op::minimum: case Op::maximum:
    case Op::lt: case Op::le: case Op::gt: case Op::ge: case Op::eq: case Op::ne:
    case Op::bce: case Op::bce_with_logits: case Op::squared_error: case Op::huber: return true;
    default: return false;
  }
}
std::string dims(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

void check_broadcast_mismatch(CheckContext& c) {
  const Graph& g = c.g;
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!elementwise_binary(n.op) || n.in.size() != 2) continue;
    const Node &a = g[n.in[0]], &b = g[n.in[1]];
    int64_t na = num_elements(a.shape), nb = num_elements(b.shape);
    if (a.shape.empty() || b.shape.empty() || na != nb || num_elements(n.shape) <= na) continue;
    Diagnostic* d = c.report(n.loc, fmt::format("{} {} and {} {} broadcast to {}: every element of one is paired with "
                                                "every element of the other",
                                                c.text(n.in[0]), type_str(a.dtype, a.shape), c.text(n.in[1]),
                                                type_str(b.dtype, b.shape), type_str(n.dtype, n.shape)));
    if (!d) continue;
    // Reshape the operand of lower rank (else the second) to the other's shape.
    int k = a.shape.size() < b.shape.size() ? 0 : 1;
    const Node& from = g[n.in[k]];
    const Node& to = g[n.in[1 - k]];
    std::string repl = fmt::format("reshape({}, {})", c.text(n.in[k]), dims(to.shape));
    d->notes.push_back({fmt::format("{} has shape {}", c.text(n.in[k]), dims(from.shape)), from.loc});
    d->fixits.push_back({fmt::format("make the shapes agree: {}", repl), from.op == Op::input ? SourceRange{} : from.loc, repl});
  }
}

}  // namespace kiln
