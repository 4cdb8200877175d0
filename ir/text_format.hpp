// Small helpers shared by the IR printers and the text reader: names (bare or quoted),
// numbers that round-trip exactly, and the spelling of initialisers.
#pragma once
#include "ir/op.hpp"
#include <string>
#include <string_view>

namespace kiln::text {

// A name prints bare when it matches [A-Za-z_][A-Za-z0-9_.]*, else as a quoted string.
bool is_bare_name(std::string_view s);
// "..." with \" \\ \n \t \r and \xHH for other control bytes.
std::string quote(std::string_view s);
std::string name(std::string_view s);  // bare or quoted
// Shortest text that reads back to the same double ("0.1", "1e-08", "inf", "-nan").
std::string number(double v);
// An initialiser as in the language: he_normal, normal(0, 1), constant(0.5), [1,2,3].
std::string init(const Init& in);
// "# file.model:12:10-12:25" (the basename of `file`), or "" when the range is empty.
std::string loc_comment(const std::string& file, const SourceRange& r);

}  // namespace kiln::text
