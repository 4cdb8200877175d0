// Machine-readable diagnostics: `kiln check --format=json` (an array of objects) and
// `--format=sarif` (SARIF 2.1.0), the rule list behind SARIF, and the JSON string quoting
// they share.
#pragma once
#include "ir/json_text.hpp"
#include "ir/diagnostics.hpp"
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// One id kiln can report: the static checks (check_catalogue(), in its order), then the
// errors of the language (syntax, undefined, redefined, type, shape, init, call, train,
// schedule, optimizer, internal).
struct RuleInfo {
  std::string_view id;
  Severity severity;         // the default
  std::string_view summary;  // one line (SARIF shortDescription)
  std::string_view help;     // a paragraph (SARIF fullDescription and help)
};
const std::vector<RuleInfo>& diagnostic_rules();
const RuleInfo* find_rule(std::string_view id);


// "error", "warning", "note".
const char* severity_name(Severity s);

// One diagnostic as a one-line JSON object: id, severity, file, line, column, end_line,
// end_column (null without a location), message, notes [{message, file, line, column,
// end_line, end_column}], fixits [{message, replacement, line, column, end_line,
// end_column}]. `file` may be null (the path is then null too).
std::string diagnostic_json(const Diagnostic& d, const SourceFile* file);
// Every diagnostic as a JSON array, one object per line; "[]\n" when there are none.
std::string diagnostics_json(const Diagnostics& d);

// A SARIF 2.1.0 log with one run: the tool (kiln, its version, every rule of
// diagnostic_rules() plus any other id reported), and one result per diagnostic with its
// location, notes as relatedLocations and located fix-its as fixes. Columns are counted
// in Unicode code points (run.columnKind); `version` is kiln's.
std::string diagnostics_sarif(const Diagnostics& d, std::string_view version);

}  // namespace kiln
