// compile_graph: one LLVM module per graph -- a kernel function per computed node (noalias
// pointer arguments, so loops vectorise) and the step/forward/predict entry points that
// call them in graph order over the buffer table -- optimised at O3 and JIT-compiled.
#include "backend/codegen.hpp"
#include "backend/ops.hpp"
#include "backend/parallel.hpp"
#include "backend/plan.hpp"
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <chrono>
#include <functional>
#include <fmt/format.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

namespace kiln::backend {

namespace {

using llvm::Value;
constexpr const char* kEntryNames[] = {"step", "forward", "predict"};

// A kernel's symbol: <prefix>_<op>_<id>; fused groups <prefix>_fused_[<anchor op>_]<host op>_<host id>.
std::string kernel_name(const Graph& g, const Plan& p, const std::string& prefix, NodeId id) {
  if (p.operands[id].empty()) return fmt::format("{}_{}_{}", prefix, op_name(g[id].op), id);
  std::string anchor = p.anchor[id] >= 0 ? fmt::format("{}_", op_name(g[p.anchor[id]].op)) : "";
  return fmt::format("{}_fused_{}{}_{}", prefix, anchor, op_name(g[id].op), id);
}

struct ModuleGen {
  const Graph& g;
  const Plan& p;
  llvm::Module& m;
  int lanes;
  std::string prefix;
  bool export_kernels;  // external linkage, so that a profiler map can name them
  llvm::LLVMContext& ctx = m.getContext();
  llvm::PointerType* ptr = llvm::PointerType::getUnqual(m.getContext());
  std::vector<llvm::Function*> kernels = std::vector<llvm::Function*>(g.size(), nullptr);
  std::vector<llvm::GlobalVariable*> literals = std::vector<llvm::GlobalVariable*>(g.size(), nullptr);

  llvm::GlobalVariable* literal(NodeId id) {
    if (literals[id]) return literals[id];
    const Node& n = g[id];
    llvm::Type* t = elem_type(ctx, n.dtype);
    int64_t count = std::max<int64_t>(num_elements(n.shape), 1);
    const auto& data = n.attrs.init.data;
    std::vector<llvm::Constant*> vals;
    for (int64_t i = 0; i < count; ++i) {
      double v = data.size() == 1 ? data[0] : data[i];
      vals.push_back(t->isIntegerTy() ? llvm::ConstantInt::get(t, uint64_t(int64_t(v)), true)
                                      : llvm::ConstantFP::get(t, v));
    }
    auto* at = llvm::ArrayType::get(t, count);
    literals[id] = new llvm::GlobalVariable(m, at, true, llvm::GlobalValue::PrivateLinkage,
                                            llvm::ConstantArray::get(at, vals), fmt::format("lit{}", id));
    literals[id]->setAlignment(llvm::Align(64));
    return literals[id];
  }

  // Where kernel `k` stores value v: its own argument `own`, except that a value written
  // in place into a buffer the kernel also reads goes through the operand's argument
  // (same element: loads before stores), so no two noalias arguments alias.
  Value* store_ptr(NodeId k, NodeId v, const std::vector<NodeId>& reads, llvm::Function* f, Value* own) {
    if (!p.in_place[k] || p.loc[v].kind != Loc::buffer) return own;
    for (size_t o = 0; o < reads.size(); ++o)
      if (p.loc[reads[o]].kind == Loc::buffer && p.loc[reads[o]].index == p.loc[v].index) return f->getArg(1 + o);
    return own;
  }

