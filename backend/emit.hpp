// IR-building helpers shared by the kernel generators: element types, counted loops
// (with loop-carried values), loop nests and strided addressing.
#pragma once
#include "ir/types.hpp"
#include <functional>
#include <llvm/IR/IRBuilder.h>
#include <vector>

namespace kiln::backend {

using Builder = llvm::IRBuilder<>;
using Values = std::vector<llvm::Value*>;

llvm::Type* elem_type(llvm::LLVMContext& c, DType t);
inline llvm::Value* i64(Builder& b, int64_t v) { return b.getInt64(static_cast<uint64_t>(v)); }

// for (i = start; i < end; i += step) { carried = body(i, carried); } -- returns the final
// carried values. Emits nothing (returns `carried`) when the loop runs zero times. The
// loop is emitted rotated (test at the bottom), the form LLVM's vectoriser expects.
using LoopBody = std::function<Values(llvm::Value* i, const Values& carried)>;
Values emit_for(Builder& b, int64_t start, int64_t end, int64_t step, Values carried, const LoopBody& body,
                const char* name = "i");
void emit_for(Builder& b, int64_t n, const std::function<void(llvm::Value*)>& body, const char* name = "i");
// Pins how LLVM vectorises the loop emit_for just closed (the insert point is its exit
// block): `width` lanes, `interleave` vector accumulators. For reductions with `reassoc`,
// this makes the summation order a function of the trip count only (not of the loop
// body's cost, which fusion changes).
void pin_vectorization(Builder& b, int width, int interleave, bool predicate = false);
// The summation order of every sum the JIT carries through a loop (reductions, and the
// accumulators of fused loops), a function of the row length `n`, the element type and
// the host's vector width only, so that fused and unfused code give the same bits: rows
// are vectorised (pinned) with the host's full vector, `interleave` vector accumulators
// for rows of at least two vectors, and rows shorter than that as one or two masked
// vectors (`predicate`: no scalar tail loop, whose serial adds cost a short row, e.g. a
// monitor's norm of a small param, more than the rest of its loop). Hosts without masked
// vector loads and stores (lanes < 8) add short rows in order (vec false).
struct SumOrder {
  bool vec = false;
  int width = 1, interleave = 1;
  bool predicate = false;
};
SumOrder sum_order(int64_t n, bool f64, int lanes);
// A nest of loops over dims (outermost first); body gets one index per dim.
void emit_nest(Builder& b, const std::vector<int64_t>& dims, const std::function<void(const Values&)>& body);

// sum_d idx[d] * strides[d] (strides of 0 are skipped), as i64.
llvm::Value* linear_index(Builder& b, const Values& idx, const std::vector<int64_t>& strides);
// &base[index] for elements of type t.
inline llvm::Value* at(Builder& b, llvm::Type* t, llvm::Value* base, llvm::Value* index) {
  return b.CreateInBoundsGEP(t, base, index);
}
// Row-major strides of a shape.
std::vector<int64_t> row_major_strides(const Shape& s);

// Merges adjacent loop dims that can be walked as one: `dims` with one stride vector per
// operand (each the length of dims). Two dims merge when, for every operand,
// stride[d] == stride[d+1] * dims[d+1]. Dims of extent 1 are dropped. Returns the new
// dims (possibly empty = one element) and rewrites `strides` to match.
std::vector<int64_t> collapse_dims(std::vector<int64_t> dims, std::vector<std::vector<int64_t>>& strides);

}  // namespace kiln::backend
