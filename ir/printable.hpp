// Bytes that came from a file or the command line, made safe to show in a message: control
// characters, invalid UTF-8 and bidirectional overrides escaped, so none reaches a terminal.
#pragma once
#include <string>
#include <string_view>

namespace kiln {

// `s` with \t \n \r written so, and as \xHH every other byte of a C0 or C1 control
// character (U+0000-U+001F, U+007F-U+009F), of a line/paragraph separator or a
// bidirectional control (U+2028-U+202E, U+2066-U+2069), and of anything that is not
// UTF-8. Everything else, backslashes included, is kept: escaping twice changes nothing.
// `keep_tabs`: tabs are kept too (a quoted source line, whose carets copy its tabs).
std::string printable(std::string_view s, bool keep_tabs = false);

// Columns printable(s) takes in a fixed-width terminal for each byte of s: 1 for a kept
// byte that starts a character (0 for its continuation bytes), the escape's length for
// an escaped byte. For aligning carets under a quoted source line.
void printable_widths(std::string_view s, bool keep_tabs, std::string& widths_out);

}  // namespace kiln
