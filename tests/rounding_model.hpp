// The f32 rounding model of one evaluation of a graph, for the one-step JIT-vs-interpreter
// tests: per node and element, the reference value (f64) and a tolerance that an f32
// evaluation in any summation order stays within (tests/README.md, "The rounding model").
#pragma once
#include "ir/graph.hpp"
#include "ir/interpreter.hpp"
#include <optional>
#include <string>
#include <vector>

namespace kiln::test {

// Every f32 result is its exact value times (1 + delta), |delta| <= k u (u = 2^-24; k
// counts an op's roundings, the vectorised transcendentals' 2 ulp as 4u), and a sum of n
// terms adds one rounding per partial sum. Three channels per element, first order:
//   A  the worst case: every error at its bound, added with |coefficients| (a sum of n
//      terms charges (n-1) u sum|t|: Higham's gamma_{n-1}, any order);
//   V  the rounding errors as independent mean-zero variables: the sum of their squared
//      coefficients times u^2 (a sum of n terms: u^2 n (sum t^2 + value^2), its partial
//      sums in data order a drift of the value plus a bridge of the terms' size), so that
//      by Hoeffding's inequality |error| > kLambda sqrt(V) has probability below
//      2 exp(-kLambda^2 / 2) = 4e-22;
//   D  discrete differences, added with |coefficients|: a comparison, floor or argmax whose
//      operand is within its tolerance of the threshold may come out either way (a relu
//      gate that opens in one evaluation and not in the other), taken at its full size.
// The tolerance is min(A, kLambda sqrt(V)) + D. Both bounds hold whatever the summation
// order, vector width or FMA contraction (each only removes roundings), so a tolerance
// derived here holds on AVX2 and AVX-512 hosts alike.
inline constexpr double kLambda = 10;

struct RoundingModel {
  std::vector<Tensor> value;                  // the graph evaluated in f64, its f32 literals rounded to float
  std::vector<std::vector<double>> A, V, D;   // per node, per element; empty: all zero
  double u = 0x1p-24;
  double tolerance(NodeId id, size_t i) const;
  Tensor tolerance(NodeId id) const;
};

// The model of evaluating `g` (training graphs included: grads and update values are nodes)
// on `leaves`, or nullopt with a message (a missing leaf, an op the model does not know).
std::optional<RoundingModel> rounding_model(const Graph& g, const ValueMap& leaves, std::string& err);

// |got - want| / tolerance at its worst over a tensor (0 where both are equal, infinity
// where they differ with no tolerance), and the element where it is.
struct Agreement {
  double worst = 0;  // <= 1: within the tolerance everywhere
  size_t at = 0;
  double got = 0, want = 0, tol = 0;
};
Agreement agreement(const RoundingModel& m, NodeId id, const Tensor& got);

}  // namespace kiln::test
