// printable ("[printable]"): bytes from files shown in messages with control characters,
// invalid UTF-8 and bidirectional controls escaped; idempotent; caret widths.
#include "ir/printable.hpp"
#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("printable escapes control bytes and invalid UTF-8 and bidi controls and keeps the rest", "[printable]") {
  CHECK(printable("plain text, 1.5e3 (x)") == "plain text, 1.5e3 (x)");
  CHECK(printable(std::string("a\x1b[31mb\x07", 8)) == "a\\x1b[31mb\\x07");
  CHECK(printable(std::string("nul\0end", 7)) == "nul\\x00end");
  CHECK(printable("tab\tnl\ncr\r") == "tab\\tnl\\ncr\\r");
  CHECK(printable("del\x7f") == "del\\x7f");
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");       // UTF-8 kept
  CHECK(printable("csi\xc2\x9b" "2J") == "csi\\xc2\\x9b2J");                          // C1 control U+009B
  CHECK(printable("latin1 \xe9" "t\xe9") == "latin1 \\xe9t\\xe9");                    // not UTF-8
  CHECK(printable("rlo\xe2\x80\xae" "evil") == "rlo\\xe2\\x80\\xaeevil");               // U+202E
  CHECK(printable("cut \xe2\x82") == "cut \\xe2\\x82");                              // truncated sequence
  CHECK(printable("back\\slash") == "back\\slash");
  std::string nasty("\x1b]0;title\x07\x00\xff\n", 12);
  CHECK(printable(printable(nasty)) == printable(nasty));
  for (char c : printable(nasty)) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE("printable keeps tabs on request and gives each byte's columns", "[printable]") {
  CHECK(printable("a\tb\x1b", true) == "a\tb\\x1b");
  std::string w;
  printable_widths("a\t\x1b\xc3\xa9", true, w);
  REQUIRE(w.size() == 5);
  CHECK(int(w[0]) == 1);
  CHECK(int(w[1]) == 1);  // a tab is copied into the carets' line
  CHECK(int(w[2]) == 4);  // \x1b
  CHECK(int(w[3]) == 1);  // é: one column for its first byte
  CHECK(int(w[4]) == 0);
}
