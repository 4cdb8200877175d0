// parse_model: prepares the text, runs the X3 grammar, and turns a parse failure into
// one located diagnostic in the user's terms; also Positions and AST tidying.
#include "frontend/parse.hpp"
#include "frontend/grammar.hpp"
#include <fmt/format.h>

namespace kiln {

SourceRange Positions::of(const ast::x3::position_tagged& node) const {
  if (!file_ || node.id_first < 0 || static_cast<size_t>(node.id_first) >= spans_.size()) return {};
  auto [b, e] = spans_[static_cast<size_t>(node.id_first)];
  return file_->range(b, e);
}

std::pair<size_t, size_t> Positions::offsets(const ast::x3::position_tagged& node) const {
  if (node.id_first < 0 || static_cast<size_t>(node.id_first) >= spans_.size()) return {0, 0};
  return spans_[static_cast<size_t>(node.id_first)];
}

namespace {
namespace x3 = boost::spirit::x3;
using parser::kBadByte;

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The cooked copy of the source (see config.hpp): same length, same offsets.
std::string cook(const std::string& text) {
  std::string out = text;
  int depth = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (c == '#') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
      if (i < out.size() && depth > 0) out[i] = ' ';
      continue;
    }
    if (c == '\n') {
      if (depth > 0) out[i] = ' ';
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      if (depth > 0) --depth;
    } else if (c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      out[i] = ' ';
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      out[i] = kBadByte;
    }
  }
  return out;
}

enum class TokKind { eof, newline, word, number, punct, bad };
struct Token {
  size_t begin = 0, end = 0;
  TokKind kind = TokKind::eof;
};

size_t skip_blanks(const std::string& c, size_t p) {
  while (p < c.size() && c[p] == ' ') ++p;
  return p;
}

Token token_at(const std::string& c, size_t p) {
  Token t{p, p, TokKind::eof};
  if (p >= c.size()) return t;
  char ch = c[p];
  if (ch == '\n') return {p, p + 1, TokKind::newline};
  if (ch == kBadByte) return {p, p + 1, TokKind::bad};
  if (is_ident_char(ch)) {
    bool digit = ch >= '0' && ch <= '9';
    size_t e = p;
    while (e < c.size() && (is_ident_char(c[e]) || (digit && c[e] == '.'))) ++e;
    return {p, e, digit ? TokKind::number : TokKind::word};
  }
  if (p + 1 < c.size() && c[p + 1] == '=' && (ch == '<' || ch == '>' || ch == '=' || ch == '!'))
    return {p, p + 2, TokKind::punct};
  return {p, p + 1, TokKind::punct};
}

// The token that ends at or before p (skipping blanks and newlines); eof kind if none.
Token token_before(const std::string& c, size_t p) {
  size_t e = std::min(p, c.size());
  while (e > 0 && (c[e - 1] == ' ' || c[e - 1] == '\n')) --e;
  if (e == 0) return {};
  size_t b = e - 1;
  if (is_ident_char(c[b]) || c[b] == '.') {
    while (b > 0 && (is_ident_char(c[b - 1]) || c[b - 1] == '.')) --b;
    return {b, e, TokKind::word};
  }
  if (c[b] == '=' && b > 0 && (c[b - 1] == '<' || c[b - 1] == '>' || c[b - 1] == '=' || c[b - 1] == '!'))
    return {b - 1, e, TokKind::punct};
  return {b, e, c[b] == kBadByte ? TokKind::bad : TokKind::punct};
}

std::string text_of(const std::string& original, const Token& t) {
  return original.substr(t.begin, t.end - t.begin);
}

// How a token is named in a message: 'foo', the end of the line, byte 0xC3.
std::string describe(const std::string& original, const Token& t) {
  switch (t.kind) {
    case TokKind::eof: return "the end of the file";
    case TokKind::newline: return "the end of the line";
    case TokKind::bad:
      return fmt::format("byte 0x{:02X}", static_cast<unsigned>(static_cast<unsigned char>(original[t.begin])));
    default: return "'" + text_of(original, t) + "'";
  }
}

struct Opener {
  size_t offset = 0;
  char ch = 0;
  bool found = false;
};

