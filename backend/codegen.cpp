// compile_graph: one LLVM module per graph -- one kernel function per kernel of the kernel
// plans of passes/fusion (one plan per entry point: step, forward, predict, monitor; noalias pointer
// arguments, so loops vectorise) and the entry points that call them in plan order over the
// buffer table and the arena -- optimised at O3 and JIT-compiled.
#include "backend/codegen.hpp"
#include "backend/kernel_gen.hpp"
#include "backend/ops.hpp"
#include "backend/parallel.hpp"
#include "backend/plan.hpp"
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <chrono>
#include <functional>
#include <map>
#include <fmt/format.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

namespace kiln::backend {

namespace {

using llvm::Value;
constexpr const char* kEntryNames[] = {"step", "forward", "predict", "monitor"};

// Where a value's bytes are: a buffer of the table, or an arena offset (literals are
// constants in the module).
struct Place {
  enum Kind : uint8_t { none, buffer, arena, literal } kind = none;
  int64_t index = 0;  // buffer index, arena byte offset, or the literal's node id
  bool operator==(const Place&) const = default;
};

// Every kernel call goes through here: directly, or through the runtime's thread pool for a
// kernel split into parts (backend/parallel.hpp).
void call_kernel(Builder& b, llvm::Function* kernel, llvm::ArrayRef<Value*> args) {
  emit_kernel_call(b, kernel, std::span<Value* const>(args.data(), args.size()));
}

struct ModuleGen {
  const Graph& g;
  const std::vector<BufferSpec>& buffers;
  llvm::Module& m;
  int lanes;
  std::string prefix;
  bool export_kernels;  // external linkage, so that a profiler map can name them
  std::string& err;
  llvm::LLVMContext& ctx = m.getContext();
  llvm::PointerType* ptr = llvm::PointerType::getUnqual(m.getContext());
  std::vector<llvm::GlobalVariable*> literals = std::vector<llvm::GlobalVariable*>(g.size(), nullptr);
  std::vector<int> leaf_buf = std::vector<int>(g.size(), -1);
  std::vector<std::string> kernel_names;
  std::map<std::string, llvm::Function*> shared;  // kernel_key -> its function

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

  // Leaves must be declared (they have buffers), literals must have 1 or all values, and
  // update targets must be params or states.
  bool check(const KernelPlan& plan) {
    for (NodeId i = 0; i < NodeId(g.size()); ++i) {
      const Node& n = g[i];
      Storage s = plan.values[i].storage;
      if (s == Storage::literal) {
        size_t have = n.attrs.init.data.size();
        if (have != 1 && int64_t(have) != num_elements(n.shape)) {
          err = fmt::format("literal %{} has {} values for shape {}", i, have, type_str(n.dtype, n.shape));
          return false;
        }
      } else if (s == Storage::leaf && leaf_buf[i] < 0) {
        err = fmt::format("{} %{} ({}) is not among the graph's declared inputs, params, consts or states",
                          op_name(n.op), i, n.name);
        return false;
      }
    }
    for (const Update& u : g.updates) {
      int b = leaf_buf[u.target];
      if (b < 0 || (buffers[b].kind != BufferKind::param && buffers[b].kind != BufferKind::state)) {
        err = fmt::format("update target %{} is not a declared param or state", u.target);
        return false;
      }
    }
    return true;
  }

