// Reading the input file once, with one clear error for every way it can be unusable,
// and the diagnostic output shared by the commands.
#include "tools/kiln/commands.hpp"
#include "runtime/input_file.hpp"
#include "runtime/output_path.hpp"
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::cli {

namespace {
// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// past U+10FFFF included), or npos.
size_t invalid_utf8_at(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + len > n) return i;
    uint32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string::npos;
}

std::string where(const std::string& text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') { ++line; col = 1; }
    else ++col;
  }
  return fmt::format("line {}, column {}", line, col);
}
}  // namespace

std::unique_ptr<SourceFile> read_input(const Args& a) {
  if (a.positional.empty()) throw UsageError(fmt::format("'kiln {}' needs a FILE (see 'kiln {} --help')", a.command, a.command));
  if (a.positional.size() > 1)
    throw UsageError(fmt::format("'kiln {}' takes one FILE, got {} ('{}' and '{}')", a.command, a.positional.size(),
                                 a.positional[0], a.positional[1]));
  const std::string& path = a.positional[0];
  std::string text, shown = path == "-" ? "<stdin>" : path, err;
  // A .model file is text a person writes: 64 MiB is far more than any needs. Standard
  // input is read up to that bound too (`check - < /dev/zero` ends there).
  constexpr uint64_t kMaxModel = uint64_t(64) << 20;
  InputFile in;
  if (path == "-") {
    in.open_stdin(shown, kMaxModel, "a .model file may hold (64 MiB)");
  } else {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw UsageError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) throw UsageError(fmt::format("'{}' is a directory, not a .model file", path));
    if (!in.open(path, err, kMaxModel, "a .model file may hold (64 MiB)")) throw UsageError(err);
  }
  if (!in.read_rest(text, err)) throw UsageError(err);
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    throw UsageError(fmt::format("'{}' is empty: a .model file needs at least one declaration", shown));
  if (size_t nul = text.find('\0'); nul != std::string::npos)
    throw UsageError(fmt::format("'{}' is a binary file, not .model text (NUL byte at {})", shown, where(text, nul)));
  if (size_t bad = invalid_utf8_at(text); bad != std::string::npos)
    throw UsageError(fmt::format("'{}' is not UTF-8 text (invalid byte 0x{:02x} at {})", shown,
                                 static_cast<unsigned char>(text[bad]), where(text, bad)));
  return std::make_unique<SourceFile>(shown, std::move(text));
}

FlagSpec memory_flag() {
  return {"max-memory", true, "refuse models and data needing more memory (512M, 8G; default: the machine's)", "SIZE"};
}

void check_output_paths(const std::vector<PathArg>& outputs, const std::vector<PathArg>& inputs) {
  std::vector<std::pair<const PathArg*, std::string>> targets;  // the outputs so far and their files
  for (const PathArg& o : outputs) {
    if (o.path.empty()) throw UsageError(fmt::format("option '{}' needs a file name, not an empty one", o.flag));
    if (o.path == "-" && o.flag != "--output")
      throw UsageError(fmt::format("option '{}' needs a file ('-', standard output, is for --output only)", o.flag));
    if (o.path == "-") continue;
    std::string err;
    auto target = output_target(o.path, err);
    if (!target) throw UsageError(o.flag == "--output" ? err + " (--output - writes to standard output)" : err);
    for (const PathArg& i : inputs)
      if (i.path != "-" && same_file(o.path, i.path) && !(o.flag == "--save" && i.flag == "--load"))
        throw UsageError(fmt::format("{} {} is the {} file: kiln does not overwrite its inputs", o.flag, o.path,
                                     i.flag == "FILE" ? "model" : i.flag));
    for (auto& [earlier, file] : targets)
      if (file == *target || same_file(earlier->path, o.path))
        throw UsageError(fmt::format("{} and {} name the same file, {}", earlier->flag, o.flag, o.path));
    targets.emplace_back(&o, *target);
  }
}

std::vector<PathArg> data_paths(const std::vector<std::string>& data) {
  std::vector<PathArg> out;
  for (const std::string& d : data) {
    auto eq = d.find('=');
    out.push_back({"--data", data.size() == 1 && eq == std::string::npos ? d : d.substr(eq == std::string::npos ? 0 : eq + 1)});
  }
  return out;
}

bool use_color(const Args& a) {
  if (a.no_color) return false;
  if (const char* nc = std::getenv("NO_COLOR"); nc && *nc) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

void print_diagnostics(const Diagnostics& d, bool color) {
  d.print(stderr, color);
  size_t errors = d.error_count(), warnings = 0;
  for (auto& x : d.all()) warnings += x.severity == Severity::warning;
  if (errors + warnings == 0) return;
  auto plural = [](size_t n, const char* w) { return fmt::format("{} {}{}", n, w, n == 1 ? "" : "s"); };
  std::string line = warnings && errors ? plural(warnings, "warning") + " and " + plural(errors, "error")
                     : errors            ? plural(errors, "error")
                                         : plural(warnings, "warning");
  fmt::print(stderr, "{} generated.\n", line);
}

}  // namespace kiln::cli
