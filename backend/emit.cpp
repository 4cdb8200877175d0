// IR-building helpers: element types, rotated counted loops, loop nests, strided indices.
#include "backend/emit.hpp"

namespace kiln::backend {

llvm::Type* elem_type(llvm::LLVMContext& c, DType t) {
  switch (t) {
    case DType::f32: return llvm::Type::getFloatTy(c);
    case DType::f64: return llvm::Type::getDoubleTy(c);
    case DType::i32: return llvm::Type::getInt32Ty(c);
  }
  return nullptr;
}

Values emit_for(Builder& b, int64_t start, int64_t end, int64_t step, Values carried, const LoopBody& body,
                const char* name) {
  if (start >= end) return carried;
  llvm::BasicBlock* pre = b.GetInsertBlock();
  llvm::Function* f = pre->getParent();
  auto* head = llvm::BasicBlock::Create(b.getContext(), name, f);
  b.CreateBr(head);
  b.SetInsertPoint(head);
  auto* i = b.CreatePHI(b.getInt64Ty(), 2, name);
  i->addIncoming(i64(b, start), pre);
  std::vector<llvm::PHINode*> phis;
  Values cur;
  for (llvm::Value* v : carried) {
    auto* p = b.CreatePHI(v->getType(), 2);
    p->addIncoming(v, pre);
    phis.push_back(p);
    cur.push_back(p);
  }
  Values next = body(i, cur);
  auto* inext = b.CreateAdd(i, i64(b, step), "", /*NUW=*/true, /*NSW=*/true);
  llvm::BasicBlock* latch = b.GetInsertBlock();
  auto* exit = llvm::BasicBlock::Create(b.getContext(), std::string(name) + ".end", f);
  b.CreateCondBr(b.CreateICmpSLT(inext, i64(b, end)), head, exit);
  i->addIncoming(inext, latch);
  for (size_t k = 0; k < phis.size(); ++k) phis[k]->addIncoming(next[k], latch);
  b.SetInsertPoint(exit);
  return next;
}

void pin_vectorization(Builder& b, int width, int interleave, bool predicate) {
  llvm::BasicBlock* latch = b.GetInsertBlock()->getSinglePredecessor();
  if (!latch) return;
  llvm::LLVMContext& c = b.getContext();
  auto hint = [&](const char* name, llvm::Constant* v) {
    return llvm::MDNode::get(c, {llvm::MDString::get(c, name), llvm::ConstantAsMetadata::get(v)});
  };
  auto self = llvm::MDNode::getTemporary(c, {});
  std::vector<llvm::Metadata*> ops = {self.get(), hint("llvm.loop.vectorize.enable", b.getTrue()),
                                      hint("llvm.loop.vectorize.width", b.getInt32(width)),
                                      hint("llvm.loop.interleave.count", b.getInt32(interleave))};
  if (predicate) ops.push_back(hint("llvm.loop.vectorize.predicate.enable", b.getTrue()));
  llvm::MDNode* loop = llvm::MDNode::getDistinct(c, ops);
  loop->replaceOperandWith(0, loop);
  latch->getTerminator()->setMetadata(llvm::LLVMContext::MD_loop, loop);
}

SumOrder sum_order(int64_t n, bool f64, int lanes) {
  const int full = f64 ? std::max(2, lanes / 2) : lanes;
  SumOrder o;
  o.width = full;
  if (n >= 2 * full) {  // W lanes, 1, 2 or 4 vector accumulators by length
    o.vec = true;
    o.interleave = n >= 8 * full ? 4 : n >= 4 * full ? 2 : 1;
  } else if (n >= 2 && lanes >= 8) {  // one or two masked vectors (AVX and up have masked loads and stores)
    o.vec = o.predicate = true;
  }
  return o;
}

void emit_for(Builder& b, int64_t n, const std::function<void(llvm::Value*)>& body, const char* name) {
  emit_for(b, 0, n, 1, {}, [&](llvm::Value* i, const Values&) {
    body(i);
    return Values{};
  }, name);
}

void emit_nest(Builder& b, const std::vector<int64_t>& dims, const std::function<void(const Values&)>& body) {
  Values idx;
  std::function<void(size_t)> rec = [&](size_t d) {
    if (d == dims.size()) {
      body(idx);
      return;
    }
    emit_for(b, dims[d], [&](llvm::Value* i) {
      idx.push_back(i);
      rec(d + 1);
      idx.pop_back();
    });
  };
  rec(0);
}

llvm::Value* linear_index(Builder& b, const Values& idx, const std::vector<int64_t>& strides) {
  llvm::Value* r = nullptr;
  for (size_t d = 0; d < idx.size(); ++d) {
    if (strides[d] == 0) continue;
    llvm::Value* t = strides[d] == 1 ? idx[d] : b.CreateMul(idx[d], i64(b, strides[d]), "", true, true);
    r = r ? b.CreateAdd(r, t, "", true, true) : t;
  }
  return r ? r : i64(b, 0);
}

std::vector<int64_t> row_major_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t k = 1;
  for (size_t d = s.size(); d-- > 0;) {
    st[d] = k;
    k *= s[d];
  }
  return st;
}

std::vector<int64_t> collapse_dims(std::vector<int64_t> dims, std::vector<std::vector<int64_t>>& strides) {
  std::vector<int64_t> nd;
  std::vector<std::vector<int64_t>> ns(strides.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    bool merge = !nd.empty();
    for (size_t o = 0; merge && o < strides.size(); ++o)
      if (ns[o].back() != strides[o][d] * dims[d]) merge = false;
    if (merge) {
      nd.back() *= dims[d];
      for (size_t o = 0; o < strides.size(); ++o) ns[o].back() = strides[o][d];
    } else {
      nd.push_back(dims[d]);
      for (size_t o = 0; o < strides.size(); ++o) ns[o].push_back(strides[o][d]);
    }
  }
  strides = std::move(ns);
  return nd;
}

}  // namespace kiln::backend
