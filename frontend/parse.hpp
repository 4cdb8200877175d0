// The parser's interface: text -> AST, with the source range of every tagged node.
#pragma once
#include "frontend/ast.hpp"
#include "ir/diagnostics.hpp"
#include <optional>

namespace kiln {

// Maps X3 position tags (id_first/id_last) of AST nodes to source ranges.
class Positions {
 public:
  explicit Positions(const SourceFile* file = nullptr) : file_(file) {}
  // The source range of a tagged node; an invalid range if the node was never tagged.
  SourceRange of(const ast::x3::position_tagged& node) const;
  // Byte offsets [begin, end) of a tagged node; {0, 0} if untagged.
  std::pair<size_t, size_t> offsets(const ast::x3::position_tagged& node) const;
  void add(size_t begin, size_t end) { spans_.emplace_back(begin, end); }  // next id
  size_t size() const { return spans_.size(); }
  const SourceFile* file() const { return file_; }

 private:
  const SourceFile* file_;
  std::vector<std::pair<size_t, size_t>> spans_;
};

struct Parsed {
  ast::Program program;
  Positions positions;
};

// Parses a whole `.model` file. On a syntax error reports it (id "syntax", located, with
// a message in the user's terms) and returns nullopt.
std::optional<Parsed> parse_model(const SourceFile& file, Diagnostics& diags);

}  // namespace kiln
