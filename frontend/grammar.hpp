// Declaration of the `.model` grammar's entry rule (defined in grammar_def.hpp,
// instantiated once in grammar.cpp).
#pragma once
#include "frontend/ast.hpp"
#include "frontend/config.hpp"
#include <string_view>

namespace kiln::parser {

struct program_class;
using program_type = x3::rule<program_class, ast::Program>;
BOOST_SPIRIT_DECLARE(program_type)

// The keywords of LANGUAGE.md, which are never names.
bool is_keyword(std::string_view word);

}  // namespace kiln::parser

namespace kiln {
const parser::program_type& program_rule();
}
