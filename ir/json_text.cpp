// json_quote and quote_escaped (ir/json_text.hpp).
#include "ir/json_text.hpp"
#include <fmt/format.h>

namespace kiln {

std::string quote_escaped(std::string_view s, std::string (*control)(unsigned char)) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += control(c);
        else out += ch;
    }
  }
  return out + "\"";
}

std::string json_quote(std::string_view s) {
  return quote_escaped(s, [](unsigned char c) { return fmt::format("\\u{:04x}", c); });
}

}  // namespace kiln
