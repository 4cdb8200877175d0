// JSON text shared by every JSON writer (IR dumps, kernel plans, diagnostics, SARIF, the
// metrics log, safetensors headers): a string as a quoted, escaped JSON string.
#pragma once
#include <string>
#include <string_view>

namespace kiln {

// "..." with ", \ and control characters escaped (\n \t \r by name, the rest and DEL as \u00XX).
std::string json_quote(std::string_view s);

// The same quoting with the rest of the control characters and DEL written by `control`
// (JSON: \u00XX; the IR text form, ir/text_format.hpp: \xXX).
std::string quote_escaped(std::string_view s, std::string (*control)(unsigned char));

}  // namespace kiln
