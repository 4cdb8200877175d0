// runtime/json: the strict JSON reader shared by safetensors and the output tests.
#include "runtime/json.hpp"
#include <catch2/catch.hpp>

using kiln::Json;

static std::string json_error(const std::string& s) {
  Json j;
  std::string err;
  return kiln::parse_json(s, j, err) ? "" : err;
}

TEST_CASE("json: values, order, access", "[json]") {
  Json j;
  std::string err;
  REQUIRE(kiln::parse_json(R"( {"b": [1, -2.5e1, true, null], "a": {"s": "x\u00e9\n"}} )", j, err));
  REQUIRE(j.kind == Json::object);
  REQUIRE(j.members.size() == 2);
  CHECK(j.members[0].first == "b");  // document order kept
  const Json& b = j.at("b");
  REQUIRE(b.items.size() == 4);
  CHECK(b.items[0].num() == 1);
  CHECK(b.items[1].num() == -25);
  CHECK(b.items[2].truth());
  CHECK(b.items[3].kind == Json::null);
  CHECK(j.at("a").at("s").text == "x\xc3\xa9\n");
  CHECK(!j.has("c"));
  CHECK(j.at("c").kind == Json::null);  // absent: a null, no throw
  CHECK(j.at("a").at("s").at("deeper").kind == Json::null);
}

TEST_CASE("json: strict syntax with byte offsets", "[json]") {
  CHECK(json_error("{\"a\":1,}") == "at byte 7: expected a string key");
  CHECK(json_error("[1 2]") == "at byte 3: expected ',' or ']'");
  CHECK(json_error("{\"a\":1,\"a\":2}") == "at byte 7: duplicate key 'a'");
  CHECK(json_error("\"\\ud800\"") == "at byte 7: unpaired surrogate in a \\u escape");
  CHECK(json_error("[[[1]]]").empty());
  // RFC 8259 8.1: UTF-8 only (a Latin-1 byte, a stray continuation byte, an overlong form,
  // an encoded surrogate, a code point past U+10FFFF, a truncated sequence)
  CHECK(json_error("[\"caf\xe9\"]") == "at byte 5: invalid UTF-8 in a string");
  CHECK(json_error("\"\x80\"") == "at byte 1: invalid UTF-8 in a string");
  CHECK(json_error("\"\xc0\xaf\"") == "at byte 1: invalid UTF-8 in a string");
  CHECK(json_error("\"\xed\xa0\x80\"") == "at byte 1: invalid UTF-8 in a string");
  CHECK(json_error("\"\xf4\x90\x80\x80\"") == "at byte 1: invalid UTF-8 in a string");
  CHECK(json_error("\"\xe2\x82\"") == "at byte 1: invalid UTF-8 in a string");
  Json u;
  std::string uerr;
  REQUIRE(kiln::parse_json("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", u, uerr));  // e-acute, euro, an emoji
  CHECK(u.text == "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  Json j;
  std::string err;
  CHECK(!kiln::parse_json("[[[1]]]", j, err, 100, 1));
  CHECK(err == "at byte 102: nesting too deep");
  CHECK(json_error("") == "at byte 0: unexpected end of the text");
}
