// libFuzzer target of the strict JSON reader (runtime/json.hpp): arbitrary bytes either fail
// with "at byte N: ..." (N within the text) or give a value that, written back compactly
// (strings quoted by json_quote, as kiln's JSON writers do), parses to the same value.
#include "fuzz_check.hpp"
#include "ir/json_text.hpp"
#include "runtime/json.hpp"
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fmt/format.h>

using kiln::fuzz::require;

namespace {

std::string write(const kiln::Json& v) {
  switch (v.kind) {
    case kiln::Json::null: return "null";
    case kiln::Json::boolean:
    case kiln::Json::number: return v.text;
    case kiln::Json::string: return kiln::json_quote(v.text);
    case kiln::Json::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.items.size(); ++i) out += (i ? "," : "") + write(v.items[i]);
      return out + "]";
    }
    case kiln::Json::object: {
      std::string out = "{";
      for (size_t i = 0; i < v.members.size(); ++i)
        out += (i ? "," : "") + kiln::json_quote(v.members[i].first) + ":" + write(v.members[i].second);
      return out + "}";
    }
  }
  kiln::fuzz::fail("a Json of unknown kind");
}

bool same(const kiln::Json& a, const kiln::Json& b) {
  if (a.kind != b.kind || a.text != b.text || a.items.size() != b.items.size() || a.members.size() != b.members.size())
    return false;
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!same(a.items[i], b.items[i])) return false;
  for (size_t i = 0; i < a.members.size(); ++i)
    if (a.members[i].first != b.members[i].first || !same(a.members[i].second, b.members[i].second)) return false;
  return true;
}

// The accessors the readers use, on every object and number.
void visit(const kiln::Json& v) {
  if (v.kind == kiln::Json::number) (void)v.num();
  for (auto& i : v.items) visit(i);
  for (auto& [k, m] : v.members) {
    require(v.get(k) == &m, "get('" + k + "') finds another member");
    visit(m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = kiln::fuzz::bytes(data, size);
  kiln::Json v;
  std::string err;
  if (!kiln::parse_json(text, v, err, 0, 64)) {
    uint64_t at = 0;
    auto [p, ec] = std::from_chars(err.data() + std::min<size_t>(err.size(), 8), err.data() + err.size(), at);
    require(err.rfind("at byte ", 0) == 0 && ec == std::errc() && std::string_view(p).rfind(": ", 0) == 0,
            "the error is not 'at byte N: ...': " + err);
    require(at <= size, fmt::format("byte {} of a {}-byte text in: {}", at, size, err));
    return 0;
  }
  visit(v);
  std::string written = write(v);
  kiln::Json back;
  if (!kiln::parse_json(written, back, err, 0, 64)) kiln::fuzz::fail("the written JSON does not parse: " + err + "\n" + written);
  require(same(v, back), "the value changes when written and read back:\n" + written);
  require(write(back) == written, "writing is not a fixed point:\n" + written);
  return 0;
}
