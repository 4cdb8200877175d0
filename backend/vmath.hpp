// Vectorisable f32 math (exp, log, log1p, expm1, tanh) built from arithmetic, selects and bit
// casts, so that loops calling them vectorise (a libm call would keep a loop scalar).
// For f64 (and scalar or vector alike) they fall back to the LLVM intrinsics / libm.
#pragma once
#include "backend/emit.hpp"

namespace kiln::backend {

llvm::Value* math_exp(Builder& b, llvm::Value* x);
llvm::Value* math_log(Builder& b, llvm::Value* x);
llvm::Value* math_log1p(Builder& b, llvm::Value* x);
llvm::Value* math_expm1(Builder& b, llvm::Value* x);
llvm::Value* math_tanh(Builder& b, llvm::Value* x);
// A libm function of one argument (name of the double version; "f" appended for float).
llvm::Value* libm_call(Builder& b, std::string_view name, llvm::Value* x);

}  // namespace kiln::backend
