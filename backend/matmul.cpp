// Kernel generator of matmul: a register-blocked GEMM micro-kernel (MR rows x NV host
// vectors of C held in registers across the k loop, broadcast-A times vector-B fused
// multiply-adds), K blocked for cache, B packed per k block into contiguous zero-padded
// column panels (when M is large enough to amortise it), masked vectors on ragged column
// edges; matrix-vector products as vectorised dot products.
#include "backend/op_gens.hpp"
#include "backend/parallel.hpp"
#include "passes/kernel_plan.hpp"
#include <llvm/IR/Intrinsics.h>

namespace kiln::backend {

using llvm::Value;

namespace {

constexpr int kNV = 2;          // host vectors of C per row of a micro-tile
constexpr int64_t kKC = 256;    // k block: a KC x NR panel of B stays in L1 while the tiles sweep M
constexpr int64_t kPackM = 16;  // pack B when M has at least this many rows
constexpr int64_t kVecAccumulators = 8;  // A^T-stored matrix-vector products: C in at most this many vectors

struct Gemm {
  Builder& b;
  llvm::Type* t;
  llvm::FixedVectorType* vt;
  int W;   // lanes
  int MR;  // rows of C per micro-tile
  int64_t M, K, N;
  Value *A, *B, *C;
  bool ta, tb;  // A is stored as A^T [K, M]; B as B^T [N, K]
  Value* Bp;  // packed panels of the current k block (scratch), or nullptr: read B in place
  const std::function<void(Value*, Value*)>* epi;  // fused epilogue per element, or nullptr
  // The column panels this kernel computes: full panels [plo, phi) and, when tail_on
  // (nullptr: true), the ragged last one. A parallel kernel's part; else all of them.
  Value *plo = nullptr, *phi = nullptr, *tail_on = nullptr;
  int64_t NR() const { return int64_t(kNV) * W; }
  int64_t nfull() const { return N / NR(); }
  int64_t PS() const { return std::min(K, kKC) * NR(); }  // elements between packed panels
  int64_t ntail() const { return N % NR(); }
  // body(p) for each of this kernel's full panels; tail() if it has the ragged one.
  void full_panels(const std::function<void(Value*)>& body, const char* name) const {
    if (plo) emit_range(b, plo, phi, body, name);
    else emit_for(b, nfull(), body, name);
  }
  void tail_panel(const std::function<void()>& body) const {
    if (!ntail()) return;
    if (tail_on) emit_if(b, tail_on, body);
    else body();
  }
  llvm::Align elem_align() const { return llvm::Align(t->getPrimitiveSizeInBits() / 8); }
};

llvm::Constant* lane_mask(Builder& b, int W, int lanes) {
  std::vector<llvm::Constant*> bits;
  for (int i = 0; i < W; ++i) bits.push_back(b.getInt1(i < lanes));
  return llvm::ConstantVector::get(bits);
}

// C[i0 .. i0+mr, j0 .. j0 + nv*W] (+)= A[i0.., k0 .. k0+kc] @ B[k0 .., j0 ..]; the last
// of the nv vectors holds `last` valid lanes (masked loads and stores when last < W).
// B is read from `bbase` with `bstride` elements between k rows (packed: NR, aligned,
// zero-padded, so never masked).
void micro(Gemm& g, Value* i0, Value* j0, Value* k0, int64_t kc, int mr, int nv, int last, bool load_c, Value* bbase,
           int64_t bstride, bool final) {
  Builder& b = g.b;
  llvm::Align al = g.elem_align();
  llvm::Align bal = g.Bp ? llvm::Align(g.W * al.value()) : al;
  Value* mask = last < g.W ? lane_mask(b, g.W, last) : nullptr;
  Value* zero = llvm::ConstantAggregateZero::get(g.vt);
  auto vload = [&](Value* p, bool masked, llvm::Align a) {
    if (masked) return static_cast<Value*>(b.CreateMaskedLoad(g.vt, p, a, mask, zero));
    return static_cast<Value*>(b.CreateAlignedLoad(g.vt, p, a));
  };
  auto cptr = [&](int r, int v) {
    Value* row = b.CreateMul(b.CreateAdd(i0, i64(b, r)), i64(b, g.N));
    return at(b, g.t, g.C, b.CreateAdd(row, b.CreateAdd(j0, i64(b, int64_t(v) * g.W))));
  };
  Values acc;
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) acc.push_back(load_c ? vload(cptr(r, v), mask && v == nv - 1, al) : zero);
  acc = emit_for(b, 0, kc, 1, acc, [&](Value* kk, const Values& a) {
    Value* brow = b.CreateMul(kk, i64(b, bstride));
    Values bv;
    for (int v = 0; v < nv; ++v)
      bv.push_back(vload(at(b, g.t, bbase, b.CreateAdd(brow, i64(b, int64_t(v) * g.W))), !g.Bp && mask && v == nv - 1, bal));
    Value* k = b.CreateAdd(k0, kk);
    Values out = a;
    for (int r = 0; r < mr; ++r) {
      Value* row = b.CreateAdd(i0, i64(b, r));
      Value* ai = g.ta ? b.CreateAdd(b.CreateMul(k, i64(b, g.M)), row) : b.CreateAdd(b.CreateMul(row, i64(b, g.K)), k);
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
  // The tile is final (last k block): apply the fused epilogue while it is in L1.
  if (final && g.epi)
    emit_nest(b, {mr, int64_t(nv - 1) * g.W + last},
              [&](const Values& rc) { (*g.epi)(b.CreateAdd(i0, rc[0]), b.CreateAdd(j0, rc[1])); });
}

// Packs B[k0 .. k0+kc, :] into panels of NR columns: panel p holds kc rows of NR
// contiguous elements at Bp + p*PS, the last panel zero-padded. PS = min(K, KC)*NR for
// every k block, so a part of a parallel kernel packing its panels of the (shorter) last
// block never writes over another part's panels of the block before. B^T is read along
// its rows (contiguous in k).
void pack_b(Gemm& g, Value* k0, int64_t kc) {
  Builder& b = g.b;
  int64_t NR = g.NR(), nfull = g.N / NR, ntail = g.N % NR;
  Value* zero = llvm::ConstantFP::get(g.t, 0);
  if (g.tb) {
    auto panel = [&](Value* p, int64_t cols) {  // cols valid columns of NR
      emit_for(b, NR, [&](Value* jj) {
        Value* j = b.CreateAdd(b.CreateMul(p, i64(b, NR)), jj);
        Value* in = b.CreateICmpSLT(jj, i64(b, cols));
        Value* src = b.CreateAdd(b.CreateMul(b.CreateSelect(in, j, i64(b, 0)), i64(b, g.K)), k0);
        Value* dst = b.CreateAdd(b.CreateMul(p, i64(b, g.PS())), jj);
        emit_for(b, kc, [&](Value* kk) {
          Value* x = b.CreateLoad(g.t, at(b, g.t, g.B, b.CreateAdd(src, kk)));
          x = cols < NR ? b.CreateSelect(in, x, zero) : x;
          b.CreateStore(x, at(b, g.t, g.Bp, b.CreateAdd(dst, b.CreateMul(kk, i64(b, NR)))));
        }, "pk");
      }, "pj");
    };
    g.full_panels([&](Value* p) { panel(p, NR); }, "pp");
    g.tail_panel([&] { panel(i64(b, nfull), ntail); });
    return;
  }
  emit_for(b, kc, [&](Value* kk) {
    Value* src = b.CreateMul(b.CreateAdd(k0, kk), i64(b, g.N));
    Value* dst = b.CreateMul(kk, i64(b, NR));
    g.full_panels([&](Value* p) {
      emit_for(b, NR, [&](Value* j) {
        Values pj{p, j};
        Value* x = b.CreateLoad(g.t, at(b, g.t, g.B, b.CreateAdd(src, linear_index(b, pj, {NR, 1}))));
        b.CreateStore(x, at(b, g.t, g.Bp, b.CreateAdd(dst, linear_index(b, pj, {g.PS(), 1}))));
      });
    }, "pp");
    g.tail_panel([&] {
      Value* tsrc = b.CreateAdd(src, i64(b, nfull * NR));
      Value* tdst = b.CreateAdd(dst, i64(b, nfull * g.PS()));
      emit_for(b, NR, [&](Value* j) {
        Value* in = b.CreateICmpSLT(j, i64(b, ntail));
        Value* safe = b.CreateSelect(in, j, i64(b, 0));
        Value* x = b.CreateLoad(g.t, at(b, g.t, g.B, b.CreateAdd(tsrc, safe)));
        b.CreateStore(b.CreateSelect(in, x, zero), at(b, g.t, g.Bp, b.CreateAdd(tdst, j)));
      });
    });
  }, "pk");
}

// All micro-tiles of one k block: column panels outermost, so each B panel is reused by
// every row tile while it is in L1.
void k_block(Gemm& g, Value* k0, int64_t kc, bool load_c, bool final) {
  Builder& b = g.b;
  if (g.Bp) pack_b(g, k0, kc);
  int64_t NR = g.NR();
  int64_t nfull = g.nfull(), ntail = g.ntail(), mfull = g.M / g.MR, mtail = g.M % g.MR;
  auto rows = [&](Value* p, int nv, int last) {
    Value* j0 = b.CreateMul(p, i64(b, NR));
    Value* bbase = g.Bp ? at(b, g.t, g.Bp, b.CreateMul(p, i64(b, g.PS())))
                        : at(b, g.t, g.B, b.CreateAdd(b.CreateMul(k0, i64(b, g.N)), j0));
    int64_t bstride = g.Bp ? NR : g.N;
    emit_for(b, mfull, [&](Value* i) {
      micro(g, b.CreateMul(i, i64(b, g.MR)), j0, k0, kc, g.MR, nv, last, load_c, bbase, bstride, final);
    }, "mi");
    if (mtail) micro(g, i64(b, mfull * g.MR), j0, k0, kc, int(mtail), nv, last, load_c, bbase, bstride, final);
  };
  g.full_panels([&](Value* p) { rows(p, kNV, g.W); }, "nj");
  g.tail_panel([&] {
    int nv = int((ntail + g.W - 1) / g.W);
    rows(i64(b, nfull), nv, int(ntail - int64_t(nv - 1) * g.W));
  });
}

int lanes_for(llvm::Type* t, int lanes) { return t->isDoubleTy() ? std::max(2, lanes / 2) : lanes; }
// B is packed when M is large enough to amortise it, and always when it is read as B^T.
bool packs(int64_t M, int64_t N, bool tb) { return N > 1 && (M >= kPackM || tb); }

void matmul_kernel(KernelCtx& k) {
  const Shape &xs = k.in_shape(0), &ys = k.in_shape(1);
  int64_t M = xs.size() == 2 ? xs[0] : 1, K = xs.back(), N = ys.size() == 2 ? ys[1] : 1;
  // A [1, K] stored as A^T [K, 1] (and B [K, 1] as B^T [1, K]) has the same layout.
  bool ta = k.transposed(0) && M > 1, tb = k.transposed(1) && N > 1;
  Builder& b = k.b;
  llvm::Type* t = k.out_type();
  if (N == 1 && k.epilogue) {  // the vector paths: the epilogue as one pass after the product
    auto epi = std::move(k.epilogue);
    k.epilogue = nullptr;
    matmul_kernel(k);
    emit_for(b, M, [&](Value* i) { epi(i, i64(b, 0)); });
    return;
  }
  if (N == 1 && ta) {  // C = A^T-stored @ b: C[i] += At[k, i] b[k], contiguous in i
    const int W = lanes_for(t, k.lanes);
    const int64_t nv = (M + W - 1) / W;
    if (nv <= kVecAccumulators) {
      // C fits in a few vector registers: carried through the k loop (masked on the ragged
      // end), stored once. Kept in memory, each C[i] was a chain of store-to-load forwards,
      // one per k (linreg's weight gradient, 10 x 32, was a third of its step). Same
      // operations per element, in the same order.
      auto* vt = llvm::FixedVectorType::get(t, W);
      llvm::Align al(t->getPrimitiveSizeInBits() / 8);
      auto tail_mask = [&](int64_t v) -> Value* {
        int64_t lanes = std::min<int64_t>(W, M - v * W);
        return lanes < W ? lane_mask(b, W, int(lanes)) : nullptr;
      };
      Value* zero = llvm::ConstantAggregateZero::get(vt);
      Values acc = emit_for(b, 0, K, 1, Values(size_t(nv), zero), [&](Value* kk, const Values& a) {
        Value* bk = b.CreateVectorSplat(unsigned(W), k.load_in(1, kk));
        Values out;
        for (int64_t v = 0; v < nv; ++v) {
          Value* p = at(b, t, k.in[0], b.CreateAdd(b.CreateMul(kk, i64(b, M)), i64(b, v * W)));
          Value* mask = tail_mask(v);
          Value* x = mask ? static_cast<Value*>(b.CreateMaskedLoad(vt, p, al, mask, zero)) : b.CreateAlignedLoad(vt, p, al);
          out.push_back(b.CreateFAdd(a[size_t(v)], b.CreateFMul(x, bk)));
        }
        return out;
      });
      for (int64_t v = 0; v < nv; ++v) {
        Value* p = at(b, t, k.out, i64(b, v * W));
        if (Value* mask = tail_mask(v)) b.CreateMaskedStore(acc[size_t(v)], p, al, mask);
        else b.CreateAlignedStore(acc[size_t(v)], p, al);
      }
      return;
    }
    emit_for(b, M, [&](Value* i) { k.store_out(llvm::ConstantFP::get(t, 0), i); });
    emit_for(b, K, [&](Value* kk) {
      Value* bk = k.load_in(1, kk);
      emit_for(b, M, [&](Value* i) {
        Value* p = b.CreateFMul(k.load_in(0, b.CreateAdd(b.CreateMul(kk, i64(b, M)), i)), bk);
        Value* c = b.CreateLoad(t, at(b, t, k.out, i));
        k.store_out(b.CreateFAdd(c, p), i);
      });
    });
    return;
  }
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
  int W = lanes_for(t, k.lanes);
  // 8 x 2 tiles on AVX-512 (16 of its 32 vector registers hold C), 6 x 2 with 16 registers.
  int mr = k.lanes >= 16 ? 8 : 6;
  Gemm g{b, t, llvm::FixedVectorType::get(t, W), W, mr, M, K, N, k.in[0], k.in[1], k.out, ta, tb,
         packs(M, N, tb) ? k.scratch : nullptr, k.epilogue ? &k.epilogue : nullptr};
  if (k.part) {  // a parallel kernel: this part's share of the column panels
    int64_t nfull = g.nfull(), total = nfull + (g.ntail() ? 1 : 0);
    auto [lo, hi] = part_range(b, k, total);
    g.plo = lo;
    g.phi = b.CreateSelect(b.CreateICmpSLT(hi, i64(b, nfull)), hi, i64(b, nfull));
    g.tail_on = b.CreateICmpSGT(hi, i64(b, nfull));
  }
  if (K <= kKC) {
    k_block(g, i64(b, 0), K, false, true);
    return;
  }
  // The first k block starts the sums from zero; the last is emitted on its own: it
  // applies the epilogue.
  int64_t blocks = K / kKC, tail = K % kKC, looped = tail ? blocks : blocks - 1;
  k_block(g, i64(b, 0), kKC, false, false);
  emit_for(b, 1, looped, 1, {}, [&](Value* kb, const Values&) {
    k_block(g, b.CreateMul(kb, i64(b, kKC)), kKC, true, false);
    return Values{};
  }, "kb");
  k_block(g, i64(b, looped * kKC), tail ? tail : kKC, true, true);
}

// Parallel when the product is large (kParallelFlops) and has at least two column
// panels: the kernel is split along N by whole panels (each part packs and computes its
// own panels over every row and every k block), so every element of C is computed by the
// same instructions in the same order for any number of parts.
int64_t matmul_parts(const Graph& g, const Node& n, int lanes) {
  const Shape &xs = g[n.in[0]].shape, &ys = g[n.in[1]].shape;
  int64_t M = xs.size() == 2 ? xs[0] : 1, K = xs.back(), N = ys.size() == 2 ? ys[1] : 1;
  if (N == 1 || double(2 * M) * double(K) * double(N) < double(kParallelFlops)) return 0;
  int64_t W = n.dtype == DType::f64 ? std::max(2, lanes / 2) : lanes, NR = kNV * W;
  int64_t panels = (N + NR - 1) / NR;
  return panels >= 2 ? panels : 0;
}

// Packed B: one k block of panels, min(K, KC) x N rounded up to whole panels.
int64_t matmul_scratch(const Graph& g, const Node& n, const Kernel& k) {
  const Shape &xs = g[n.in[0]].shape, &ys = g[n.in[1]].shape;
  int64_t M = xs.size() == 2 ? xs[0] : 1, K = xs.back(), N = ys.size() == 2 ? ys[1] : 1;
  if (!packs(M, N, k.folded_transpose[1])) return 0;  // (N > 1: a folded B is a 2-D transpose)
  // The widest vectors any host gives (16 f32 lanes): panels sized for them fit all hosts.
  int64_t NR = kNV * (n.dtype == DType::f64 ? 8 : 16);
  int64_t es = n.dtype == DType::f64 ? 8 : 4;
  return std::min(K, kKC) * ((N + NR - 1) / NR) * NR * es;
}

}  // namespace

// This file's generator (backend/op_gens.cpp).
std::vector<OpGenEntry> matmul_gens() { return {{Op::matmul, {nullptr, matmul_kernel, matmul_scratch, false, matmul_parts}}}; }

}  // namespace kiln::backend