  // Everything a kernel's generated code depends on (the rest -- shapes, ops, literals,
  // sizes -- is the graph's): two kernels with the same key have the same code.
  std::string kernel_key(const KernelPlan& plan, const Kernel& k, const KernelSig& sig) {
    std::string key = fmt::format("{} {} s{} a{} t{} n{} h{} |", int(k.kind), k.anchor, k.scratch_bytes, sig.scratch_arg,
                                  sig.anchor_arg, sig.num_args, anchor_home(g, plan, k));
    for (const KernelNode& kn : k.nodes) key += fmt::format(" {}:{}", kn.id, int(kn.role));
    key += " |";
    for (NodeId o : k.outputs) key += fmt::format(" {}:{}", o, int(plan.values[o].storage));
    key += " |";
    for (const Update& u : k.writes) key += fmt::format(" {}<{}", u.target, u.value);
    key += " |";
    for (const ScratchRegion& r : k.scratch) key += fmt::format(" {}:{}:{}+{}", int(r.use), r.write, r.offset, r.bytes);
    key += " |";
    std::vector<std::pair<NodeId, int>> args(sig.arg.begin(), sig.arg.end());
    std::sort(args.begin(), args.end());
    for (auto [v, a] : args) key += fmt::format(" {}@{}", v, a);
    return key;
  }

  // One entry point: its plan's kernels as functions (or those of an earlier entry with the
  // same code), then the entry calling them.
  void emit_entry(Entry e, const KernelPlan& plan) {
    const std::string scope = kEntryNames[int(e)];
    // Root buffers: a root value lives in the first buffer of its node that this entry writes.
    std::vector<int> root_buf(g.size(), -1);
    for (size_t i = buffers.size(); i-- > 0;)
      if (buffers[i].kind >= BufferKind::loss && entry_writes(e, buffers[i].kind)) root_buf[buffers[i].node] = int(i);
    auto place = [&](NodeId v) -> Place {
      const ValuePlace& vp = plan.values[v];
      const ValuePlace& bp = plan.values[vp.base >= 0 ? vp.base : v];
      NodeId base = vp.base >= 0 ? vp.base : v;
      switch (bp.storage) {
        case Storage::leaf: return {Place::buffer, leaf_buf[base]};
        case Storage::literal: return {Place::literal, base};
        case Storage::arena: return {Place::arena, bp.offset};
        case Storage::root: return {Place::buffer, root_buf[base]};
        case Storage::target: return {Place::buffer, leaf_buf[bp.target]};
        default: return {};
      }
    };
    std::vector<llvm::Function*> fns;
    std::vector<std::vector<Place>> fn_args;
    for (size_t ki = 0; ki < plan.kernels.size(); ++ki) {
      const Kernel& k = plan.kernels[ki];
      KernelSig sig;
      std::vector<Place> args;
      auto bind = [&](NodeId v) {
        Place p = place(v);
        if (p.kind == Place::literal || p.kind == Place::none) return;
        auto it = std::find(args.begin(), args.end(), p);
        if (it == args.end()) it = args.insert(args.end(), p);
        sig.arg[v] = int(it - args.begin());
      };
      for (NodeId v : k.inputs) bind(v);
      for (NodeId v : k.outputs) bind(v);
      for (const Update& u : k.writes) {
        bind(u.value);
        bind(u.target);
      }
      // The scratch as the plan laid it out: an anchor region is its own argument (noalias
      // with the op's scratch); the other regions are addressed from the scratch's start.
      for (const ScratchRegion& r : k.scratch) {
        if (r.use == ScratchUse::anchor) {
          sig.anchor_arg = int(args.size());
          args.push_back({Place::arena, k.scratch_offset + r.offset});
        } else if (sig.scratch_arg < 0) {
          sig.scratch_arg = int(args.size());
          args.push_back({Place::arena, k.scratch_offset});
        }
      }
      sig.num_args = int(args.size());
      // A kernel whose code another entry already generated (same nodes, roles, outputs and
      // argument layout: the code depends on nothing else) is called with this entry's places.
      std::string key = kernel_key(plan, k, sig);
      if (auto it = shared.find(key); it != shared.end()) {
        fns.push_back(it->second);
        fn_args.push_back(std::move(args));
        continue;
      }
      std::string name = fmt::format("{}_{}_k{}_{}", prefix, scope, ki, kernel_kind_name(k.kind));
      if (k.anchor >= 0) name += fmt::format("_{}", op_name(g[k.anchor].op));
      else if (!k.nodes.empty()) name += fmt::format("_{}", op_name(g[k.nodes.back().id].op));
      // A GEMM large enough is split into column-panel parts run by the thread pool.
      int64_t parts = k.kind == KernelKind::matmul ? kernel_parts(g, g[k.anchor], lanes) : 0;
      auto* f = create_kernel(m, args.size(), name, export_kernels, parts);
      KernelGenEnv env{g, plan, m, lanes, [this](NodeId id) { return literal(id); }};
      if (!emit_plan_kernel(env, k, sig, f, err)) return;
      kernel_names.push_back(name);
      shared[key] = f;
      fns.push_back(f);
      fn_args.push_back(std::move(args));
    }

    auto* f = llvm::Function::Create(llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false),
                                     llvm::GlobalValue::ExternalLinkage, fmt::format("{}_{}", prefix, scope), m);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    Builder b(llvm::BasicBlock::Create(ctx, "entry", f));
    Value* table = f->getArg(0);
    std::vector<Value*> bufs(buffers.size() + 1, nullptr);
    auto buf = [&](size_t i) {
      if (!bufs[i]) bufs[i] = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, table, i), fmt::format("buf{}", i));
      return bufs[i];
    };
    auto where = [&](const Place& p) -> Value* {
      switch (p.kind) {
        case Place::buffer: return buf(size_t(p.index));
        case Place::arena: return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), buf(buffers.size()), uint64_t(p.index));
        case Place::literal: return literal(NodeId(p.index));
        case Place::none: break;
      }
      return llvm::ConstantPointerNull::get(ptr);
    };
    auto copy = [&](Value* dst, Value* src, int64_t bytes) {
      if (bytes > 0) b.CreateMemCpy(dst, llvm::MaybeAlign(4), src, llvm::MaybeAlign(4), uint64_t(bytes));
    };
    // Root buffers whose node's value lives elsewhere get a copy: leaves, literals and views
    // of them before any kernel (in-place updates may overwrite a leaf), computed values after.
    auto copy_roots = [&](bool leaves) {
      for (size_t i = 0; i < buffers.size(); ++i) {
        const BufferSpec& s = buffers[i];
        if (s.kind < BufferKind::loss || !entry_writes(e, s.kind)) continue;
        Place p = place(s.node);
        // (the monitor entry computes only some metrics: the others keep their values)
        if (p.kind == Place::none || p == Place{Place::buffer, int64_t(i)}) continue;
        NodeId base = plan.values[s.node].base;
        Storage bs = plan.values[base >= 0 ? base : s.node].storage;
        if ((bs == Storage::leaf || bs == Storage::literal) == leaves) copy(buf(i), where(p), s.bytes());
      }
    };
    copy_roots(true);
    for (size_t ki = 0; ki < fns.size(); ++ki) {
      std::vector<Value*> args;
      for (const Place& p : fn_args[ki]) args.push_back(where(p));
      call_kernel(b, fns[ki], args);
    }
    copy_roots(false);
    b.CreateRetVoid();
  }
};

