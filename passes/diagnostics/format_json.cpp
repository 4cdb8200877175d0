// `--format=json`: diagnostics as a JSON array (passes/diagnostics/format.hpp), and the
// JSON quoting shared with the SARIF output.
#include "passes/diagnostics/format.hpp"
#include <fmt/format.h>

namespace kiln {


const char* severity_name(Severity s) {
  switch (s) {
    case Severity::note: return "note";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

namespace {
std::string num(uint32_t v, bool valid) { return valid ? std::to_string(v) : "null"; }

// "\"line\":3,\"column\":5,\"end_line\":3,\"end_column\":9" (nulls without a location).
std::string range_fields(const SourceRange& r) {
  bool v = r.valid();
  return fmt::format("\"line\":{},\"column\":{},\"end_line\":{},\"end_column\":{}", num(r.line, v), num(r.col, v),
                     num(r.end_line, v), num(r.end_col, v));
}
}  // namespace

std::string diagnostic_json(const Diagnostic& d, const SourceFile* file) {
  std::string path = file ? json_quote(file->path()) : "null";
  std::string out = fmt::format("{{\"id\":{},\"severity\":\"{}\",\"file\":{},{},\"message\":{},\"notes\":[",
                                json_quote(d.id), severity_name(d.severity), path, range_fields(d.loc),
                                json_quote(d.message));
  for (size_t i = 0; i < d.notes.size(); ++i) {
    const DiagNote& n = d.notes[i];
    out += fmt::format("{}{{\"message\":{},\"file\":{},{}}}", i ? "," : "", json_quote(n.message),
                       n.loc.valid() ? path : "null", range_fields(n.loc));
  }
  out += "],\"fixits\":[";
  for (size_t i = 0; i < d.fixits.size(); ++i) {
    const FixIt& f = d.fixits[i];
    // A fix-it without a range is advice only: its replacement is null so no tool applies it.
    out += fmt::format("{}{{\"message\":{},\"replacement\":{},{}}}", i ? "," : "", json_quote(f.message),
                       f.loc.valid() ? json_quote(f.replacement) : "null", range_fields(f.loc));
  }
  return out + "]}";
}

std::string diagnostics_json(const Diagnostics& d) {
  if (d.all().empty()) return "[]\n";
  std::string out = "[\n";
  for (size_t i = 0; i < d.all().size(); ++i)
    out += "  " + diagnostic_json(d.all()[i], d.file()) + (i + 1 < d.all().size() ? ",\n" : "\n");
  return out + "]\n";
}

}  // namespace kiln
