// safetensors: exact bytes against a hand-built file, round trips, and every header error.
#include "runtime/safetensors.hpp"
#include "test_util.hpp"
#include <catch2/catch.hpp>

using namespace kiln;

// A safetensors file from a header text and raw data (no padding added).
static std::string st_bytes(const std::string& header, const std::string& data) {
  std::string out;
  for (int k = 0; k < 8; ++k) out += char((uint64_t(header.size()) >> (8 * k)) & 0xff);
  return out + header + data;
}

static std::string st_error(const std::string& bytes) {
  std::string err;
  CHECK_FALSE(parse_safetensors(bytes, "p.safetensors", err));
  return err;
}

TEST_CASE("safetensors writer matches a hand-built file", "[runtime]") {
  std::string err;
  auto b = encode_safetensors({{"w", DType::f32, {2}, {1.0, -2.0}}}, {}, err);
  REQUIRE(b);
  std::string expected = std::string("\x38\0\0\0\0\0\0\0", 8) +
                         R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})" + "  " +
                         std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  CHECK(*b == expected);

  auto m = encode_safetensors({{"b", DType::i32, {}, {-1}}}, {{"kiln", "0.1"}}, err);
  REQUIRE(m);
  std::string hdr = R"({"__metadata__":{"kiln":"0.1"},"b":{"dtype":"I32","shape":[],"data_offsets":[0,4]}})";
  hdr.append((8 - hdr.size() % 8) % 8, ' ');
  CHECK(*m == st_bytes(hdr, std::string("\xff\xff\xff\xff", 4)));
  CHECK((m->size() - 4) % 8 == 0);
}

TEST_CASE("safetensors round trip", "[runtime]") {
  test::TempDir dir;
  std::string p = dir.file("params.safetensors"), err;
  std::vector<double> v24;
  for (int k = 0; k < 24; ++k) v24.push_back(0.1 * k - 1);
  std::vector<NamedTensor> ts = {
      {"w1", DType::f32, {2, 3, 4}, v24},
      {"step", DType::i32, {}, {1234}},
      {"b1", DType::f64, {3}, {1.0 / 3, -2e-300, 7}},
      {"empty", DType::f32, {0, 5}, {}},
      {"s", DType::f32, {}, {0.5}},
  };
  std::map<std::string, std::string> meta = {{"model_hash", "abc123"}, {"odd \"key\"\\", "line\nbreak\t\x01 \xc3\xa9"}};
  REQUIRE(write_safetensors(p, ts, meta, err));
  auto f = read_safetensors(p, err);
  INFO(err);
  REQUIRE(f);
  CHECK(f->metadata == meta);
  REQUIRE(f->tensors.size() == ts.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    const NamedTensor& got = f->tensors[k];
    CHECK(got.name == ts[k].name);
    CHECK(got.dtype == ts[k].dtype);
    CHECK(got.shape == ts[k].shape);
    std::vector<double> want = ts[k].values;
    if (ts[k].dtype == DType::f32)
      for (auto& x : want) x = double(float(x));
    CHECK(got.values == want);
  }
  REQUIRE(f->find("step"));
  CHECK(f->find("step")->values[0] == 1234);
  CHECK(f->find("nope") == nullptr);
}

TEST_CASE("safetensors reads I64, unicode escapes and any key order", "[runtime]") {
  std::string err;
  std::string data;
  for (int64_t x : {int64_t(-7), int64_t(9)}) data.append(reinterpret_cast<const char*>(&x), 8);
  float one = 1;
  data.append(reinterpret_cast<const char*>(&one), 4);
  auto f = parse_safetensors(
      st_bytes(R"( { "z" : {"data_offsets":[16,20],"shape":[1],"dtype":"F32"},)"
               R"( "i" : {"shape":[2],"dtype":"I64","data_offsets":[0,16]},)"
               R"( "__metadata__": {"n": "\u00e9\ud83d\ude00\/"} } )",
               data),
      "p.safetensors", err);
  INFO(err);
  REQUIRE(f);
  REQUIRE(f->tensors.size() == 2);
  CHECK(f->tensors[0].name == "i");  // data order
  CHECK(f->tensors[0].dtype == DType::i32);
  CHECK(f->tensors[0].values == std::vector<double>{-7, 9});
  CHECK(f->tensors[1].values == std::vector<double>{1});
  CHECK(f->metadata.at("n") == "\xc3\xa9\xf0\x9f\x98\x80/");
}