std::atomic<int> g_counter{0};

// KILN_PERF_MAP=1: kernels are exported and listed in /tmp/perf-<pid>.map, so that
// `perf report` names the JIT's functions.
bool perf_map_wanted() {
  static const bool on = std::getenv("KILN_PERF_MAP") != nullptr;
  return on;
}

void write_perf_map(JitCode& code, const std::vector<std::string>& kernels, const std::string& prefix) {
  std::vector<std::pair<uint64_t, std::string>> syms;
  std::string err;
  std::vector<std::string> names = kernels;
  for (const char* e : kEntryNames) names.push_back(fmt::format("{}_{}", prefix, e));
  for (const std::string& name : names)
    if (void* p = code.lookup(name, err)) syms.push_back({uint64_t(p), name});
  std::sort(syms.begin(), syms.end());
  std::FILE* f = std::fopen(fmt::format("/tmp/perf-{}.map", getpid()).c_str(), "a");
  if (!f) return;
  for (size_t i = 0; i < syms.size(); ++i) {
    uint64_t size = i + 1 < syms.size() ? syms[i + 1].first - syms[i].first : 4096;
    std::fprintf(f, "%lx %lx %s\n", (unsigned long)syms[i].first, (unsigned long)size, syms[i].second.c_str());
  }
  std::fclose(f);
}