  // The loop of an elementwise node that hosts fused members: every member is evaluated
  // in registers (each once per element, in id order through the expression DAG), only
  // the host is stored. Members have the host's shape, so every operand is read with its
  // broadcast strides to that shape.
  void make_fused_kernel(NodeId id) {
    const Node& n = g[id];
    const std::vector<NodeId>& ops = p.operands[id];
    const NodeId anchor = p.anchor[id];
    const bool scratch = p.scratch[id] >= 0;
    const std::vector<NodeId>& stores = p.stores[id];
    const size_t first_store = 1 + ops.size() + (scratch ? 1 : 0);
    auto* f = create_kernel(m, first_store + stores.size(), kernel_name(g, p, prefix, id), export_kernels,
                            anchor >= 0 ? kernel_parts(g, g[anchor], lanes) : 0);
    Builder b(llvm::BasicBlock::Create(ctx, "entry", f));
    auto operand = [&](NodeId v) { return size_t(std::find(ops.begin(), ops.end(), v) - ops.begin()); };
    // Evaluates the group at one element, in registers (`c` loads the anchor's element),
    // stores the stored members at `index` and returns the host's value.
    auto eval_group = [&](const std::function<Value*(size_t)>& load_operand, const std::function<Value*()>& c,
                          Value* index, NodeId start) {
      std::vector<std::pair<NodeId, Value*>> known;
      std::function<Value*(NodeId)> eval = [&](NodeId v) -> Value* {
        for (auto& [k, x] : known)
          if (k == v) return x;
        Value* x;
        if (v == anchor) {
          x = c();
        } else if (v != id && p.fused_into[v] != id) {  // not a member: read from memory
          x = load_operand(operand(v));
        } else {
          Values xs;
          for (NodeId in : g[v].in) xs.push_back(eval(in));
          ElemCtx e{b, m, g[v], elem_type(ctx, g[v].dtype)};
          x = op_gen(g[v].op).elem(e, xs);
        }
        known.push_back({v, x});
        return x;
      };
      Value* r = eval(start);
      for (size_t s = 0; s < stores.size(); ++s) {
        llvm::Type* t = elem_type(ctx, g[stores[s]].dtype);
        b.CreateStore(eval(stores[s]), at(b, t, store_ptr(id, stores[s], ops, f, f->getArg(first_store + s)), index));
      }
      return r;
    };
    if (anchor >= 0) {  // the matmul, with the group as its epilogue on final output tiles
      const Node& a = g[anchor];
      Values in{f->getArg(1 + operand(effective_input(g, a, 0))), f->getArg(1 + operand(effective_input(g, a, 1)))};
      KernelCtx k{b, m, g, a, f->getArg(0), in, scratch ? f->getArg(1 + ops.size()) : nullptr, lanes};
      bind_parts(k, f);
      const int64_t N = n.shape[1];
      llvm::Type* ot = elem_type(ctx, n.dtype);
      k.epilogue = [&](Value* i, Value* j) {
        Value* cidx = b.CreateAdd(b.CreateMul(i, i64(b, N)), j);
        Value* r = eval_group(
            [&](size_t o) {
              std::vector<int64_t> s = broadcast_strides(g[ops[o]].shape, n.shape);
              llvm::Type* t = elem_type(ctx, g[ops[o]].dtype);
              return b.CreateLoad(t, at(b, t, f->getArg(1 + o), linear_index(b, {i, j}, s)));
            },
            [&] { return b.CreateLoad(ot, at(b, ot, f->getArg(0), cidx)); }, cidx, id);
        b.CreateStore(r, at(b, ot, f->getArg(0), cidx));
      };
      op_gen(a.op).kernel(k);
      b.CreateRetVoid();
      kernels[id] = f;
      return;
    }
    if (NodeId x = p.prologue[id]; x >= 0) {  // the reduction, computing its input as it reads it
      Values in{f->getArg(1)};  // stands for in[0]: never read (the prologue computes it)
      KernelCtx k{b, m, g, n, f->getArg(0), in, scratch ? f->getArg(1 + ops.size()) : nullptr, lanes};
      k.prologue = [&](Value* si) {
        return eval_group(
            [&](size_t o) {
              llvm::Type* t = elem_type(ctx, g[ops[o]].dtype);
              Value* idx = g[ops[o]].shape == g[x].shape ? si : i64(b, 0);
              return static_cast<Value*>(b.CreateLoad(t, at(b, t, f->getArg(1 + o), idx)));
            },
            [] { return static_cast<Value*>(nullptr); }, nullptr, x);
      };
      op_gen(n.op).kernel(k);
      b.CreateRetVoid();
      kernels[id] = f;
      return;
    }
    std::vector<std::vector<int64_t>> st{row_major_strides(n.shape)};
    for (NodeId o : ops) st.push_back(broadcast_strides(g[o].shape, n.shape));
    std::vector<int64_t> dims = collapse_dims(n.shape, st);
    emit_nest(b, dims, [&](const Values& idx) {
      Value* out_index = linear_index(b, idx, st[0]);
      Value* r = eval_group(
          [&](size_t o) {
            llvm::Type* t = elem_type(ctx, g[ops[o]].dtype);
            return b.CreateLoad(t, at(b, t, f->getArg(1 + o), linear_index(b, idx, st[1 + o])));
          },
          [] { return static_cast<Value*>(nullptr); }, out_index, id);
      b.CreateStore(r, at(b, elem_type(ctx, n.dtype), store_ptr(id, id, ops, f, f->getArg(0)), linear_index(b, idx, st[0])));
    });
    b.CreateRetVoid();
    kernels[id] = f;
  }

