// Names, numbers, initialisers and location comments as spelled in the IR text form.
#include "ir/text_format.hpp"
#include "ir/json_text.hpp"
#include <fmt/format.h>

namespace kiln::text {

bool is_bare_name(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '.') return false;
  return true;
}

std::string quote(std::string_view s) {
  return quote_escaped(s, [](unsigned char c) { return fmt::format("\\x{:02x}", c); });
}

std::string name(std::string_view s) { return is_bare_name(s) ? std::string(s) : quote(s); }

std::string number(double v) { return fmt::format("{}", v); }

std::string init(const Init& in) {
  switch (in.kind) {
    case InitKind::constant: return fmt::format("constant({})", number(in.a));
    case InitKind::normal: return fmt::format("normal({}, {})", number(in.a), number(in.b));
    case InitKind::uniform: return fmt::format("uniform({}, {})", number(in.a), number(in.b));
    case InitKind::literal: {
      std::string s = "[";
      for (size_t i = 0; i < in.data.size(); ++i) s += (i ? "," : "") + number(in.data[i]);
      return s + "]";
    }
    default: return std::string(init_name(in.kind));
  }
}

std::string loc_comment(const std::string& file, const SourceRange& r) {
  if (r == SourceRange{}) return {};
  std::string base = file.substr(file.find_last_of('/') + 1);  // npos + 1 == 0
  for (char& c : base)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';  // keep the comment on one line
  return fmt::format("# {}{}{}:{}-{}:{}", base, base.empty() ? "" : ":", r.line, r.col, r.end_line, r.end_col);
}

}  // namespace kiln::text