struct Built {
  std::unique_ptr<llvm::Module> module;
  std::vector<BufferSpec> buffers;
  std::vector<std::string> kernels;
  std::string prefix;
  int64_t arena_bytes = 0, unshared_arena_bytes = 0;
};

// Builds and verifies the module of a graph's plans (not yet optimised).
bool build_module(const Graph& g, const EntryPlans& plans, JitEngine& je, llvm::LLVMContext& ctx, Built& out,
                  std::string& err, const CompileOptions& opt) {
  const int lanes = opt.lanes;
  out.buffers = buffer_table(g);
  out.prefix = fmt::format("kiln{}", g_counter++);
  auto m = std::make_unique<llvm::Module>("kiln." + (g.model_name.empty() ? std::string("model") : g.model_name), ctx);
  je.configure(*m);
  ModuleGen gen{g, out.buffers, *m, lanes > 0 ? lanes : je.vector_lanes(), out.prefix, perf_map_wanted(), err};
  for (size_t i = 0; i < out.buffers.size() && out.buffers[i].kind < BufferKind::loss; ++i) gen.leaf_buf[out.buffers[i].node] = int(i);
  for (Entry e : {Entry::step, Entry::forward, Entry::predict, Entry::monitor}) {
    KernelPlan adjusted;
    const KernelPlan* planp = &plans[size_t(e)];
    if (opt.adjust_plan) {  // tests: a moved layout the code must follow
      adjusted = *planp;
      opt.adjust_plan(e, adjusted);
      planp = &adjusted;
    }
    const KernelPlan& plan = *planp;
    if (!gen.check(plan)) return false;
    gen.emit_entry(e, plan);
    if (!err.empty()) return false;
    out.arena_bytes = std::max(out.arena_bytes, plan.memory.peak_bytes);
    out.unshared_arena_bytes = std::max(out.unshared_arena_bytes, plan.memory.unshared_bytes);
  }
  out.kernels = std::move(gen.kernel_names);
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (llvm::verifyModule(*m, &os)) {
    err = "internal error: the backend generated invalid LLVM IR: " + os.str();
    return false;
  }
  out.module = std::move(m);
  return true;
}

}  // namespace

// LLVM's remarks and warnings (e.g. "loop not vectorized" where a pinned vectorisation hint
// cannot apply, which is a performance note, not a user's problem) stay off the user's
// terminal; errors still reach LLVM's default handling.
static void quiet_llvm_diagnostics(llvm::LLVMContext& ctx) {
  ctx.setDiagnosticHandlerCallBack(
      [](const llvm::DiagnosticInfo* di, void*) {
        if (di->getSeverity() == llvm::DS_Error) {
          llvm::DiagnosticPrinterRawOStream printer(llvm::errs());
          di->print(printer);
          llvm::errs() << "\n";
        }
      },
      nullptr);
}

int CompiledGraph::find(BufferKind k, std::string_view name) const {
  for (size_t i = 0; i < buffers_.size(); ++i)
    if (buffers_[i].kind == k && buffers_[i].name == name) return int(i);
  return -1;
}

using Clock = std::chrono::steady_clock;
static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct GeneratedModule::Parts {
  std::unique_ptr<llvm::LLVMContext> ctx;
  Built built;  // the module, the buffer table, the names
  JitEngine* je = nullptr;
};

GeneratedModule::GeneratedModule() = default;
GeneratedModule::~GeneratedModule() = default;

std::string GeneratedModule::ir_text() const { return module_ir_text(*parts_->built.module); }

bool GeneratedModule::assembly(std::string& out, std::string& err) const {
  return parts_->je->assembly(*parts_->built.module, out, err);
}