  void make_kernel(NodeId id) {
    if (!p.operands[id].empty()) return make_fused_kernel(id);
    const Node& n = g[id];
    bool scratch = p.scratch[id] >= 0;
    auto* f = create_kernel(m, 1 + n.in.size() + (scratch ? 1 : 0), fmt::format("{}_{}_{}", prefix, op_name(n.op), id),
                            export_kernels, kernel_parts(g, n, lanes));
    auto* bb = llvm::BasicBlock::Create(ctx, "entry", f);
    Builder b(bb);
    Values in;
    for (size_t i = 0; i < n.in.size(); ++i) in.push_back(f->getArg(1 + i));
    KernelCtx k{b, m, g, n, store_ptr(id, id, n.in, f, f->getArg(0)), in, scratch ? f->getArg(1 + n.in.size()) : nullptr,
                lanes};
    bind_parts(k, f);
    op_gen(n.op).kernel(k);
    b.CreateRetVoid();
    kernels[id] = f;
  }

  void make_entry(Entry e) {
    auto* ft = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
    auto* f = llvm::Function::Create(ft, llvm::GlobalValue::ExternalLinkage,
                                     fmt::format("{}_{}", prefix, kEntryNames[int(e)]), m);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    Builder b(llvm::BasicBlock::Create(ctx, "entry", f));
    Value* table = f->getArg(0);
    std::vector<Value*> bufs(p.buffers.size() + 1, nullptr);
    auto buf = [&](size_t i) {
      if (!bufs[i]) bufs[i] = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, table, i), fmt::format("buf{}", i));
      return bufs[i];
    };
    auto arena_at = [&](int64_t off) { return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), buf(p.buffers.size()), off); };
    auto where = [&](NodeId id) -> Value* {
      const Loc& l = p.loc[id];
      switch (l.kind) {
        case Loc::buffer: return buf(l.index);
        case Loc::arena: return arena_at(l.index);
        case Loc::literal: return literal(NodeId(l.index));
        case Loc::none: break;
      }
      return nullptr;
    };
    const auto& need = p.needed[int(e)];
    for (size_t i = 0; i < g.size(); ++i) {
      if (!need[i] || !kernels[i]) continue;
      std::vector<Value*> args{where(NodeId(i))};
      if (!p.operands[i].empty())
        for (NodeId o : p.operands[i]) args.push_back(where(o));
      else
        for (size_t j = 0; j < g[i].in.size(); ++j) args.push_back(where(effective_input(g, g[i], j)));
      if (p.scratch[i] >= 0) args.push_back(arena_at(p.scratch[i]));
      for (NodeId s : p.stores[i]) args.push_back(where(s));
      emit_kernel_call(b, kernels[i], args);
    }
    auto copy = [&](Value* dst, Value* src, int64_t bytes) {
      if (bytes > 0) b.CreateMemCpy(dst, llvm::MaybeAlign(4), src, llvm::MaybeAlign(4), uint64_t(bytes));
    };
    for (size_t i = 0; i < p.buffers.size(); ++i) {
      const BufferSpec& s = p.buffers[i];
      if (s.kind < BufferKind::loss || !entry_writes(e, s.kind)) continue;
      const Loc& l = p.loc[s.node];
      if (!(l.kind == Loc::buffer && size_t(l.index) == i)) copy(buf(i), where(s.node), s.bytes());
    }
    if (e == Entry::step) {
      for (size_t u = 0; u < g.updates.size(); ++u)  // old values that live in leaf buffers, set aside
        if (p.update_temp[u] >= 0)
          copy(arena_at(p.update_temp[u]), where(g.updates[u].value), p.buffers[p.loc[g.updates[u].value].index].bytes());
      for (size_t u = 0; u < g.updates.size(); ++u) {
        const Update& up = g.updates[u];
        const Loc &lt = p.loc[up.target], &lv = p.loc[up.value];
        if (lv.kind == lt.kind && lv.index == lt.index) continue;
        Value* src = p.update_temp[u] >= 0 ? arena_at(p.update_temp[u]) : where(up.value);
        copy(where(up.target), src, p.buffers[lt.index].bytes());
      }
    }
    b.CreateRetVoid();
  }

  void emit() {
    for (size_t i = 0; i < g.size(); ++i)
      if (p.needed[0][i] && op_row(g[i].op).cls != OpClass::leaf && !op_gen(g[i].op).alias && p.fused_into[i] < 0)
        make_kernel(NodeId(i));
    for (Entry e : {Entry::step, Entry::forward, Entry::predict}) make_entry(e);
  }
};

std::atomic<int> g_counter{0};

// KILN_PERF_MAP=1: kernels are exported and listed in /tmp/perf-<pid>.map, so that
// `perf report` names the JIT's functions.
bool perf_map_wanted() {
  static const bool on = std::getenv("KILN_PERF_MAP") != nullptr;
  return on;
}

