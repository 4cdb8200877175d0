// Choosing an engine for --engine: the reference interpreter always; the JIT once the
// backend registers it here.
#include "runtime/engine.hpp"
#include <fmt/format.h>

namespace kiln {

std::vector<std::string> available_engines() { return {"interp"}; }

std::string default_engine() { return "interp"; }

std::unique_ptr<Engine> make_engine(Graph g, const EngineOptions& opts, std::string& err) {
  if (opts.kind == "interp") return make_interp_engine(std::move(g), opts);
  if (opts.kind == "jit") {
    err = "the jit engine is not available in this build yet (use --engine interp)";
    return nullptr;
  }
  err = fmt::format("unknown engine '{}' (expected jit or interp)", opts.kind);
  return nullptr;
}

}  // namespace kiln
