// The JIT engine: ORC LLJIT for the host CPU, O3 optimisation with the new pass manager,
// entry-point lookup, and the text of optimised LLVM IR and host assembly (kiln dump).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace llvm {
class Module;
class LLVMContext;
class TargetMachine;
}  // namespace llvm

namespace kiln::backend {

// A handle on code added to the engine; dropping it frees that code.
class JitCode {
 public:
  virtual ~JitCode() = default;
  // The address of a function the module defined; nullptr with a message in err.
  virtual void* lookup(const std::string& name, std::string& err) = 0;
};

class JitEngine {
 public:
  // The process-wide engine (created on first use; thread-safe). nullptr with a message
  // in err when LLVM cannot target the host.
  static JitEngine* shared(std::string& err);

  virtual ~JitEngine() = default;
  // Host CPU name and feature string, as given to the target machine.
  virtual const std::string& cpu() const = 0;
  virtual const std::string& features() const = 0;
  // Widest float vector (in f32 lanes) the host supports well: 16 (AVX-512), 8 (AVX2), 4.
  virtual int vector_lanes() const = 0;
  // Sets the module's triple and data layout to the host's; call before emitting code
  // that depends on them.
  virtual void configure(llvm::Module& m) = 0;
  // Runs the O3 pipeline on the module (configured for the host).
  virtual void optimize(llvm::Module& m) = 0;
  // Adds an (already optimised) module to the JIT; nullptr with a message on error.
  virtual std::unique_ptr<JitCode> add(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx,
                                       std::string& err) = 0;
  // Host assembly of a module (as `llc` prints it); false with a message on error.
  virtual bool assembly(llvm::Module& m, std::string& out, std::string& err) = 0;
};

// Text of a module's LLVM IR.
std::string module_ir_text(const llvm::Module& m);

}  // namespace kiln::backend
