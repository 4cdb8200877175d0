// NPY reader and writer: exact bytes, round trips (0-d to 3-d), header versions, errors.
#include "runtime/npy.hpp"
#include "test_util.hpp"
#include <catch2/catch.hpp>
#include <cstring>

using namespace kiln;

// A .npy file from its parts: version, header dict text (padded here) and raw data.
static std::string npy_bytes(int major, const std::string& dict, const std::string& data) {
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  std::string h = dict + "\n";
  if (major == 1) {
    out += char(h.size() & 0xff);
    out += char(h.size() >> 8);
  } else {
    for (int k = 0; k < 4; ++k) out += char((h.size() >> (8 * k)) & 0xff);
  }
  return out + h + data;
}

template <class T>
static std::string raw(std::initializer_list<T> xs) {
  std::string s;
  for (T x : xs) s.append(reinterpret_cast<const char*>(&x), sizeof x);
  return s;
}

static std::string npy_error(const std::string& bytes) {
  std::string err;
  CHECK_FALSE(parse_npy(bytes, "x.npy", err));
  return err;
}

TEST_CASE("npy writer produces the documented bytes", "[runtime]") {
  std::string err;
  auto b = encode_npy(DType::f32, {2}, {1.0, -2.0}, err);
  REQUIRE(b);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(60, ' ') + "\n" +
                         std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  CHECK(*b == expected);
  CHECK(b->size() == 128 + 8);  // the header block is padded to 128 bytes, then the data
}

TEST_CASE("npy round trips", "[runtime]") {
  test::TempDir dir;
  std::string err;
  struct Case {
    DType dtype;
    Shape shape;
    std::vector<double> values;
    const char* descr;
  };
  std::vector<double> v24;
  for (int k = 0; k < 24; ++k) v24.push_back(k * 0.25 - 3);
  std::vector<Case> cases = {
      {DType::f32, {2, 3, 4}, v24, "<f4"},
      {DType::f64, {}, {3.141592653589793}, "<f8"},
      {DType::i32, {5}, {0, -1, 2147483647, -2147483648.0, 7}, "<i4"},
      {DType::f64, {0, 3}, {}, "<f8"},
      {DType::f32, {3, 1}, {0.1, 0.2, 0.3}, "<f4"},
  };
  for (auto& c : cases) {
    std::string p = dir.file("a.npy");
    REQUIRE(write_npy(p, c.dtype, c.shape, c.values, err));
    auto a = read_npy(p, err);
    INFO(err);
    REQUIRE(a);
    CHECK(a->descr == c.descr);
    CHECK(a->dtype == c.dtype);
    CHECK(a->shape == c.shape);
    std::vector<double> want = c.values;
    if (c.dtype == DType::f32)
      for (auto& x : want) x = double(float(x));
    CHECK(a->values == want);
  }
  CHECK_FALSE(encode_npy(DType::i32, {2}, {1, 2.5}, err));
  CHECK(err == "value 2.5 at index 1 is not an i32");
  CHECK_FALSE(write_npy(dir.file("b.npy"), DType::f32, {3}, {1, 2}, err));
  CHECK(err == dir.file("b.npy") + ": internal error: 2 values for shape [3]");
}

TEST_CASE("npy reads versions 2 and 3, numpy padding and other dtypes", "[runtime]") {
  std::string err;
  // numpy >= 1.23 pads for shape growth; the version 2/3 header length is 4 bytes.
  auto a = parse_npy(npy_bytes(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }" + std::string(21, ' '),
                               raw<int64_t>({-5, 0, 2000000000})),
                     "x.npy", err);
  REQUIRE(a);
  CHECK(a->dtype == DType::i32);
  CHECK(a->values == std::vector<double>{-5, 0, 2000000000});
  auto b = parse_npy(npy_bytes(3, "{'shape': (2, 2), 'fortran_order': False, 'descr': '|u1'}", "\x01\x02\x03\xff"), "x.npy",
                     err);
  REQUIRE(b);
  CHECK(b->shape == Shape{2, 2});
  CHECK(b->values == std::vector<double>{1, 2, 3, 255});
  auto c = parse_npy(npy_bytes(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", std::string("\x01\x00", 2)),
                     "x.npy", err);
  REQUIRE(c);
  CHECK(c->values == std::vector<double>{1, 0});
}

TEST_CASE("npy error messages", "[runtime]") {
  const std::string tail = ", 'fortran_order': False, 'shape': (3, 4), }";
  CHECK(npy_error("hello world, not numpy") == "x.npy: not a .npy file (bad magic bytes)");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<c8'" + tail, "")) ==
        "x.npy: unsupported dtype '<c8' (supported: <f4, <f8, <i4, <i8, |u1, |b1)");
  CHECK(npy_error(npy_bytes(1, "{'descr': '>f4'" + tail, "")) == "x.npy: big-endian data ('>f4') is not supported");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", std::string(48, 'a'))) ==
        "x.npy: Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4'" + tail, std::string(40, 'a'))) ==
        "x.npy: truncated data: shape [3,4] of <f4 needs 48 bytes, found 40");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4'" + tail, std::string(52, 'a'))) ==
        "x.npy: 4 bytes of trailing data after shape [3,4] of <f4");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}", raw<int64_t>({int64_t(1) << 32}))) ==
        "x.npy: <i8 value 4294967296 at index 0 does not fit in i32");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4', 'shape': (1,)}", raw<float>({1}))) ==
        "x.npy: malformed header: missing 'fortran_order'");
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "")) ==
        "x.npy: malformed header: shape must be a tuple of non-negative integers");
  CHECK(npy_error(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "")) ==
        "x.npy: structured dtypes are not supported");
  CHECK(npy_error(npy_bytes(9, "{}", "")) == "x.npy: unsupported .npy format version 9.0");
  // An empty array whose other dimensions multiply past int64 (a row's width would overflow).
  CHECK(npy_error(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1125899906842624, 1125899906842624)}",
                            "")) == "x.npy: shape [0,1125899906842624,1125899906842624] is too large");
  std::string cut = npy_bytes(1, "{'descr': '<f4'" + tail, "");
  CHECK(npy_error(cut.substr(0, 30)) == "x.npy: truncated header: header length 60 but the file has 30 bytes");
}