EntryPlans codegen_plans(const Graph& g, bool fuse) {
  EntryPlans plans;
  for (Entry e : {Entry::step, Entry::forward, Entry::predict, Entry::monitor})
    plans[size_t(e)] = codegen_plan(g, entry_scope(e), fuse);
  return plans;
}

std::unique_ptr<GeneratedModule> generate_module(const Graph& g, const EntryPlans& plans, const CompileOptions& opt,
                                                 std::string& err) {
  auto t0 = Clock::now();
  JitEngine* je = JitEngine::shared(err);
  if (!je) return nullptr;
  auto m = std::unique_ptr<GeneratedModule>(new GeneratedModule());
  m->parts_ = std::make_unique<GeneratedModule::Parts>();
  m->parts_->je = je;
  m->parts_->ctx = std::make_unique<llvm::LLVMContext>();
  quiet_llvm_diagnostics(*m->parts_->ctx);
  if (!build_module(g, plans, *je, *m->parts_->ctx, m->parts_->built, err, opt)) return nullptr;
  m->keep_ir_ = opt.keep_ir;
  m->generate_s_ = seconds_since(t0);
  return m;
}

void optimize_module(GeneratedModule& m) {
  auto t0 = Clock::now();
  m.parts_->je->optimize(*m.parts_->built.module);
  m.optimized_ = true;
  m.optimize_s_ = seconds_since(t0);
}

std::unique_ptr<CompiledGraph> load_module(std::unique_ptr<GeneratedModule> m, std::string& err) {
  auto t0 = Clock::now();
  Built& built = m->parts_->built;
  const std::string prefix = built.prefix;
  auto cg = std::unique_ptr<CompiledGraph>(new CompiledGraph());
  if (m->keep_ir_) cg->llvm_ir_ = module_ir_text(*built.module);
  cg->code_ = m->parts_->je->add(std::move(built.module), std::move(m->parts_->ctx), err);
  if (!cg->code_) return nullptr;
  for (int e = 0; e < 4; ++e) {  // the first lookup compiles the module to machine code
    void* f = cg->code_->lookup(fmt::format("{}_{}", prefix, kEntryNames[e]), err);
    if (!f) return nullptr;
    cg->entries_[e] = reinterpret_cast<EntryFn>(f);
  }
  if (perf_map_wanted()) write_perf_map(*cg->code_, built.kernels, prefix);
  cg->phase_[0] = m->generate_s_;
  cg->phase_[1] = m->optimize_s_;
  cg->phase_[2] = seconds_since(t0);
  cg->buffers_ = std::move(built.buffers);
  cg->arena_bytes_ = built.arena_bytes;
  cg->unshared_arena_bytes_ = built.unshared_arena_bytes;
  cg->compile_seconds_ = cg->phase_[0] + cg->phase_[1] + cg->phase_[2];
  return cg;
}

std::unique_ptr<CompiledGraph> compile_graph(const Graph& g, const CompileOptions& opt, std::string& err) {
  auto t0 = Clock::now();
  EntryPlans plans = codegen_plans(g, opt.fuse);
  auto m = generate_module(g, plans, opt, err);
  if (!m) return nullptr;
  m->generate_s_ = seconds_since(t0);  // (the plans included, as before the pipeline split them off)
  optimize_module(*m);
  auto cg = load_module(std::move(m), err);
  if (cg) cg->compile_seconds_ = seconds_since(t0);
  return cg;
}

static bool dump(const Graph& g, bool assembly, std::string& out, std::string& err) {
  auto m = generate_module(g, codegen_plans(g), {}, err);
  if (!m) return false;
  optimize_module(*m);
  if (!assembly) {
    out = m->ir_text();
    return true;
  }
  return m->assembly(out, err);
}

bool dump_llvm_ir(const Graph& g, std::string& out, std::string& err) { return dump(g, false, out, err); }
bool dump_assembly(const Graph& g, std::string& out, std::string& err) { return dump(g, true, out, err); }

}  // namespace kiln::backend