void write_perf_map(JitCode& code, const Graph& g, const Plan& plan, const std::string& prefix) {
  std::vector<std::pair<uint64_t, std::string>> syms;
  std::string err;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!plan.needed[0][i] || op_row(g[i].op).cls == OpClass::leaf || op_gen(g[i].op).alias || plan.fused_into[i] >= 0)
      continue;
    std::string name = kernel_name(g, plan, prefix, NodeId(i));
    if (void* p = code.lookup(name, err)) syms.push_back({uint64_t(p), name});
  }
  for (const char* e : kEntryNames) {
    std::string name = fmt::format("{}_{}", prefix, e);
    if (void* p = code.lookup(name, err)) syms.push_back({uint64_t(p), name});
  }
  std::sort(syms.begin(), syms.end());
  std::FILE* f = std::fopen(fmt::format("/tmp/perf-{}.map", getpid()).c_str(), "a");
  if (!f) return;
  for (size_t i = 0; i < syms.size(); ++i) {
    uint64_t size = i + 1 < syms.size() ? syms[i + 1].first - syms[i].first : 4096;
    std::fprintf(f, "%lx %lx %s\n", (unsigned long)syms[i].first, (unsigned long)size, syms[i].second.c_str());
  }
  std::fclose(f);
}

// Builds and verifies the module of a graph (not yet optimised).
std::unique_ptr<llvm::Module> build_module(const Graph& g, JitEngine& je, llvm::LLVMContext& ctx, Plan& plan,
                                           std::string& prefix, std::string& err, int lanes = 0, bool fuse = true) {
  if (!make_plan(g, plan, err, fuse)) return nullptr;
  for (const Update& u : g.updates) {
    const Loc& l = plan.loc[u.target];
    if (l.kind != Loc::buffer || (plan.buffers[l.index].kind != BufferKind::param && plan.buffers[l.index].kind != BufferKind::state)) {
      err = fmt::format("update target %{} is not a declared param or state", u.target);
      return nullptr;
    }
  }
  prefix = fmt::format("kiln{}", g_counter++);
  auto m = std::make_unique<llvm::Module>("kiln." + (g.model_name.empty() ? std::string("model") : g.model_name), ctx);
  je.configure(*m);
  ModuleGen gen{g, plan, *m, lanes > 0 ? lanes : je.vector_lanes(), prefix, perf_map_wanted()};
  gen.emit();
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (llvm::verifyModule(*m, &os)) {
    err = "internal error: the backend generated invalid LLVM IR: " + os.str();
    return nullptr;
  }
  return m;
}

}  // namespace

int CompiledGraph::find(BufferKind k, std::string_view name) const {
  for (size_t i = 0; i < buffers_.size(); ++i)
    if (buffers_[i].kind == k && buffers_[i].name == name) return int(i);
  return -1;
}

std::unique_ptr<CompiledGraph> compile_graph(const Graph& g, const CompileOptions& opt, std::string& err) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  JitEngine* je = JitEngine::shared(err);
  if (!je) return nullptr;
  auto ctx = std::make_unique<llvm::LLVMContext>();
  Plan plan;
  std::string prefix;
  auto m = build_module(g, *je, *ctx, plan, prefix, err, opt.lanes, opt.fuse);
  if (!m) return nullptr;
  auto cg = std::unique_ptr<CompiledGraph>(new CompiledGraph());
  cg->phase_[0] = since(t0);
  auto t1 = Clock::now();
  je->optimize(*m);
  cg->phase_[1] = since(t1);
  if (opt.keep_ir) cg->llvm_ir_ = module_ir_text(*m);
  auto t2 = Clock::now();
  cg->code_ = je->add(std::move(m), std::move(ctx), err);
  if (!cg->code_) return nullptr;
  for (int e = 0; e < 3; ++e) {  // the first lookup compiles the module to machine code
    void* f = cg->code_->lookup(fmt::format("{}_{}", prefix, kEntryNames[e]), err);
    if (!f) return nullptr;
    cg->entries_[e] = reinterpret_cast<EntryFn>(f);
  }
  cg->phase_[2] = since(t2);
  if (perf_map_wanted()) write_perf_map(*cg->code_, g, plan, prefix);
  cg->buffers_ = std::move(plan.buffers);
  cg->arena_bytes_ = plan.arena_bytes;
  cg->unshared_arena_bytes_ = plan.unshared_arena_bytes;
  cg->compile_seconds_ = since(t0);
  return cg;
}

static bool dump(const Graph& g, bool assembly, std::string& out, std::string& err) {
  JitEngine* je = JitEngine::shared(err);
  if (!je) return false;
  llvm::LLVMContext ctx;
  Plan plan;
  std::string prefix;
  auto m = build_module(g, *je, ctx, plan, prefix, err);
  if (!m) return false;
  je->optimize(*m);
  if (!assembly) {
    out = module_ir_text(*m);
    return true;
  }
  return je->assembly(*m, out, err);
}

bool dump_llvm_ir(const Graph& g, std::string& out, std::string& err) { return dump(g, false, out, err); }
bool dump_assembly(const Graph& g, std::string& out, std::string& err) { return dump(g, true, out, err); }

}  // namespace kiln::backend
