// Clang-style rendering of diagnostics: location, severity, message, id, source line, carets.
#include "ir/diagnostics.hpp"
#include "ir/printable.hpp"
#include <fmt/format.h>

namespace kiln {

Diagnostic& Diagnostics::report(Severity s, std::string id, SourceRange loc, std::string message) {
  diags_.push_back(Diagnostic{s, std::move(id), std::move(message), loc, {}, {}});
  return diags_.back();
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  size_t n = 0;
  for (auto& d : diags_) n += d.severity == Severity::error;
  return n;
}

namespace {
const char* sev_name(Severity s) {
  switch (s) {
    case Severity::note: return "note";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "";
}
const char* sev_color(Severity s) {
  return s == Severity::error ? "\033[1;31m" : s == Severity::warning ? "\033[1;35m" : "\033[1;36m";
}

// "   10 | text\n      |    ^~~~\n" for a range (clipped to its first line).
std::string snippet(const SourceFile& f, const SourceRange& r, bool color) {
  if (!r.valid() || r.line > f.line_count()) return {};
  std::string_view text = f.line_text(r.line);
  std::string num = std::to_string(r.line);
  std::string pad(std::max<size_t>(num.size(), 4), ' ');
  // The line as printable text (control bytes escaped, tabs kept); carets follow the
  // columns each byte takes there.
  std::string out = fmt::format(" {:>{}} | {}\n", num, pad.size(), printable(text, true));
  std::string widths;
  printable_widths(text, true, widths);
  auto width = [&](size_t i) -> size_t { return i < text.size() ? size_t(widths[i]) : 1; };
  size_t col = r.col ? r.col - 1 : 0;
  size_t end = r.end_line == r.line ? (r.end_col ? r.end_col - 1 : col + 1) : text.size();
  if (end <= col) end = col + 1;
  std::string marks;
  for (size_t i = 0; i < col; ++i)
    if (i < text.size() && text[i] == '\t') marks += '\t';
    else marks.append(width(i), ' ');
  size_t span = 0;
  for (size_t i = col; i < end; ++i) span += width(i);
  marks += '^';
  marks += std::string(std::max<size_t>(span, 1) - 1, '~');
  out += fmt::format(" {} | {}{}{}\n", pad, color ? "\033[1;32m" : "", marks, color ? "\033[0m" : "");
  return out;
}
}  // namespace

std::string Diagnostics::render(const Diagnostic& d, bool color) const {
  // Messages may quote bytes of files (CSV column names, tensor names): shown escaped.
  std::string path = printable(file_ ? file_->path() : std::string("<input>"));
  std::string out;
  std::string where = d.loc.valid() ? fmt::format("{}:{}:{}: ", path, d.loc.line, d.loc.col) : fmt::format("{}: ", path);
  if (color)
    out += fmt::format("\033[1m{}{}{}:\033[0m\033[1m {}\033[0m [{}]\n", where, sev_color(d.severity), sev_name(d.severity),
                       printable(d.message), printable(d.id));
  else
    out += fmt::format("{}{}: {} [{}]\n", where, sev_name(d.severity), printable(d.message), printable(d.id));
  if (file_) out += snippet(*file_, d.loc, color);
  for (auto& n : d.notes) {
    if (n.loc.valid() && file_) {
      out += fmt::format("{}:{}:{}: note: {}\n", path, n.loc.line, n.loc.col, printable(n.message));
      out += snippet(*file_, n.loc, color);
    } else {
      out += fmt::format("note: {}\n", printable(n.message));
    }
  }
  for (auto& f : d.fixits) out += fmt::format("fix-it: {}\n", printable(f.message));
  return out;
}

std::string Diagnostics::render_all(bool color) const {
  std::string out;
  for (auto& d : diags_) out += render(d, color);
  return out;
}

void Diagnostics::print(std::FILE* out, bool color) const {
  std::string s = render_all(color);
  std::fwrite(s.data(), 1, s.size(), out);
}

}  // namespace kiln
