// compile_graph: a whole IR graph to native code through LLVM. A CompiledGraph has four
// entry points over one buffer table (see docs/backend.md for the ABI):
//   step     every root (loss, outputs, metrics, grads), then each g.updates value is
//            written into its target's buffer (all values are read before any write);
//   forward  only what the loss, outputs and metrics need;
//   predict  only what the outputs need (no labels required);
//   monitor  only the metrics computed from states alone (the run-time monitors' lagged
//            sums, passes/monitor_ir.hpp; nothing for other graphs).
#pragma once
#include "backend/jit.hpp"
#include "ir/graph.hpp"
#include "ir/interpreter.hpp"
#include "passes/kernel_plan.hpp"
#include <functional>
#include <array>
#include <memory>
#include <string>
#include <vector>

namespace kiln::backend {

enum class BufferKind : uint8_t { input, param, const_, state, loss, output, metric, grad };
std::string_view buffer_kind_name(BufferKind k);

// One caller-provided buffer: a leaf's value or a root's result, dense row-major, of its
// element type (f32 float, f64 double, i32 int32_t).
struct BufferSpec {
  BufferKind kind;
  std::string name;  // the leaf's, output's or metric's name; "loss"; a grad: its param's name
  NodeId node;       // the leaf; for roots, the node computed into it
  DType dtype;
  Shape shape;
  int64_t bytes() const;
};

// Every entry point: buffers[i] is the storage of buffers()[i], and
// buffers[buffers().size()] the arena (arena_bytes(), 64-byte aligned, no contents kept
// between calls). Entries may be given nullptr for buffers they do not touch (forward:
// grads; predict: grads, loss, metrics and inputs that only they read).
using EntryFn = void (*)(void* const* buffers);
enum class Entry : uint8_t { step, forward, predict, monitor };

struct CompileOptions {
  bool keep_ir = false;  // keep the optimised LLVM IR text in CompiledGraph::llvm_ir
  // f32 lanes the hand-vectorised kernels (GEMM) assume; 0: the host's widest (16 with
  // AVX-512, 8 with AVX2). Smaller values exercise the narrower hosts' code paths.
  int lanes = 0;
  // Fusion (passes/fusion): false plans one kernel per node (for comparisons and timing).
  bool fuse = true;
  // Tests: called with each entry's plan (codegen_plan's) before its code is generated, e.g.
  // to move the kernels' scratch regions and show that the code follows the plan. The plan
  // must stay sound (check_kernel_plan).
  std::function<void(Entry, KernelPlan&)> adjust_plan;
};

class GeneratedModule;

class CompiledGraph {
 public:
  const std::vector<BufferSpec>& buffers() const { return buffers_; }
  int64_t arena_bytes() const { return arena_bytes_; }
  // The arena had every intermediate and scratch its own slot (no liveness sharing).
  int64_t unshared_arena_bytes() const { return unshared_arena_bytes_; }
  EntryFn entry(Entry e) const { return entries_[static_cast<int>(e)]; }
  // Index of the buffer of that kind and name; -1 when there is none.
  int find(BufferKind k, std::string_view name) const;
  double compile_seconds() const { return compile_seconds_; }
  // The parts of compile_seconds: IR generation, the O3 pipeline, machine code.
  double ir_seconds() const { return phase_[0]; }
  double opt_seconds() const { return phase_[1]; }
  double codegen_seconds() const { return phase_[2]; }
  const std::string& llvm_ir() const { return llvm_ir_; }

 private:
  friend std::unique_ptr<CompiledGraph> load_module(std::unique_ptr<GeneratedModule>, std::string&);
  friend std::unique_ptr<CompiledGraph> compile_graph(const Graph&, const CompileOptions&, std::string&);
  std::vector<BufferSpec> buffers_;
  int64_t arena_bytes_ = 0;
  int64_t unshared_arena_bytes_ = 0;
  EntryFn entries_[4] = {};
  double compile_seconds_ = 0;
  double phase_[3] = {};
  std::string llvm_ir_;
  std::unique_ptr<JitCode> code_;
};

// Compiles the graph for the host CPU; nullptr with a message in err when it cannot
// (an op without a generator, a leaf missing from the graph's declarations, LLVM errors).
// The steps of the compile pipeline in one call: codegen_plans, generate_module,
// optimize_module, load_module.
std::unique_ptr<CompiledGraph> compile_graph(const Graph& g, const CompileOptions& opt, std::string& err);

// The kernel plans of the four entry points (codegen_plan of each scope, indexed by Entry).
using EntryPlans = std::array<KernelPlan, 4>;
EntryPlans codegen_plans(const Graph& g, bool fuse = true);

// The LLVM module of a graph's entry points before the JIT loads it: the stage `llvm` of
// the compile pipeline (runtime/compile.hpp), printed by `kiln dump --stage=llvm` (ir_text,
// after optimize_module) and `--stage=asm` (assembly), and loaded by load_module.
class GeneratedModule {
 public:
  ~GeneratedModule();
  bool optimized() const { return optimized_; }
  // The module's LLVM IR as text.
  std::string ir_text() const;
  // Its host assembly, as `llc` prints it; false with a message on an LLVM error.
  bool assembly(std::string& out, std::string& err) const;

