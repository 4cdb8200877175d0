// printable (ir/printable.hpp): one escaping routine for every message that quotes bytes
// from a file (CSV headers and cells, tensor names, source lines) or the command line.
#include "ir/printable.hpp"
#include <cstdint>

namespace kiln {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1-4), or 0 when the byte there does
// not start one (overlong forms, surrogates and code points past U+10FFFF are not).
size_t utf8_length(std::string_view s, size_t i, uint32_t& cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + len > s.size()) return 0;
  cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

bool shown_escaped(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Calls byte(escape_or_empty, i) for every byte of s.
template <class F>
void walk(std::string_view s, bool keep_tabs, F&& byte) {
  static const char* const hex = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = utf8_length(s, i, cp);
    bool escape = len == 0 || (shown_escaped(cp) && !(keep_tabs && cp == '\t'));
    if (len == 0) len = 1;
    for (size_t k = 0; k < len; ++k) {
      unsigned char c = static_cast<unsigned char>(s[i + k]);
      if (!escape) {
        byte(std::string_view(), i + k);
      } else if (c == '\n' || c == '\t' || c == '\r') {
        const char e[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
        byte(std::string_view(e, 2), i + k);
      } else {
        const char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        byte(std::string_view(e, 4), i + k);
      }
    }
    i += len;
  }
}

}  // namespace

std::string printable(std::string_view s, bool keep_tabs) {
  std::string out;
  out.reserve(s.size());
  walk(s, keep_tabs, [&](std::string_view esc, size_t i) {
    if (esc.empty()) out += s[i];
    else out += esc;
  });
  return out;
}

void printable_widths(std::string_view s, bool keep_tabs, std::string& widths) {
  widths.assign(s.size(), 0);
  walk(s, keep_tabs, [&](std::string_view esc, size_t i) {
    bool continuation = (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
    widths[i] = char(esc.empty() ? (continuation ? 0 : 1) : esc.size());
  });
}

}  // namespace kiln
