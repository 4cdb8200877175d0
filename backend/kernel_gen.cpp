// The body of one plan kernel: a loop nest evaluating the elementwise members of a region
// (body, prologue or epilogue) in registers per element, with loads of the kernel's inputs
// (NumPy broadcasting), then stores of its outputs; anchors through their op generators,
// with the prologue and epilogue hooks of ops.hpp; copies for shape and commit kernels.
#include "backend/kernel_gen.hpp"
#include "backend/parallel.hpp"
#include "backend/ops.hpp"
#include "backend/plan.hpp"
#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace kiln::backend {

using llvm::Value;

namespace {

// Elementwise members of one shape, evaluated per element. An epilogue's anchor value is
// read from `anchor_mem` at the element.
struct Region {
  Shape shape;
  std::vector<NodeId> members;  // id (= dependency) order
  NodeId anchor = -1;
  Value* anchor_mem = nullptr;
  std::vector<NodeId> accumulators;  // Role::accumulate: sums of one value per element
};

// Stride vectors (one per distinct access pattern, over the region's dims): key 0 is the
// row-major walk of the region (outputs, the anchor); then one per (input, mode) load.
struct Layout {
  std::vector<std::vector<int64_t>> keys;
  std::map<std::pair<NodeId, int>, int> load_key;  // mode 0: broadcast load; 1: one_hot's labels
  int class_key = -1;                               // one_hot: the index along the last dim
  int add(std::vector<int64_t> s) {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == s) return int(i);
    keys.push_back(std::move(s));
    return int(keys.size() - 1);
  }
};

using IndexFn = std::function<Value*(int key)>;
using ValueMap = std::map<NodeId, Value*>;

struct Gen {
  const KernelGenEnv& env;
  const Graph& g;
  const Kernel& k;
  const KernelSig& sig;
  llvm::Function* f;
  Builder& b;
  std::string& err;
  llvm::LLVMContext& ctx = f->getContext();