 private:
  friend std::unique_ptr<GeneratedModule> generate_module(const Graph&, const EntryPlans&, const CompileOptions&,
                                                          std::string&);
  friend void optimize_module(GeneratedModule&);
  friend std::unique_ptr<CompiledGraph> load_module(std::unique_ptr<GeneratedModule>, std::string&);
  friend std::unique_ptr<CompiledGraph> compile_graph(const Graph&, const CompileOptions&, std::string&);
  GeneratedModule();
  struct Parts;
  std::unique_ptr<Parts> parts_;  // the LLVM context and module, the buffer table, the names
  bool optimized_ = false;
  bool keep_ir_ = false;
  double generate_s_ = 0, optimize_s_ = 0;
};

// Generates (and verifies) the module of the plans' kernels and entry points for the
// host CPU. nullptr with a message in err when it cannot.
std::unique_ptr<GeneratedModule> generate_module(const Graph& g, const EntryPlans& plans, const CompileOptions& opt,
                                                 std::string& err);
// Runs LLVM's O3 pipeline on it.
void optimize_module(GeneratedModule& m);
// Loads the (optimised) module into the JIT: machine code for the host, the entry points
// looked up. The CompiledGraph's phases are the module's generation and optimisation and
// this load (codegen_seconds). nullptr with a message in err on an LLVM error.
std::unique_ptr<CompiledGraph> load_module(std::unique_ptr<GeneratedModule> m, std::string& err);

// The kernel plan the backend compiles for one entry point (step, forward, predict, monitor):
// passes/fusion's plan_kernels(g, scope, {fuse}) with every kernel's scratch laid out
// (Kernel::scratch: the op's scratch, an anchor value that has no home among the kernel's
// outputs, the commit kernel's copies of old values; the code reads this layout) and the
// memory re-planned. The entry's code is exactly this
// plan: one LLVM function per kernel (`<prefix>_<scope>_k<index>_<kind>[_<op>]`, op: the
// anchor's, or the last node's of an elementwise/update kernel; forward and predict call an
// earlier entry's function where the code is the same), called in order; `kiln dump
// --stage=fused` prints it. arena_bytes() is the largest peak of the three plans.
KernelPlan codegen_plan(const Graph& g, PlanScope scope, bool fuse = true);

// The optimised LLVM IR and the host assembly of a graph (generate_module and
// optimize_module, then ir_text or assembly).
bool dump_llvm_ir(const Graph& g, std::string& out, std::string& err);
bool dump_assembly(const Graph& g, std::string& out, std::string& err);

// Host memory for every buffer and the arena, with conversions from and to the
// interpreter's tensors: the simplest way to run a CompiledGraph (tests, --engine=jit).
class HostBuffers {
 public:
  explicit HostBuffers(const CompiledGraph& cg);
  ~HostBuffers();
  HostBuffers(const HostBuffers&) = delete;
  HostBuffers& operator=(const HostBuffers&) = delete;
  // Copies every input, param, const and state found in `leaves` (by name, checking the
  // shape); false with a message if one is missing or mis-shaped (inputs may be missing
  // when `inputs_optional`).
  bool set_leaves(const ValueMap& leaves, std::string& err, bool inputs_optional = false);
  // Copies params and states back into `leaves`.
  void get_state(ValueMap& leaves) const;
  void run(Entry e) const { cg_.entry(e)(ptrs_.data()); }
  Tensor get(size_t i) const;
  void set(size_t i, const Tensor& t);  // t must have the buffer's number of elements
  void* data(size_t i) const { return ptrs_[i]; }

 private:
  const CompiledGraph& cg_;
  static constexpr int64_t kSmall = 16;  // bytes: buffers this small are packed together
  std::vector<void*> ptrs_;  // buffers, then the arena, in block_
  void* block_ = nullptr;
};

}  // namespace kiln::backend