TEST_CASE("safetensors header errors", "[runtime]") {
  const std::string w8 = std::string(8, '\0');
  auto t = [](const std::string& body) { return std::string("{\"w\":") + body + "}"; };
  CHECK(st_error("abc") == "p.safetensors: file is too short for a safetensors header (3 bytes)");
  CHECK(st_error(std::string("\xff\0\0\0\0\0\0\0{}", 10)) ==
        "p.safetensors: header length 255 is larger than the file (10 bytes)");
  CHECK(st_error(st_bytes("[1]", "")) == "p.safetensors: header is not a JSON object");
  CHECK(st_error(st_bytes(R"({"w":{"dtype":"F32",}})", "")) ==
        "p.safetensors: malformed JSON header at byte 28: expected a string key");
  CHECK(st_error(st_bytes(R"({"w" {}})", "")) == "p.safetensors: malformed JSON header at byte 13: expected ':'");
  CHECK(st_error(st_bytes(R"({"a":{},"a":{}})", "")) ==
        "p.safetensors: malformed JSON header at byte 16: duplicate key 'a'");
  CHECK(st_error(st_bytes(R"({"a":01})", "")) == "p.safetensors: malformed JSON header at byte 14: leading zero in a number");
  CHECK(st_error(st_bytes(R"({"a":"x\q"})", "")) ==
        "p.safetensors: malformed JSON header at byte 16: invalid escape in a string");
  CHECK(st_error(st_bytes(R"({"a":[[[[[[[[[[1]]]]]]]]]]})", "")) ==
        "p.safetensors: malformed JSON header at byte 21: nesting too deep");
  CHECK(st_error(st_bytes(R"({} x)", "")) ==
        "p.safetensors: malformed JSON header at byte 11: unexpected text after the JSON object");
  // invalid UTF-8 (Latin-1 bytes) in a tensor name and in a metadata value
  CHECK(st_error(st_bytes("{\"caf\xe9\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", w8)) ==
        "p.safetensors: malformed JSON header at byte 13: invalid UTF-8 in a string");
  CHECK(st_error(st_bytes("{\"__metadata__\":{\"kiln_model\":\"na\xefve\"}}", "")) ==
        "p.safetensors: malformed JSON header at byte 41: invalid UTF-8 in a string");
  CHECK(st_error(st_bytes(t(R"({"dtype":"BF16","shape":[4],"data_offsets":[0,8]})"), w8)) ==
        "p.safetensors: tensor 'w': unsupported dtype 'BF16' (supported: F32, F64, I32, I64)");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), w8)) ==
        "p.safetensors: tensor 'w': data_offsets span 8 bytes but F32[3] needs 12");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), w8)) ==
        "p.safetensors: tensor 'w': data_offsets [0,16] out of range (the data is 8 bytes)");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), w8)) ==
        "p.safetensors: tensor 'w': data_offsets [8,0] out of range (the data is 8 bytes)");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[2]})"), w8)) == "p.safetensors: tensor 'w': missing 'data_offsets'");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1})"), w8)) ==
        "p.safetensors: tensor 'w': unexpected key 'x'");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), w8)) ==
        "p.safetensors: tensor 'w': 'shape' must hold non-negative integers");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), w8)) ==
        "p.safetensors: tensor 'w': 'shape' must hold non-negative integers");
  CHECK(st_error(st_bytes(t(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"), w8)) ==
        "p.safetensors: tensor 'w': 'data_offsets' must be [begin, end] with non-negative integers");
  CHECK(st_error(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          w8)) == "p.safetensors: tensors 'a' and 'b' overlap in the data");
  CHECK(st_error(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", w8)) ==
        "p.safetensors: bytes 0..4 of the data belong to no tensor");
  CHECK(st_error(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", w8)) ==
        "p.safetensors: bytes 4..8 of the data belong to no tensor");
  CHECK(st_error(st_bytes(R"({"__metadata__":{"k":1}})", "")) ==
        "p.safetensors: '__metadata__' value of 'k' is not a string");
  std::string big;
  for (int64_t x : {int64_t(1) << 40}) big.append(reinterpret_cast<const char*>(&x), 8);
  CHECK(st_error(st_bytes(t(R"({"dtype":"I64","shape":[],"data_offsets":[0,8]})"), big)) ==
        "p.safetensors: tensor 'w': I64 value 1099511627776 at index 0 does not fit in i32");
}

TEST_CASE("safetensors writer and file errors", "[runtime]") {
  test::TempDir dir;
  std::string err, p = dir.file("p.safetensors");
  CHECK_FALSE(write_safetensors(p, {{"a", DType::f32, {1}, {1}}, {"a", DType::f32, {1}, {2}}}, {}, err));
  CHECK(err == p + ": duplicate tensor name 'a'");
  CHECK_FALSE(write_safetensors(p, {{"a", DType::f32, {2, 2}, {1, 2, 3}}}, {}, err));
  CHECK(err == p + ": tensor 'a': 3 values for shape [2,2]");
  CHECK_FALSE(write_safetensors(p, {{"__metadata__", DType::f32, {}, {1}}}, {}, err));
  CHECK(err == p + ": invalid tensor name '__metadata__'");
  CHECK_FALSE(write_safetensors(p, {{"n", DType::i32, {1}, {0.5}}}, {}, err));
  CHECK(err == p + ": tensor 'n': value 0.5 at index 0 is not an i32");
  CHECK(dir.entries() == 0);  // nothing was written
  CHECK_FALSE(read_safetensors(p, err));
  CHECK(err == p + ": cannot read: No such file or directory");
}

TEST_CASE("checkpoint tensors are checked against the model", "[runtime]") {
  std::string err;
  auto bytes = encode_safetensors(
      {{"w1", DType::f32, {2, 3}, std::vector<double>(6, 0.5)}, {"b1", DType::f32, {3}, {0, 0, 0}},
       {"__step__", DType::i32, {}, {10}}},
      {}, err);
  REQUIRE(bytes);
  auto f = parse_safetensors(*bytes, "p.safetensors", err);
  REQUIRE(f);
  CHECK(check_tensors(*f, "p.safetensors", {{"w1", DType::f32, {2, 3}}, {"b1", DType::f32, {3}}}, err));
  CHECK_FALSE(check_tensors(*f, "p.safetensors", {{"w1", DType::f32, {2, 3}}, {"w2", DType::f32, {3, 1}}}, err));
  CHECK(err == "p.safetensors has no tensor 'w2' (the model's param is f32[3,1])");
  CHECK_FALSE(check_tensors(*f, "p.safetensors", {{"w1", DType::f32, {2, 4}}}, err));
  CHECK(err == "p.safetensors: tensor 'w1' is f32[2,3] but the model's is f32[2,4]");
  CHECK_FALSE(check_tensors(*f, "p.safetensors", {{"b1", DType::f64, {3}}}, err));
  CHECK(err == "p.safetensors: tensor 'b1' is f32[3] but the model's is f64[3]");
  CHECK_FALSE(check_tensors(*f, "p.safetensors", {{"__step__", DType::i32, {1}}}, err));
  CHECK(err == "p.safetensors: tensor '__step__' is i32 but the model's is i32[1]");
}
