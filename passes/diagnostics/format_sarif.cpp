// `--format=sarif`: diagnostics as a SARIF 2.1.0 log, and the rule list it declares
// (the static checks' catalogue plus the errors of the language).
#include "passes/diagnostics/check.hpp"
#include "passes/diagnostics/format.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <map>

namespace kiln {

const std::vector<RuleInfo>& diagnostic_rules() {
  static const std::vector<RuleInfo> rules = [] {
    std::vector<RuleInfo> r;
    for (auto& c : check_catalogue()) r.push_back({c.id, c.severity, c.summary, c.help});
    using S = Severity;
    std::vector<RuleInfo> language = {
        {"syntax", S::error, "the text is not valid .model syntax",
         "The parser expected something else at this point: a declaration, an expression, a closing bracket. "
         "The message says what was expected; see docs/language.md for the grammar."},
        {"undefined", S::error, "a name is used that is not defined",
         "Every name must be declared (input, param, const, dim, fn or an assignment) before it is used. Check "
         "the spelling; the message suggests a close name when there is one."},
        {"redefined", S::error, "a name is defined twice",
         "Names are single-assignment: each input, param, const, dim, fn and value is defined once. Rename one "
         "of the definitions."},
        {"type", S::error, "an operation gets operands of the wrong element type",
         "Ops take floating-point (f32, f64) or integer (i32) operands as their signature says, and mixed element "
         "types are not converted implicitly. Convert one operand or declare it with the right type."},
        {"shape", S::error, "the operands' shapes do not fit the operation",
         "Elementwise ops broadcast like NumPy, matmul needs the inner dims to agree, reductions need an axis "
         "inside the rank. The notes give each operand's type; reshape or transpose one of them."},
        {"init", S::error, "an initialiser is unknown or does not fit its declaration",
         "param and const declarations take an initialiser (zeros, ones, normal(m, s), uniform(lo, hi), "
         "glorot_*, he_*, lecun_*, constant(v) or a literal) that fits the declared shape."},
        {"call", S::error, "a function or op is called with the wrong arguments",
         "The call has too many or too few arguments, an unknown keyword, or an argument given twice. The "
         "message gives the expected signature."},
        {"train", S::error, "the train block is invalid",
         "The train block needs `minimize LOSS` with a scalar floating-point loss, and known settings "
         "(optimizer, schedule, clip_norm, epochs, seed) with valid values."},
        {"schedule", S::error, "the learning-rate schedule is invalid",
         "A schedule is constant, exponential_decay(rate, every), step_decay(rate, every) or cosine(total) with "
         "positive arguments."},
        {"optimizer", S::error, "the optimizer is unknown or badly configured",
         "The optimizers are sgd, momentum, adam, adamw, rmsprop and adagrad, with a positive lr and "
         "hyper-parameters in their valid ranges."},
        {"internal", S::error, "kiln produced an invalid program (a bug in kiln)",
         "A pass left the IR malformed. This is a bug in kiln, not in the model: please report it with the "
         "model file."},
    };
    r.insert(r.end(), language.begin(), language.end());
    return r;
  }();
  return rules;
}

const RuleInfo* find_rule(std::string_view id) {
  for (auto& r : diagnostic_rules())
    if (r.id == id) return &r;
  return nullptr;
}

namespace {

const char* level(Severity s) { return severity_name(s); }  // SARIF levels use the same words

// A relative path as a URI reference: unreserved characters and '/' kept, the rest
// percent-encoded.
std::string uri_of(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += char(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

// Byte column (1-based) to a code-point column on the given line.
uint32_t cp_col(const SourceFile* f, uint32_t line, uint32_t col) {
  if (!f || line == 0 || line > f->line_count() || col == 0) return col;
  std::string_view t = f->line_text(line);
  uint32_t cps = 0;
  for (size_t i = 0; i + 1 < col && i < t.size(); ++i) cps += (static_cast<unsigned char>(t[i]) & 0xC0) != 0x80;
  if (col - 1 > t.size()) cps += uint32_t(col - 1 - t.size());  // past the end (the newline)
  return cps + 1;
}

std::string region(const SourceFile* f, const SourceRange& r) {
  uint32_t end_line = r.end_line ? r.end_line : r.line;
  uint32_t end_col = r.end_col ? r.end_col : r.col + 1;
  return fmt::format("{{\"startLine\":{},\"startColumn\":{},\"endLine\":{},\"endColumn\":{}}}", r.line,
                     cp_col(f, r.line, std::max<uint32_t>(r.col, 1)), end_line,
                     cp_col(f, end_line, std::max<uint32_t>(end_col, 1)));
}

std::string physical(const std::string& uri, const SourceFile* f, const SourceRange& r) {
  std::string s = fmt::format("{{\"artifactLocation\":{{\"uri\":{}}}", json_quote(uri));
  if (r.valid()) s += ",\"region\":" + region(f, r);
  return s + "}";
}

// Re-indents compact JSON (two spaces per level); empty arrays and objects stay "[]", "{}".
std::string pretty(const std::string& s) {
  std::string out;
  int depth = 0;
  bool in_str = false;
  auto nl = [&] { out += '\n' + std::string(size_t(depth) * 2, ' '); };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) out += s[++i];
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') { in_str = true; out += c; }
    else if ((c == '{' || c == '[') && i + 1 < s.size() && (s[i + 1] == '}' || s[i + 1] == ']')) { out += c; out += s[++i]; }
    else if (c == '{' || c == '[') { out += c; ++depth; nl(); }
    else if (c == '}' || c == ']') { --depth; nl(); out += c; }
    else if (c == ',') { out += c; nl(); }
    else if (c == ':') out += ": ";
    else out += c;
  }
  return out + "\n";
}

}  // namespace

std::string diagnostics_sarif(const Diagnostics& d, std::string_view version) {
  const SourceFile* f = d.file();
  std::string uri = uri_of(f ? f->path() : std::string("<input>"));
  // Rules: the known ones, then any other id a diagnostic carries.
  std::vector<RuleInfo> rules = diagnostic_rules();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rules.size(); ++i) index.emplace(std::string(rules[i].id), i);
  for (auto& x : d.all())
    if (!index.count(x.id)) {
      index.emplace(x.id, rules.size());
      rules.push_back({x.id, x.severity, "", ""});
    }
  std::string rule_json;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleInfo& r = rules[i];
    std::string summary = r.summary.empty() ? fmt::format("kiln diagnostic '{}'", r.id) : std::string(r.summary);
    std::string help = r.help.empty() ? summary : std::string(r.help);
    rule_json += fmt::format(
        "{}{{\"id\":{},\"name\":{},\"shortDescription\":{{\"text\":{}}},\"fullDescription\":{{\"text\":{}}},"
        "\"help\":{{\"text\":{}}},\"defaultConfiguration\":{{\"level\":\"{}\"}}}}",
        i ? "," : "", json_quote(r.id), json_quote(r.id), json_quote(summary), json_quote(help), json_quote(help),
        level(r.severity));
  }
  std::string results;
  for (size_t k = 0; k < d.all().size(); ++k) {
    const Diagnostic& x = d.all()[k];
    std::string res = fmt::format("{{\"ruleId\":{},\"ruleIndex\":{},\"level\":\"{}\",\"message\":{{\"text\":{}}}",
                                  json_quote(x.id), index[x.id], level(x.severity),
                                  json_quote(x.message.empty() ? x.id : x.message));
    res += ",\"locations\":[{\"physicalLocation\":" + physical(uri, f, x.loc) + "}]";
    if (!x.notes.empty()) {
      res += ",\"relatedLocations\":[";
      for (size_t i = 0; i < x.notes.size(); ++i) {
        const DiagNote& n = x.notes[i];
        res += fmt::format("{}{{\"id\":{},\"message\":{{\"text\":{}}}", i ? "," : "", i + 1,
                           json_quote(n.message.empty() ? "note" : n.message));
        if (n.loc.valid()) res += ",\"physicalLocation\":" + physical(uri, f, n.loc);
        res += "}";
      }
      res += "]";
    }
    std::string fixes;
    for (auto& fx : x.fixits) {
      if (!fx.loc.valid()) continue;  // advice without a range: in the message only
      fixes += fmt::format(
          "{}{{\"description\":{{\"text\":{}}},\"artifactChanges\":[{{\"artifactLocation\":{{\"uri\":{}}},"
          "\"replacements\":[{{\"deletedRegion\":{},\"insertedContent\":{{\"text\":{}}}}}]}}]}}",
          fixes.empty() ? "" : ",", json_quote(fx.message), json_quote(uri), region(f, fx.loc),
          json_quote(fx.replacement));
    }
    if (!fixes.empty()) res += ",\"fixes\":[" + fixes + "]";
    // Fix-its without a range still reach the reader: as a property with their text.
    std::string advice;
    for (auto& fx : x.fixits)
      if (!fx.loc.valid()) advice += (advice.empty() ? "" : ",") + json_quote(fx.message);
    if (!advice.empty()) res += ",\"properties\":{\"fixits\":[" + advice + "]}";
    results += (k ? "," : "") + res + "}";
  }
  std::string log = fmt::format(
      "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{"
      "\"tool\":{{\"driver\":{{\"name\":\"kiln\",\"version\":{},\"rules\":[{}]}}}},"
      "\"artifacts\":[{{\"location\":{{\"uri\":{}}},\"mimeType\":\"text/plain\",\"encoding\":\"utf-8\"}}],"
      "\"columnKind\":\"unicodeCodePoints\",\"results\":[{}]}}]}}",
      json_quote(version), rule_json, json_quote(uri), results);
  return pretty(log);
}

}  // namespace kiln
