// The tests' JSON access: runtime/json.hpp's reader, throwing on malformed text (so a
// test that reads kiln's JSON, SARIF or JSONL output fails with the parser's message).
#pragma once
#include "runtime/json.hpp"
#include <stdexcept>
#include <string>

namespace kiln::test {

using kiln::Json;

inline Json parse_json(const std::string& s) {
  Json j;
  std::string err;
  if (!kiln::parse_json(s, j, err)) throw std::runtime_error("JSON " + err);
  return j;
}

}  // namespace kiln::test
