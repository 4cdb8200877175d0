// Kernel generator of matmul: a register-blocked GEMM micro-kernel (MR rows x NV host
// vectors of C held in registers across the k loop, broadcast-A times vector-B fused
// multiply-adds), K blocked for cache, masked vectors for ragged column edges; matrix-
// vector products as vectorised dot products.
#include "backend/ops.hpp"
#include <llvm/IR/Intrinsics.h>

namespace kiln::backend {

using llvm::Value;

namespace {

constexpr int kNV = 2;  // host vectors of C per row of a micro-tile

struct Gemm {
  Builder& b;
  llvm::Type* t;
  llvm::FixedVectorType* vt;
  int W;  // lanes
  int MR;      // rows of C per micro-tile
  int64_t KC;  // k block: a KC x (kNV * W) panel of B stays in L1 while the tiles sweep M
  int64_t M, K, N;
  Value *A, *B, *C;
};

llvm::Constant* lane_mask(Builder& b, int W, int lanes) {
  std::vector<llvm::Constant*> bits;
  for (int i = 0; i < W; ++i) bits.push_back(b.getInt1(i < lanes));
  return llvm::ConstantVector::get(bits);
}

// C[i0 .. i0+mr, j0 .. j0 + nv*W] (+)= A[i0.., k0 .. k0+kc] @ B[k0 .., j0 ..]; the last
// of the nv vectors holds `last` valid lanes (masked loads and stores when last < W).
void micro(Gemm& g, Value* i0, Value* j0, Value* k0, int64_t kc, int mr, int nv, int last, bool load_c) {
  Builder& b = g.b;
  llvm::Align al(g.t->getPrimitiveSizeInBits() / 8);
  Value* mask = last < g.W ? lane_mask(b, g.W, last) : nullptr;
  Value* zero = llvm::ConstantAggregateZero::get(g.vt);
  auto vload = [&](Value* p, bool tail) {
    if (tail && mask) return static_cast<Value*>(b.CreateMaskedLoad(g.vt, p, al, mask, zero));
    return static_cast<Value*>(b.CreateAlignedLoad(g.vt, p, al));
  };
  auto cptr = [&](int r, int v) {
    Value* row = b.CreateMul(b.CreateAdd(i0, i64(b, r)), i64(b, g.N));
    return at(b, g.t, g.C, b.CreateAdd(row, b.CreateAdd(j0, i64(b, int64_t(v) * g.W))));
  };
  Values acc;
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) acc.push_back(load_c ? vload(cptr(r, v), v == nv - 1) : zero);
  acc = emit_for(b, 0, kc, 1, acc, [&](Value* kk, const Values& a) {
    Value* k = b.CreateAdd(k0, kk);
    Value* brow = b.CreateAdd(b.CreateMul(k, i64(b, g.N)), j0);
    Values bv;
    for (int v = 0; v < nv; ++v)
      bv.push_back(vload(at(b, g.t, g.B, b.CreateAdd(brow, i64(b, int64_t(v) * g.W))), v == nv - 1));
    Values out = a;
    for (int r = 0; r < mr; ++r) {
      Value* ai = b.CreateAdd(b.CreateMul(b.CreateAdd(i0, i64(b, r)), i64(b, g.K)), k);
      Value* as = b.CreateVectorSplat(g.W, b.CreateLoad(g.t, at(b, g.t, g.A, ai)));
      for (int v = 0; v < nv; ++v)
        out[r * nv + v] = b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {g.vt}, {as, bv[v], a[r * nv + v]});
    }
    return out;
  }, "k");
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) {
      Value* p = cptr(r, v);
      if (v == nv - 1 && mask) b.CreateMaskedStore(acc[r * nv + v], p, al, mask);
      else b.CreateAlignedStore(acc[r * nv + v], p, al);
    }
}

// All micro-tiles of one k block.
void k_block(Gemm& g, Value* k0, int64_t kc, bool load_c) {
  Builder& b = g.b;
  int64_t NR = int64_t(kNV) * g.W;
  int64_t nfull = g.N / NR, ntail = g.N % NR, mfull = g.M / g.MR, mtail = g.M % g.MR;
  auto rows = [&](Value* j0, int nv, int last) {
    emit_for(b, mfull, [&](Value* i) { micro(g, b.CreateMul(i, i64(b, g.MR)), j0, k0, kc, g.MR, nv, last, load_c); }, "mi");
    if (mtail) micro(g, i64(b, mfull * g.MR), j0, k0, kc, int(mtail), nv, last, load_c);
  };
  emit_for(b, nfull, [&](Value* j) { rows(b.CreateMul(j, i64(b, NR)), kNV, g.W); }, "nj");
  if (ntail) {
    int nv = int((ntail + g.W - 1) / g.W);
    rows(i64(b, nfull * NR), nv, int(ntail - int64_t(nv - 1) * g.W));
  }
}

void matmul_kernel(KernelCtx& k) {
  const Shape &xs = k.in_shape(0), &ys = k.in_shape(1);
  int64_t M = xs.size() == 2 ? xs[0] : 1, K = xs.back(), N = ys.size() == 2 ? ys[1] : 1;
  Builder& b = k.b;
  llvm::Type* t = k.out_type();
  if (N == 1) {  // matrix-vector: C[i] = sum_k A[i, k] B[k], a vectorisable dot product per row
    llvm::FastMathFlags fmf;
    fmf.setAllowReassoc();
    fmf.setAllowContract();
    emit_for(b, M, [&](Value* i) {
      Value* row = b.CreateMul(i, i64(b, K));
      Value* s = emit_for(b, 0, K, 1, {llvm::ConstantFP::get(t, 0)}, [&](Value* kk, const Values& acc) {
        llvm::IRBuilder<>::FastMathFlagGuard guard(b);
        b.setFastMathFlags(fmf);
        Value* p = b.CreateFMul(k.load_in(0, b.CreateAdd(row, kk)), k.load_in(1, kk));
        return Values{b.CreateFAdd(acc[0], p)};
      })[0];
      k.store_out(s, i);
    });
    return;
  }
  int W = t->isDoubleTy() ? std::max(2, k.lanes / 2) : k.lanes;
  // 8 x 2 tiles on AVX-512 (16 of its 32 vector registers hold C), 6 x 2 with 16 registers.
  int mr = k.lanes >= 16 ? 8 : 6;
  Gemm g{b, t, llvm::FixedVectorType::get(t, W), W, mr, 256, M, K, N, k.in[0], k.in[1], k.out};
  const int64_t kKC = g.KC;
  if (K <= kKC) {
    k_block(g, i64(b, 0), K, false);
    return;
  }
  emit_for(b, M * N, [&](Value* i) { k.store_out(llvm::ConstantFP::get(t, 0), i); });
  emit_for(b, K / kKC, [&](Value* kb) { k_block(g, b.CreateMul(kb, i64(b, kKC)), kKC, true); }, "kb");
  if (K % kKC) k_block(g, i64(b, K / kKC * kKC), K % kKC, true);
}

}  // namespace

void matmul_gens(OpGen* t) { t[int(Op::matmul)] = OpGen{nullptr, matmul_kernel}; }

}  // namespace kiln::backend
