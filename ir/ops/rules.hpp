// Shape and type rules shared by several op-table rows (each row names its rule).
#pragma once
#include "ir/op.hpp"
#include <fmt/format.h>
#include <vector>

namespace kiln::rules {

inline std::string ty(const ValueType& v) { return type_str(v.dtype, v.shape); }

// Leaves: the type comes from the declaration; the rule only checks arity.
bool leaf(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Elementwise unary on floats: the output has the operand's type.
bool unary_float(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Unary on any type (stop_gradient): same type.
bool unary_any(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Elementwise n-ary on floats of one element type, NumPy broadcasting.
bool broadcast_float(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Comparisons: operands of one element type (i32 allowed), result 0/1 as float (f32 for i32).
bool compare(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// where(cond, a, b): cond any type, a and b floats; broadcast of all three.
bool where(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// Reductions over attrs.axes (empty = all) with keepdims.
bool reduce(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// argmax over one axis: i32 result without that axis.
bool argmax(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);
// softmax / log_softmax over one axis: same type.
bool along_axis(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err);

}  // namespace kiln::rules
