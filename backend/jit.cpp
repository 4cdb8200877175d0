// ORC LLJIT for the host CPU: one process-wide engine; each compiled graph's module lives
// under its own resource tracker so that dropping the graph frees its code.
#include "backend/jit.hpp"
#include "backend/thread_pool.hpp"
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>
#include <mutex>

namespace kiln::backend {

namespace {

std::string take(llvm::Error e) { return llvm::toString(std::move(e)); }

class Code final : public JitCode {
 public:
  Code(llvm::orc::LLJIT& jit, llvm::orc::ResourceTrackerSP rt, std::mutex& mu) : jit_(jit), rt_(std::move(rt)), mu_(mu) {}
  ~Code() override {
    std::lock_guard lock(mu_);
    llvm::consumeError(rt_->remove());
  }
  void* lookup(const std::string& name, std::string& err) override {
    std::lock_guard lock(mu_);
    auto addr = jit_.lookup(name);
    if (!addr) {
      err = "JIT lookup of " + name + ": " + take(addr.takeError());
      return nullptr;
    }
    return addr->toPtr<void*>();
  }

 private:
  llvm::orc::LLJIT& jit_;
  llvm::orc::ResourceTrackerSP rt_;
  std::mutex& mu_;
};

class Engine final : public JitEngine {
 public:
  bool init(std::string& err) {
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      err = "cannot target the host CPU: " + take(jtmb.takeError());
      return false;
    }
    cpu_ = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures f;
    for (auto& kv : llvm::sys::getHostCPUFeatures()) f.AddFeature(kv.first(), kv.second);
    features_ = f.getString();
    jtmb->setCPU(cpu_);
    jtmb->getFeatures() = f;
    jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    auto has = [&](const char* name) {
      auto m = llvm::sys::getHostCPUFeatures();
      auto it = m.find(name);
      return it != m.end() && it->second;
    };
    lanes_ = has("avx512f") ? 16 : has("avx2") || has("avx") ? 8 : 4;
    jtmb_ = std::make_unique<llvm::orc::JITTargetMachineBuilder>(*jtmb);
    auto tm = jtmb->createTargetMachine();
    if (!tm) {
      err = "cannot create the host target machine: " + take(tm.takeError());
      return false;
    }
    tm_ = std::move(*tm);
    auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
    if (!jit) {
      err = "cannot create the JIT: " + take(jit.takeError());
      return false;
    }
    jit_ = std::move(*jit);
    // libm (expf, tanhf, erff, log1pf, ...) and anything else the process links.
    auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit_->getDataLayout().getGlobalPrefix());
    if (!gen) {
      err = "cannot search the process for symbols: " + take(gen.takeError());
      return false;
    }
    jit_->getMainJITDylib().addGenerator(std::move(*gen));
    // The runtime's entry for parallel kernels (backend/parallel.hpp), by address: the
    // executable need not export it.
    llvm::orc::SymbolMap rt;
    rt[jit_->mangleAndIntern("kiln_parallel")] = {llvm::orc::ExecutorAddr::fromPtr(&kiln_parallel),
                                                  llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    if (auto e = jit_->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(rt)))) {
      err = "cannot define the JIT's runtime symbols: " + take(std::move(e));
      return false;
    }
    return true;
  }

  const std::string& cpu() const override { return cpu_; }
  const std::string& features() const override { return features_; }
  int vector_lanes() const override { return lanes_; }

  void configure(llvm::Module& m) override {
    m.setTargetTriple(tm_->getTargetTriple().str());
    m.setDataLayout(tm_->createDataLayout());
  }

  void optimize(llvm::Module& m) override {
    std::lock_guard lock(mu_);
    configure(m);
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions pto;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    // No general unrolling: the vectoriser's interleaving gives the loops their ILP, and
    // unrolling every constant-trip-count loop doubled compile time for no measured gain.
    pto.LoopUnrolling = false;
    pto.LoopInterleaving = true;
    llvm::PassBuilder pb(tm_.get(), pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    mpm.run(m, mam);
  }

  std::unique_ptr<JitCode> add(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx,
                               std::string& err) override {
    std::lock_guard lock(mu_);
    configure(*m);
    auto rt = jit_->getMainJITDylib().createResourceTracker();
    if (auto e = jit_->addIRModule(rt, llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)))) {
      err = "JIT: cannot add the module: " + take(std::move(e));
      return nullptr;
    }
    return std::make_unique<Code>(*jit_, std::move(rt), mu_);
  }

  bool assembly(llvm::Module& m, std::string& out, std::string& err) override {
    std::lock_guard lock(mu_);
    configure(m);
    auto tm = jtmb_->createTargetMachine();  // a fresh one: emitting mutates it
    if (!tm) {
      err = "cannot create the host target machine: " + take(tm.takeError());
      return false;
    }
    llvm::SmallVector<char, 0> buf;
    llvm::raw_svector_ostream os(buf);
    llvm::legacy::PassManager pm;
    if ((*tm)->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
      err = "the host target cannot emit assembly";
      return false;
    }
    pm.run(m);
    out.assign(buf.begin(), buf.end());
    return true;
  }

 private:
  std::string cpu_, features_;
  int lanes_ = 4;
  std::unique_ptr<llvm::orc::JITTargetMachineBuilder> jtmb_;
  std::unique_ptr<llvm::TargetMachine> tm_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::mutex mu_;
};

}  // namespace

JitEngine* JitEngine::shared(std::string& err) {
  // Never destroyed: compiled graphs may outlive static destruction at exit.
  static std::once_flag once;
  static Engine* engine = nullptr;
  static std::string init_err;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    auto e = std::make_unique<Engine>();
    if (e->init(init_err)) engine = e.release();
  });
  if (!engine) err = init_err;
  return engine;
}

std::string module_ir_text(const llvm::Module& m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os, nullptr);
  return os.str();
}

}  // namespace kiln::backend
