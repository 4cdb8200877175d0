// check_and_rewrite: the static checks, then the stabilising rewrites with their notes
// filtered like the checks' warnings (passes/diagnostics/driver.hpp).
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
}  // namespace

bool check_and_rewrite(Graph& g, Diagnostics& d, const CheckAndRewriteOptions& opts) {
  CheckOptions co = opts.checks;
  co.rewrite = opts.rewrite;
  if (!co.source) co.source = d.file();
  if (opts.run_checks && !run_static_checks(g, d, co)) return false;
  if (!opts.rewrite) return true;
  Diagnostics notes(d.file());
  stabilize(g, notes);
  for (const Diagnostic& x : notes.all()) {
    if (x.severity == Severity::note && (!check_enabled(co, x.id) || ignored_on_line(co, x))) continue;
    Diagnostic& y = d.report(x.severity, x.id, x.loc, x.message);
    y.notes = x.notes;
    y.fixits = x.fixits;
  }
  return !notes.has_errors();
}

}  // namespace kiln
