// JSON text shared by every JSON writer (IR dumps, kernel plans, diagnostics, SARIF, the
// metrics log, safetensors headers): a string as a quoted, escaped JSON string.
#pragma once
#include <string>
#include <string_view>

namespace kiln {

// "..." with ", \ and control characters escaped (\n \t \r by name, the rest and DEL as \u00XX).
std::string json_quote(std::string_view s);

}  // namespace kiln