// The innermost bracket of the given kinds still open at p (the grammar has accepted
// everything before p, so brackets before it are balanced).
Opener innermost_open(const std::string& c, size_t p, std::string_view kinds) {
  std::vector<size_t> stack;
  for (size_t i = 0; i < p && i < c.size(); ++i) {
    char ch = c[i];
    if (ch == '(' || ch == '[' || ch == '{')
      stack.push_back(i);
    else if ((ch == ')' || ch == ']' || ch == '}') && !stack.empty())
      stack.pop_back();
  }
  for (auto it = stack.rbegin(); it != stack.rend(); ++it)
    if (kinds.find(c[*it]) != std::string_view::npos) return {*it, c[*it], true};
  return {};
}

struct Failure {
  std::string message;
  size_t begin, end;
};

class ErrorDescriber {
 public:
  ErrorDescriber(const SourceFile& file, const std::string& cooked) : file_(file), c_(cooked), o_(file.text()) {}

  // An expectation failure labelled `which` at offset `where`.
  Failure expected(const std::string& which, size_t where) const {
    size_t p = skip_blanks(c_, where);
    Token tok = token_at(c_, p);
    Token prev = token_before(c_, where);
    std::string tok_text = tok.kind == TokKind::word ? text_of(o_, tok) : "";
    if (tok.kind == TokKind::bad)
      return at_token(tok, fmt::format("unexpected {} (only ASCII text is allowed outside comments)", describe(o_, tok)));

    // A keyword where a name or a value was wanted.
    bool wants_name = which.rfind("@name", 0) == 0 || which == "@expr" || which == "@dim";
    if (wants_name && tok.kind == TokKind::word && parser::is_keyword(tok_text)) return keyword_as_name(tok);
    if (which.rfind("@name", 0) == 0 && prev.kind == TokKind::word && parser::is_keyword(text_of(o_, prev)) &&
        tok.kind == TokKind::punct && (c_[p] == '=' || c_[p] == ':'))
      return keyword_as_name(prev);

    if (which == "@statement") return at_statement_start(tok);
    // Input that ends inside a bracket: the bracket is the problem.
    if (tok.kind == TokKind::eof && which.rfind("@close", 0) != 0 && which != "@end-item") {
      Opener op = innermost_open(c_, p, "([{");
      if (op.found && op.ch != '{') return unterminated(op, where, p);
    }
    if (which == "@expr") {
      std::string msg = prev.kind == TokKind::eof ? std::string("expected an expression")
                                                   : fmt::format("expected an expression after {}", describe(o_, prev));
      return at_failure(tok, where, msg);
    }
    if (which.rfind("@name:", 0) == 0) return at_failure(tok, where, "expected " + which.substr(6));
    if (which == "@dim") {
      std::string after = prev.kind == TokKind::eof ? "" : " after " + describe(o_, prev);
      return at_failure(tok, where, "expected a dimension (an integer or a dim name)" + after);
    }
    if (which == "@type") return at_failure(tok, where, "expected a type such as f32[batch, 30] after ':'");
    if (which == "@close-call" || which == "@close-paren" || which == "@close-params")
      return unclosed(tok, where, p, "(", which);
    if (which == "@close-list" || which == "@close-shape") return unclosed(tok, where, p, "[", which);
    if (which == "@end-statement") {
      if (tok.kind == TokKind::punct && (c_[p] == ')' || c_[p] == ']'))
        return at_token(tok, fmt::format("unmatched {}", describe(o_, tok)));
      return at_failure(tok, where, "expected a newline or ';' after the statement");
    }
    if (which == "@end-item") {
      if (tok.kind == TokKind::eof || starts_statement(tok)) return train_unclosed(where, p);
      return at_failure(tok, where, "expected a newline, ';' or '}' after the train setting");
    }
    if (which == "@close-train") {
      if (tok.kind == TokKind::eof || starts_statement(tok)) return train_unclosed(where, p);
      if (tok.kind == TokKind::word && parser::is_keyword(tok_text)) return keyword_as_name(tok);
      return at_token(tok, fmt::format("unexpected {} in the train block (expected 'minimize', 'metric' or "
                                        "'NAME = VALUE')",
                                        describe(o_, tok)));
    }
    if (!which.empty() && which[0] != '@' && which.find("::") == std::string::npos &&
        which.find('<') == std::string::npos)
      return at_failure(tok, where, "expected " + which);
    return at_token(tok, fmt::format("unexpected {}", describe(o_, tok)));
  }

