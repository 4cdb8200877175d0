// A small strict JSON reader (RFC 8259, bounded nesting, errors with byte offsets): used for
// safetensors headers and by the tests that read kiln's JSON, SARIF and JSONL output.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

struct Json {
  enum Kind { null, boolean, number, string, array, object } kind = null;
  std::string text;                                   // a string's value; a number's or boolean's literal
  std::vector<Json> items;                            // array
  std::vector<std::pair<std::string, Json>> members;  // object, in order (keys are unique)

  // The destructor is defined in json.cpp, where pair<string, Json> is complete: defined
  // here, clang (which builds the sanitizer and fuzz builds) instantiates it while
  // instantiating that pair, inside its own member, and fails.
  Json() = default;
  Json(const Json&) = default;
  Json(Json&&) noexcept = default;
  Json& operator=(const Json&) = default;
  Json& operator=(Json&&) noexcept = default;
  ~Json();

  const Json* get(std::string_view key) const;  // nullptr when absent (or not an object)
  bool has(std::string_view key) const { return get(key) != nullptr; }
  const Json& at(std::string_view key) const;   // a null Json when absent
  double num() const;                           // a number's value; 0 for other kinds
  bool truth() const { return kind == boolean && text == "true"; }
};

// Parses all of `s` (whitespace around the value allowed; strings must be well-formed
// UTF-8). On failure: false and err = "at byte N: <what>", N counted from `base` (the
// offset of s in its file).
bool parse_json(std::string_view s, Json& out, std::string& err, size_t base = 0, int max_depth = 64);

}  // namespace kiln
