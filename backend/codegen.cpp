// compile_graph: one LLVM module per graph -- a kernel function per computed node (noalias
// pointer arguments, so loops vectorise) and the step/forward/predict entry points that
// call them in graph order over the buffer table -- optimised at O3 and JIT-compiled.
#include "backend/codegen.hpp"
#include "backend/ops.hpp"
#include "backend/plan.hpp"
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <chrono>
#include <fmt/format.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

namespace kiln::backend {

namespace {

constexpr const char* kEntryNames[] = {"step", "forward", "predict"};

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

  void make_kernel(NodeId id) {
    const Node& n = g[id];
    bool scratch = p.scratch[id] >= 0;
    std::vector<llvm::Type*> args(1 + n.in.size() + (scratch ? 1 : 0), ptr);
    auto* ft = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), args, false);
    auto* f = llvm::Function::Create(ft, export_kernels ? llvm::GlobalValue::ExternalLinkage : llvm::GlobalValue::InternalLinkage,
                                     fmt::format("{}_{}_{}", prefix, op_name(n.op), id), m);
    f->addFnAttr(llvm::Attribute::NoInline);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    for (auto& a : f->args()) {
      a.addAttr(llvm::Attribute::NoAlias);
      a.addAttr(llvm::Attribute::NoCapture);
    }
    auto* bb = llvm::BasicBlock::Create(ctx, "entry", f);
    Builder b(bb);
    Values in;
    for (size_t i = 0; i < n.in.size(); ++i) in.push_back(f->getArg(1 + i));
    KernelCtx k{b, m, g, n, f->getArg(0), in, scratch ? f->getArg(1 + n.in.size()) : nullptr, lanes};
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
      for (size_t j = 0; j < g[i].in.size(); ++j) args.push_back(where(effective_input(g, g[i], j)));
      if (p.scratch[i] >= 0) args.push_back(arena_at(p.scratch[i]));
      b.CreateCall(kernels[i], args);
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
      if (p.needed[0][i] && op_row(g[i].op).cls != OpClass::leaf && !op_gen(g[i].op).alias) make_kernel(NodeId(i));
    for (Entry e : {Entry::step, Entry::forward, Entry::predict}) make_entry(e);
  }
  using Value = llvm::Value;
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
    if (!plan.needed[0][i] || op_row(g[i].op).cls == OpClass::leaf || op_gen(g[i].op).alias) continue;
    std::string name = fmt::format("{}_{}_{}", prefix, op_name(g[i].op), i);
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
                                           std::string& prefix, std::string& err) {
  if (!make_plan(g, plan, err)) return nullptr;
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
  ModuleGen gen{g, plan, *m, je.vector_lanes(), prefix, perf_map_wanted()};
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
  auto m = build_module(g, *je, *ctx, plan, prefix, err);
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