  Storage storage(NodeId v) const { return env.plan.values[v].storage; }
  bool is_output(NodeId v) const {
    Storage s = storage(v);
    return s == Storage::arena || s == Storage::root || s == Storage::target;
  }
  llvm::Type* type(NodeId v) const { return elem_type(ctx, g[v].dtype); }
  Value* mem(NodeId v) {
    if (auto it = sig.arg.find(v); it != sig.arg.end()) return f->getArg(it->second);
    return env.literal(env.plan.values[v].base);  // a literal or a view of one
  }
  Value* scratch() { return sig.scratch_arg >= 0 ? f->getArg(sig.scratch_arg) : nullptr; }
  // The kernel's scratch region of that use (the plan's layout), or nullptr.
  const ScratchRegion* region(ScratchUse use) const {
    for (const ScratchRegion& r : k.scratch)
      if (r.use == use) return &r;
    return nullptr;
  }
  // Where a region (other than the anchor's, which has its own argument) starts.
  Value* at_region(const ScratchRegion& r) {
    return r.offset == 0 ? scratch() : b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), scratch(), uint64_t(r.offset));
  }
  // A literal with one value (or a view of one): a constant, no load.
  Value* splat(NodeId v) {
    NodeId base = env.plan.values[v].base;
    if (base < 0 || storage(base) != Storage::literal || g[base].attrs.init.data.size() != 1) return nullptr;
    double x = g[base].attrs.init.data[0];
    llvm::Type* t = type(v);
    return t->isIntegerTy() ? static_cast<Value*>(llvm::ConstantInt::get(t, uint64_t(int64_t(x)), true))
                            : llvm::ConstantFP::get(t, x);
  }
  static bool has(const Region& r, NodeId v) { return std::binary_search(r.members.begin(), r.members.end(), v); }

  Layout layout(const Region& r) {
    Layout L;
    L.add(row_major_strides(r.shape));
    std::vector<NodeId> readers = r.members;
    readers.insert(readers.end(), r.accumulators.begin(), r.accumulators.end());
    for (NodeId m : readers)
      for (NodeId o : g[m].in) {
        if (has(r, o) || o == r.anchor || splat(o)) continue;
        if (g[m].op == Op::one_hot) {
          std::vector<int64_t> st = row_major_strides(g[o].shape), cls(r.shape.size(), 0);
          st.push_back(0);
          cls.back() = 1;
          L.load_key[{o, 1}] = L.add(st);
          L.class_key = L.add(cls);
        } else {
          L.load_key[{o, 0}] = L.add(broadcast_strides(g[o].shape, r.shape));
        }
      }
    return L;
  }

  // Every member at one element, in registers (loads only: the caller stores afterwards).
  ValueMap eval(const Region& r, const Layout& L, const IndexFn& index) {
    ValueMap val;
    std::map<std::pair<NodeId, int>, Value*> loaded;
    Value* anchor_val = nullptr;
    auto operand = [&](NodeId o, int mode) -> Value* {
      if (auto it = val.find(o); it != val.end()) return it->second;  // a member (lower id: done)
      if (o == r.anchor) {
        if (!anchor_val) anchor_val = b.CreateLoad(type(o), at(b, type(o), r.anchor_mem, index(0)));
        return anchor_val;
      }
      if (Value* c = splat(o)) return c;
      auto key = std::make_pair(o, mode);
      if (auto it = loaded.find(key); it != loaded.end()) return it->second;
      Value* x = b.CreateLoad(type(o), at(b, type(o), mem(o), index(L.load_key.at(key))));
      loaded[key] = x;
      return x;
    };
    for (NodeId m : r.members) {
      const Node& n = g[m];
      Value* x = nullptr;
      if (n.op == Op::one_hot) {  // out[..., c] = (labels[...] == c)
        Value* label = operand(n.in[0], 1);
        label = label->getType()->isIntegerTy() ? b.CreateSExtOrTrunc(label, b.getInt64Ty())
                                                : b.CreateFPToSI(label, b.getInt64Ty());
        x = b.CreateUIToFP(b.CreateICmpEQ(label, index(L.class_key)), type(m));
      } else if (n.op == Op::broadcast_to) {  // a load with broadcasting (or the member itself)
        x = operand(n.in[0], 0);
      } else if (ElemFn fn = op_gen(n.op).elem) {
        Values xs;
        for (NodeId o : n.in) xs.push_back(operand(o, 0));
        ElemCtx e{b, env.m, n, type(m)};
        x = fn(e, xs);
      } else {
        err = fmt::format("the JIT has no element generator for op '{}' (%{})", op_name(n.op), m);
        x = llvm::UndefValue::get(type(m));
      }
      val[m] = x;
    }
    for (NodeId a : r.accumulators) val[a] = operand(g[a].in[0], 0);  // the element it adds
    return val;
  }

  void store_outputs(const Region& r, const ValueMap& val, Value* index) {
    for (NodeId m : r.members)
      if (is_output(m)) b.CreateStore(val.at(m), at(b, type(m), mem(m), index));
  }

  // The region as its own loop nest over its shape, dims collapsed. Accumulators are
  // carried through the nest from 0 and stored (a mean divided by the count) after it, in
  // the pinned order of emit.hpp's sum_order (the sums carry `reassoc` when vectorised):
  // the summation order depends on the shape only, as in the unfused reduction.
  void loop(const Region& r) {
    Layout L = layout(r);
    std::vector<std::vector<int64_t>> st = L.keys;
    std::vector<int64_t> dims = collapse_dims(r.shape, st);
    const int64_t inner = dims.empty() ? 1 : dims.back();
    bool f64 = false;
    for (NodeId a : r.accumulators) f64 = f64 || g[a].dtype == DType::f64;
    const SumOrder so = sum_order(inner, f64, env.lanes);
    const bool vec = !r.accumulators.empty() && so.vec;
    Values zero;
    for (NodeId a : r.accumulators) zero.push_back(llvm::ConstantFP::get(type(a), 0.0));
    auto element = [&](const Values& idx, const Values& acc) {
      std::map<int, Value*> cache;
      IndexFn index = [&](int key) {
        Value*& v = cache[key];
        if (!v) v = linear_index(b, idx, st[key]);
        return v;
      };
      ValueMap val = eval(r, L, index);
      store_outputs(r, val, index(0));
      Values next;
      for (size_t i = 0; i < acc.size(); ++i) {
        Value* sum = b.CreateFAdd(acc[i], val.at(r.accumulators[i]));
        if (auto* in = llvm::dyn_cast<llvm::Instruction>(sum)) in->setHasAllowReassoc(vec);
        next.push_back(sum);
      }
      return next;
    };
    Values idx;
    std::function<Values(size_t, const Values&)> nest = [&](size_t d, const Values& acc) -> Values {
      if (d == dims.size()) return element(idx, acc);
      Values out = emit_for(b, 0, dims[d], 1, acc, [&](Value* i, const Values& cur) {
        idx.push_back(i);
        Values res = nest(d + 1, cur);
        idx.pop_back();
        return res;
      });
      if (d + 1 == dims.size() && vec) pin_vectorization(b, so.width, so.interleave, so.predicate);
      return out;
    };
    Values total = nest(0, zero);
    for (size_t i = 0; i < r.accumulators.size(); ++i) {
      NodeId a = r.accumulators[i];
      Value* v = total[i];
      if (g[a].op == Op::mean) v = b.CreateFDiv(v, llvm::ConstantFP::get(type(a), double(num_elements(r.shape))));
      b.CreateStore(v, at(b, type(a), mem(a), i64(b, 0)));
    }
  }

  void elementwise() {
    Region r{k.shape, {}};
    for (const KernelNode& kn : k.nodes) (kn.role == Role::accumulate ? r.accumulators : r.members).push_back(kn.id);
    loop(r);
  }

  void copy(Value* dst, Value* src, int64_t bytes) {
    if (bytes > 0) b.CreateMemCpy(dst, llvm::MaybeAlign(4), src, llvm::MaybeAlign(4), uint64_t(bytes));
  }

  void anchored() {
    const NodeId a = k.anchor;
    const Node& an = g[a];
    if (an.op == Op::reshape) {  // a root reshape: a copy into its root buffer
      copy(mem(a), mem(an.in[0]), env.plan.values[a].bytes);
      return;
    }
    const OpGen& gen = op_gen(an.op);
    if (!gen.kernel) {
      err = fmt::format("the JIT has no code generator for op '{}' (%{})", op_name(an.op), a);
      return;
    }
    std::map<NodeId, Role> role;
    for (const KernelNode& kn : k.nodes) role[kn.id] = kn.role;
    Region pro{an.in.empty() ? Shape{} : g[an.in[0]].shape, {}}, epi{an.shape, {}};
    for (const KernelNode& kn : k.nodes) {
      if (kn.role == Role::prologue) pro.members.push_back(kn.id);
      if (kn.role == Role::epilogue) epi.members.push_back(kn.id);
    }
    Values in;
    bool trans[2] = {false, false};
    for (size_t i = 0; i < an.in.size(); ++i) {
      NodeId o = an.in[i];
      if (k.kind == KernelKind::matmul && i < 2 && k.folded_transpose[i]) {  // the plan folded the transpose: read its operand
        in.push_back(mem(g[o].in[0]));
        trans[i] = g[o].shape.size() == 2;  // (a 1-D transpose reads as it is stored)
      } else if (role.count(o)) {  // computed by the prologue: never read from memory
        in.push_back(llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx)));
      } else {
        in.push_back(mem(o));
      }
    }
    // The anchor's value: in its scratch region if the plan gave it one, else at its home.
    Value* out = nullptr;
    if (region(ScratchUse::anchor)) {
      out = f->getArg(sig.anchor_arg);
    } else if (NodeId home = anchor_home(g, env.plan, k); home >= 0) {
      out = mem(home);
    } else {
      err = fmt::format("internal error: the anchor %{} has no home and no scratch in the plan", a);
      return;
    }
    const ScratchRegion* op_scratch = region(ScratchUse::op);
    KernelCtx kc{b, env.m, g, an, out, in, op_scratch ? at_region(*op_scratch) : nullptr, env.lanes};
    kc.trans[0] = trans[0];
    kc.trans[1] = trans[1];
    bind_parts(kc, f);  // a parallel GEMM computes its part of the column panels
    if (!pro.members.empty()) {  // computed, and stored where materialised, as the anchor reads in[0]
      Layout L = layout(pro);
      const Shape& s = pro.shape;
      const std::vector<int64_t> rm = row_major_strides(s);
      kc.prologue = [this, &pro, L, s, rm, an](Value* si) {
        Values unravelled;
        IndexFn index = [&](int key) -> Value* {
          const std::vector<int64_t>& st = L.keys[key];
          if (st == rm) return si;
          if (std::all_of(st.begin(), st.end(), [](int64_t x) { return x == 0; })) return i64(b, 0);
          if (unravelled.empty())
            for (size_t d = 0; d < s.size(); ++d)
              unravelled.push_back(b.CreateURem(b.CreateUDiv(si, i64(b, rm[d])), i64(b, s[d])));
          return linear_index(b, unravelled, st);
        };
        ValueMap val = eval(pro, L, index);
        store_outputs(pro, val, si);
        NodeId x = an.in[0];
        if (auto it = val.find(x); it != val.end()) return it->second;
        if (Value* c = splat(x)) return c;
        return static_cast<Value*>(b.CreateLoad(type(x), at(b, type(x), mem(x), si)));
      };
    }
    epi.anchor = a;
    epi.anchor_mem = out;
    if (k.kind == KernelKind::matmul && !epi.members.empty()) {  // on each final output tile
      Layout L = layout(epi);
      const Shape &xs = g[an.in[0]].shape, &ys = g[an.in[1]].shape;
      const bool vector_n = !(ys.size() == 2 && ys[1] > 1) && xs.size() == 2;  // output [M] or [M, 1]
      kc.epilogue = [this, &epi, L, vector_n](Value* i, Value* j) {
        Values idx;
        if (epi.shape.size() == 2) idx = {i, j};
        else if (epi.shape.size() == 1) idx = {vector_n ? i : j};
        std::map<int, Value*> cache;
        IndexFn index = [&](int key) {
          Value*& v = cache[key];
          if (!v) v = linear_index(b, idx, L.keys[key]);
          return v;
        };
        ValueMap val = eval(epi, L, index);
        store_outputs(epi, val, index(0));
      };
    }
    gen.kernel(kc);
    if (k.kind != KernelKind::matmul && !epi.members.empty()) loop(epi);  // one pass over the finished result
  }

  // Parallel assignment: the old values that the plan gave a copy region (sources in leaf
  // buffers that the commit overwrites) are copied there first, then every target is written.
  void commit() {
    std::vector<Value*> src;
    for (const Update& u : k.writes) src.push_back(mem(u.value));
    for (const ScratchRegion& r : k.scratch) {
      if (r.use != ScratchUse::copy) continue;
      Value* tmp = at_region(r);
      copy(tmp, src[size_t(r.write)], env.plan.values[k.writes[size_t(r.write)].value].bytes);
      src[size_t(r.write)] = tmp;
    }
    for (size_t w = 0; w < k.writes.size(); ++w) copy(mem(k.writes[w].target), src[w], env.plan.values[k.writes[w].value].bytes);
  }
};

}  // namespace

bool emit_plan_kernel(const KernelGenEnv& env, const Kernel& k, const KernelSig& sig, llvm::Function* f, std::string& err) {
  Builder b(llvm::BasicBlock::Create(f->getContext(), "entry", f));
  Gen gen{env, env.g, k, sig, f, b, err};
  switch (k.kind) {
    case KernelKind::elementwise:
    case KernelKind::update: gen.elementwise(); break;
    case KernelKind::commit: gen.commit(); break;
    default: gen.anchored(); break;
  }
  b.CreateRetVoid();
  return err.empty();
}

}  // namespace kiln::backend
