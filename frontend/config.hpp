// The parser's configuration: iterator, skipper and context types shared by the
// instantiating translation unit (grammar.cpp) and the caller (parse.cpp).
#pragma once
#include <boost/spirit/home/x3.hpp>
#include <string>

namespace kiln {
class Positions;
}

namespace kiln::parser {
namespace x3 = boost::spirit::x3;

// The parser reads a "cooked" copy of the source of the same length: comments are
// blanked, newlines inside ( [ are blanked, tabs/CR are spaces and bytes outside
// printable ASCII become kBadByte. Offsets therefore map 1:1 to the original text.
constexpr char kBadByte = '\x7f';
constexpr int kMaxNesting = 256;  // brackets and unary minus, counted together

using iterator_type = std::string::const_iterator;

// Per-parse mutable state, reachable from every rule through the context.
struct ParseState {
  iterator_type base;             // start of the cooked text
  Positions* positions = nullptr; // receives one span per tagged node
  int depth = 0;                  // current nesting depth
  size_t mark_begin = 0;          // see mark_directive in grammar_def.hpp
};
struct state_tag;

// Thrown (and caught by parse_model) when nesting exceeds kMaxNesting.
struct NestingTooDeep {
  size_t offset;
};

using skipper_type = x3::standard::blank_type;
using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<state_tag, ParseState, phrase_context_type>;

}  // namespace kiln::parser