  Failure too_deep(size_t where) const {
    Token tok = token_at(c_, skip_blanks(c_, where));
    return at_token(tok, fmt::format("expression nested too deeply (more than {} levels of brackets and unary "
                                     "minus)",
                                     parser::kMaxNesting));
  }

 private:
  std::string where_str(size_t offset) const {
    auto [l, col] = file_.line_col(offset);
    return fmt::format("{}:{}", l, col);
  }

  Failure at_token(const Token& t, std::string msg) const {
    return {std::move(msg), t.begin, std::max(t.end, t.begin + 1)};
  }

  // "expected ..." errors: at the offending token when it is on the same line as what
  // came before it, otherwise just after the previous token (the end of its line).
  Failure at_failure(const Token& tok, size_t where, std::string msg) const {
    Token prev = token_before(c_, where);
    bool elsewhere = tok.kind == TokKind::eof || tok.kind == TokKind::newline ||
                     o_.find('\n', prev.end) < tok.begin;
    if (elsewhere && prev.kind != TokKind::eof) return {std::move(msg), prev.end, prev.end + 1};
    return at_token(tok, std::move(msg));
  }

  Failure keyword_as_name(const Token& t) const {
    return at_token(t, fmt::format("'{}' is a keyword and cannot be used as a name", text_of(o_, t)));
  }

  bool starts_statement(const Token& t) const {
    if (t.kind != TokKind::word) return false;
    std::string w = text_of(o_, t);
    return w == "model" || w == "dim" || w == "input" || w == "param" || w == "const" || w == "fn" ||
           w == "output" || w == "train";
  }

  Failure at_statement_start(const Token& tok) const {
    if (tok.kind == TokKind::word) {
      std::string w = text_of(o_, tok);
      if (w == "minimize" || w == "metric")
        return at_token(tok, fmt::format("'{}' can only be used inside a train block", w));
      Token next = token_at(c_, skip_blanks(c_, tok.end));
      if (parser::is_keyword(w) && next.kind == TokKind::punct && c_[next.begin] == '=') return keyword_as_name(tok);
    }
    return at_token(tok, fmt::format("unexpected {} at the start of a statement", describe(o_, tok)));
  }

  Failure unclosed(const Token& tok, size_t where, size_t p, std::string_view kinds, const std::string& which) const {
    Opener op = innermost_open(c_, p, kinds);
    if (!op.found) return at_failure(tok, where, fmt::format("expected '{}'", kinds == "(" ? ')' : ']'));
    std::string at = where_str(op.offset);
    std::string msg;
    if (which == "@close-call") {
      Token callee = token_before(c_, op.offset);
      msg = fmt::format("expected ')' to close the call to {} opened at {}", text_of(o_, callee), at);
    } else if (which == "@close-params") {
      Token fn = token_before(c_, op.offset);
      msg = fmt::format("expected ',' or ')' in the parameter list of {} opened at {}", text_of(o_, fn), at);
    } else if (which == "@close-paren") {
      msg = fmt::format("expected ')' to close the '(' opened at {}", at);
    } else if (which == "@close-shape") {
      msg = fmt::format("expected ']' to close the shape opened at {}", at);
    } else {
      msg = fmt::format("expected ']' to close the list opened at {}", at);
    }
    if (tok.kind == TokKind::eof) return unterminated(op, where, p);
    return at_failure(tok, where, msg);
  }

  // "unterminated '[' opened at 3:7", "unterminated call to relu opened at 5:10".
  Failure unterminated(const Opener& op, size_t where, size_t p) const {
    Token prev = token_before(c_, where);
    size_t b = prev.kind == TokKind::eof ? p : prev.end;
    std::string what = fmt::format("'{}'", op.ch);
    Token before = token_before(c_, op.offset);
    if (op.ch == '(' && before.kind == TokKind::word && is_ident_char(c_[before.begin]) &&
        !(c_[before.begin] >= '0' && c_[before.begin] <= '9')) {
      std::string name = text_of(o_, before);
      Token kw = token_before(c_, before.begin);
      bool fn = kw.kind == TokKind::word && text_of(o_, kw) == "fn";
      if (!parser::is_keyword(name)) what = (fn ? "parameter list of " : "call to ") + name;
    }
    return {fmt::format("unterminated {} opened at {}", what, where_str(op.offset)), b, b + 1};
  }

