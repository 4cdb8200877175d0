// Choosing an engine for --engine: the LLVM JIT or the reference interpreter.
#include "runtime/engine.hpp"
#include "backend/codegen.hpp"
#include <fmt/format.h>

namespace kiln {

std::vector<std::string> available_engines() { return {"jit", "interp"}; }

std::string default_engine() { return "jit"; }

std::unique_ptr<Engine> make_engine(Graph g, std::unique_ptr<backend::GeneratedModule> module,
                                    const EngineOptions& opts, std::string& err) {
  if (opts.kind == "interp") return make_interp_engine(std::move(g), opts);
  if (opts.kind == "jit") return make_jit_engine(std::move(g), std::move(module), opts, err);
  err = fmt::format("unknown engine '{}' (expected jit or interp)", opts.kind);
  return nullptr;
}

std::unique_ptr<Engine> make_engine(Graph g, const EngineOptions& opts, std::string& err) {
  return make_engine(std::move(g), nullptr, opts, err);
}

}  // namespace kiln
