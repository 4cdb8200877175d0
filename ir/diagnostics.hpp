// Diagnostics: errors and warnings with an id, a source range, notes and fix-its,
// printed clang-style (`file:line:col: error: message [id]`, the line, a caret range).
#pragma once
#include "ir/source.hpp"
#include <cstdio>
#include <string>
#include <vector>

namespace kiln {

enum class Severity : uint8_t { note, warning, error };

struct DiagNote {
  std::string message;
  SourceRange loc;  // optional
};

struct FixIt {
  std::string message;      // e.g. "replace 'const' with 'param'"
  SourceRange loc;          // the text to replace (optional)
  std::string replacement;  // the new text
};

struct Diagnostic {
  Severity severity = Severity::error;
  std::string id;  // "syntax", "shape", "unstable-log", ...
  std::string message;
  SourceRange loc;
  std::vector<DiagNote> notes;
  std::vector<FixIt> fixits;
};

class Diagnostics {
 public:
  explicit Diagnostics(const SourceFile* file = nullptr) : file_(file) {}
  void set_file(const SourceFile* f) { file_ = f; }
  const SourceFile* file() const { return file_; }

  Diagnostic& report(Severity s, std::string id, SourceRange loc, std::string message);
  Diagnostic& error(std::string id, SourceRange loc, std::string message) {
    return report(Severity::error, std::move(id), loc, std::move(message));
  }
  Diagnostic& warning(std::string id, SourceRange loc, std::string message) {
    return report(Severity::warning, std::move(id), loc, std::move(message));
  }
  const std::vector<Diagnostic>& all() const { return diags_; }
  bool has_errors() const;
  size_t error_count() const;

  // Renders one diagnostic (or all) as text; colour with ANSI escapes when `color`.
  std::string render(const Diagnostic& d, bool color = false) const;
  std::string render_all(bool color = false) const;
  void print(std::FILE* out, bool color = false) const;

 private:
  const SourceFile* file_;
  std::vector<Diagnostic> diags_;
};

}  // namespace kiln
