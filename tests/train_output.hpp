// The run-time examples of examples/broken/ (header "(run-time monitor ...)"): the `kiln train`
// command of their header comment, and its output with what varies between runs (timings,
// steps/s, compile time, temporary paths) replaced, for the golden files and the tests.
#pragma once
#include "support.hpp"
#include <sstream>

namespace kiln::test {

// Whether a model's first line marks it as a run-time example: "# name (run-time monitor ...".
inline bool is_runtime_example(const std::string& model) {
  std::ifstream in(std::filesystem::path(source_dir()) / model);
  std::string first;
  std::getline(in, first);
  return first.find("(run-time monitor") != std::string::npos;
}

// The arguments after `kiln` of the header line `#   kiln train MODEL --data ...` (empty
// when there is none). The values of --save and --log become files in `scratch`.
inline std::vector<std::string> header_train_args(const std::string& model, const std::string& scratch) {
  std::ifstream in(std::filesystem::path(source_dir()) / model);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) break;
    auto at = line.find("kiln train ");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + 5));
    std::vector<std::string> args;
    for (std::string w; words >> w;) {
      if (!args.empty() && (args.back() == "--save" || args.back() == "--log"))
        w = (std::filesystem::path(scratch) / std::filesystem::path(w).filename()).string();
      args.push_back(w);
    }
    return args;
  }
  return {};
}

namespace detail {
// Replaces the word that follows `after` in `line` (up to a space, ',' or ';') with `with`.
inline void replace_word_after(std::string& line, const std::string& after, const std::string& with) {
  auto p = line.find(after);
  if (p == std::string::npos) return;
  p += after.size();
  auto e = line.find_first_of(" ,;", p);
  line.replace(p, (e == std::string::npos ? line.size() : e) - p, with);
}
}  // namespace detail

// `kiln train` output (plain mode) with the timings of the epoch lines and the summary
// ("(0.0s)", "in 0.0s", "12345.6 steps/s", "compile 0.2s") and the scratch directory
// replaced by placeholders; everything else (losses, diagnostics, the health table) kept.
inline std::string normalize_train_output(const std::string& text, const std::string& scratch) {
  std::string out;
  size_t b = 0;
  while (b < text.size()) {
    size_t e = text.find('\n', b);
    std::string line = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
    b = e == std::string::npos ? text.size() : e + 1;
    if (line.rfind("epoch ", 0) == 0 && line.size() > 2 && line.substr(line.size() - 2) == "s)") {
      line = line.substr(0, line.rfind('(')) + "(<time>)";
    } else if (line.rfind("trained ", 0) == 0) {
      detail::replace_word_after(line, ") in ", "<time>");
      auto s = line.find(" steps/s");
      if (s != std::string::npos) {
        auto n = line.rfind(' ', s - 1);
        line.replace(n + 1, s - n - 1, "<n>");
      }
      detail::replace_word_after(line, "; compile ", "<time>");
    }
    for (auto p = line.find(scratch); !scratch.empty() && p != std::string::npos; p = line.find(scratch))
      line.replace(p, scratch.size(), "<tmp>");
    out += line + (e == std::string::npos ? "" : "\n");
  }
  return out;
}

// Runs a run-time example's header command on `engine`, without colour, with `extra`
// arguments; stdout and stderr normalised, then a line `# exit code: N`.
inline std::string run_header_train(const std::string& model, const std::string& engine,
                                    const std::vector<std::string>& extra = {}, RunResult* raw = nullptr) {
  TempDir tmp;
  auto args = header_train_args(model, tmp.path.string());
  if (args.empty()) return "no '#   kiln train " + model + " ...' line in the header\n";
  for (const char* a : {"--engine", engine.c_str(), "--no-color"}) args.push_back(a);
  for (auto& a : extra) args.push_back(a);
  RunResult r = run_kiln(args);
  if (raw) *raw = r;
  std::string text = normalize_train_output(r.out + r.err, tmp.path.string());
  if (r.signal) text += "# killed by signal " + std::to_string(r.signal) + "\n";
  return text + "# exit code: " + std::to_string(r.exit_code) + "\n";
}

}  // namespace kiln::test
