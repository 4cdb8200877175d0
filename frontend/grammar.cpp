// The one translation unit that compiles the X3 grammar: instantiates the entry rule
// for the iterator and context of config.hpp.
#include "frontend/grammar_def.hpp"
#include <array>

namespace kiln::parser {

BOOST_SPIRIT_INSTANTIATE(program_type, iterator_type, context_type)

bool is_keyword(std::string_view word) {
  static constexpr std::array<std::string_view, 11> kKeywords = {
      "model", "dim", "input", "param", "const", "fn", "output", "train", "minimize", "metric", "normalize"};
  for (auto k : kKeywords)
    if (k == word) return true;
  return false;
}

}  // namespace kiln::parser

namespace kiln {
const parser::program_type& program_rule() { return parser::program; }
}  // namespace kiln
