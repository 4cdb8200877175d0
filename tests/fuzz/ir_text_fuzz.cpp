// libFuzzer target of the IR text reader (parse_ir_text, ir/printer.hpp): arbitrary bytes
// either fail with "line N: ..." or give a graph that verifies or not without crashing,
// prints as dot and JSON, and prints as text that reads back to the same graph, field by
// field, and the same text.
#include "fuzz_check.hpp"
#include "ir/printer.hpp"
#include "printer_test_util.hpp"
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fmt/format.h>

using kiln::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = kiln::fuzz::bytes(data, size);
  std::string err;
  auto g = kiln::parse_ir_text(text, err);
  if (!g) {
    uint64_t line = 0;
    auto [p, ec] = std::from_chars(err.data() + std::min<size_t>(err.size(), 5), err.data() + err.size(), line);
    require(err.rfind("line ", 0) == 0 && ec == std::errc() && std::string_view(p).rfind(": ", 0) == 0,
            "the error is not 'line N: ...': " + err);
    uint64_t lines = uint64_t(std::count(text.begin(), text.end(), '\n')) + 1;
    require(line >= 1 && line <= lines, fmt::format("line {} of a {}-line text in: {}", line, lines, err));
    return 0;
  }
  (void)kiln::verify_graph(*g);
  (void)kiln::print_ir_dot(*g);
  (void)kiln::print_ir_json(*g);
  std::string printed = kiln::print_ir_text(*g);
  auto back = kiln::parse_ir_text(printed, err);
  if (!back) kiln::fuzz::fail("the printed text does not read back: " + err + "\n" + printed);
  std::string diff = kiln::test::graph_difference(*g, *back);
  require(diff.empty(), "the graph changes through the text form: " + diff + "\n" + printed);
  require(kiln::print_ir_text(*back) == printed, "printing is not a fixed point:\n" + printed);
  return 0;
}