  Failure train_unclosed(size_t where, size_t p) const {
    Opener op = innermost_open(c_, p, "{");
    Token prev = token_before(c_, where);
    size_t b = prev.kind == TokKind::eof ? p : prev.end;
    std::string at = op.found ? " opened at " + where_str(op.offset) : "";
    return {fmt::format("expected '}}' to close the train block{}", at), b, b + 1};
  }

  const SourceFile& file_;
  const std::string& c_;
  const std::string& o_;
};

// ---- tidying: one Expression node per operator chain, none for a lone operand --------

void tidy(ast::Expression& e);

void tidy(ast::Operand& o) {
  auto& v = o.get();
  if (auto* e = boost::get<x3::forward_ast<ast::Expression>>(&v)) {
    tidy(e->get());
    if (e->get().rest.empty()) {
      ast::Operand inner = std::move(e->get().first);
      o = std::move(inner);
    }
  } else if (auto* c = boost::get<x3::forward_ast<ast::Call>>(&v)) {
    for (auto& a : c->get().args) tidy(a.value);
  } else if (auto* l = boost::get<x3::forward_ast<ast::ListLiteral>>(&v)) {
    for (auto& item : l->get().items) tidy(item);
  } else if (auto* u = boost::get<x3::forward_ast<ast::Unary>>(&v)) {
    tidy(u->get().operand);
  }
}

// After tidying, a top-level Expression either has operators or holds a single
// non-Expression operand in `first`.
void tidy(ast::Expression& e) {
  tidy(e.first);
  for (auto& op : e.rest) tidy(op.operand);
  if (e.rest.empty())
    if (auto* inner = boost::get<x3::forward_ast<ast::Expression>>(&e.first.get())) {
      ast::Expression moved = std::move(inner->get());
      e = std::move(moved);
    }
}

struct TidyStatement {
  void operator()(ast::ModelDecl&) const {}
  void operator()(ast::DimDecl&) const {}
  void operator()(ast::InputDecl&) const {}
  void operator()(ast::ParamDecl& d) const { tidy(d.init); }
  void operator()(ast::FnDecl& d) const { tidy(d.body); }
  void operator()(ast::OutputDecl& d) const { tidy(d.value); }
  void operator()(ast::Binding& d) const { tidy(d.value); }
  void operator()(ast::Minimize& d) const { tidy(d.value); }
  void operator()(ast::MetricDecl& d) const { tidy(d.value); }
  void operator()(ast::Setting& d) const { tidy(d.value); }
  void operator()(ast::TrainBlock& t) const {
    for (auto& item : t.items) boost::apply_visitor(*this, item.get());
  }
};

}  // namespace

std::optional<Parsed> parse_model(const SourceFile& file, Diagnostics& diags) {
  std::string cooked = cook(file.text());
  Parsed parsed{ast::Program{}, Positions(&file)};
  parser::ParseState state{cooked.cbegin(), &parsed.positions, 0};
  ErrorDescriber describer(file, cooked);
  std::optional<Failure> failure;
  try {
    auto it = cooked.cbegin();
    auto const grammar = x3::with<parser::state_tag>(state)[program_rule()];
    bool ok = x3::phrase_parse(it, cooked.cend(), grammar, x3::standard::blank, parsed.program);
    if (!ok || it != cooked.cend())
      failure = describer.expected("@statement", static_cast<size_t>(it - cooked.cbegin()));
  } catch (const x3::expectation_failure<parser::iterator_type>& e) {
    failure = describer.expected(e.which(), static_cast<size_t>(e.where() - cooked.cbegin()));
  } catch (const parser::NestingTooDeep& e) {
    failure = describer.too_deep(e.offset);
  } catch (const std::exception& e) {
    failure = Failure{fmt::format("the parser failed: {}", e.what()), 0, 0};
  } catch (...) {
    failure = Failure{"the parser failed", 0, 0};
  }
  if (failure) {
    diags.error("syntax", file.range(failure->begin, failure->end), failure->message);
    return std::nullopt;
  }
  for (auto& s : parsed.program.statements) boost::apply_visitor(TidyStatement{}, s.get());
  return parsed;
}

}  // namespace kiln
