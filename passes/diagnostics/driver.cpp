// The static checks and the stabilising rewrites with their notes filtered like the
// checks' warnings, as passes (passes/diagnostics/driver.hpp).
#include "passes/diagnostics/driver.hpp"
#include "passes/stabilize.hpp"
#include <algorithm>

namespace kiln {

namespace {

bool ignored_on_line(const CheckOptions& o, const Diagnostic& x) {
  if (!o.source || !x.loc.valid() || x.loc.line > o.source->line_count()) return false;
  auto ids = ignored_ids(o.source->line_text(x.loc.line));
  return std::any_of(ids.begin(), ids.end(), [&](const std::string& i) { return i == "*" || i == x.id; });
}

class ChecksPass final : public Pass {
 public:
  explicit ChecksPass(CheckOptions o) : opts_(std::move(o)) {}
  std::string_view name() const override { return "checks"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    CheckOptions co = opts_;
    if (!co.source) co.source = d.file();
    return run_static_checks(g, d, co) ? PassResult::success(false) : PassResult::failure();
  }

 private:
  CheckOptions opts_;
};

class RewritePass final : public Pass {
 public:
  explicit RewritePass(CheckOptions o) : opts_(std::move(o)) {}
  std::string_view name() const override { return "stabilize"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    CheckOptions co = opts_;
    if (!co.source) co.source = d.file();
    Diagnostics notes(d.file());
    bool changed = stabilize(g, notes);
    for (const Diagnostic& x : notes.all()) {
      if (x.severity == Severity::note && (!check_enabled(co, x.id) || ignored_on_line(co, x))) continue;
      Diagnostic& y = d.report(x.severity, x.id, x.loc, x.message);
      y.notes = x.notes;
      y.fixits = x.fixits;
    }
    return notes.has_errors() ? PassResult::failure() : PassResult::success(changed);
  }

 private:
  CheckOptions opts_;
};

}  // namespace

std::unique_ptr<Pass> make_checks_pass(CheckOptions opts) { return std::make_unique<ChecksPass>(std::move(opts)); }
std::unique_ptr<Pass> make_rewrite_pass(CheckOptions opts) { return std::make_unique<RewritePass>(std::move(opts)); }

}  // namespace kiln
