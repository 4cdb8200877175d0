// .npy reading and writing: magic, version, the Python-literal header dict, raw data.
#include "runtime/npy.hpp"
#include "ir/printable.hpp"
#include "runtime/atomic_file.hpp"
#include "runtime/input_file.hpp"
#include "runtime/memory_limit.hpp"
#include <bit>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little, "kiln's data readers assume a little-endian host");

constexpr size_t kMaxHeader = size_t(1) << 20;  // bytes of the header dict read at most

// A tiny reader for the header dict numpy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
struct HeaderParser {
  std::string_view s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool string(std::string& out) {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return false;
    char q = s[i++];
    size_t start = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) return false;
    out = std::string(s.substr(start, i - start));
    ++i;
    return true;
  }
  bool word(std::string_view w) {
    ws();
    if (s.substr(i, w.size()) != w) return false;
    i += w.size();
    return true;
  }
  bool integer(int64_t& out) {
    ws();
    size_t start = i;
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (out > (int64_t(1) << 50)) return false;
      out = out * 10 + (s[i++] - '0');
    }
    if (i < s.size() && s[i] == 'L') ++i;  // Python 2 longs
    return i > start;
  }
  bool tuple(Shape& out) {
    if (!eat('(')) return false;
    out.clear();
    if (eat(')')) return true;
    for (;;) {
      int64_t d;
      if (!integer(d)) return false;
      out.push_back(d);
      if (eat(')')) return true;
      if (!eat(',')) return false;
      if (eat(')')) return true;
    }
  }
};

struct DescrInfo {
  const char* descr;
  int size;
  DType dtype;
};
constexpr DescrInfo kDescrs[] = {{"<f4", 4, DType::f32}, {"<f8", 8, DType::f64}, {"<i4", 4, DType::i32},
                                 {"<i8", 8, DType::i32}, {"|u1", 1, DType::i32}, {"|b1", 1, DType::i32}};

const DescrInfo* find_descr(std::string d) {
  if (d == "<u1" || d == "u1" || d == "B" || d == "uint8") d = "|u1";
  if (d == "<b1" || d == "b1" || d == "?" || d == "bool") d = "|b1";
  if (d == "float32") d = "<f4";
  if (d == "float64") d = "<f8";
  if (d == "int32") d = "<i4";
  if (d == "int64") d = "<i8";
  for (auto& x : kDescrs)
    if (d == x.descr) return &x;
  return nullptr;
}

uint32_t read_le(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | uint8_t(b[at + size_t(k)]);
  return v;
}

}  // namespace

std::optional<NpyArray> parse_npy(std::string_view b, const std::string& source, std::string& err) {
  auto fail = [&](std::string m) -> std::optional<NpyArray> {
    err = fmt::format("{}: {}", source, m);
    return std::nullopt;
  };
  if (b.size() < 10 || b.substr(0, 6) != "\x93NUMPY") return fail("not a .npy file (bad magic bytes)");
  int major = uint8_t(b[6]);
  if (major < 1 || major > 3) return fail(fmt::format("unsupported .npy format version {}.{}", major, uint8_t(b[7])));
  size_t len_bytes = major == 1 ? 2 : 4;
  if (b.size() < 8 + len_bytes) return fail("truncated header");
  size_t hlen = read_le(b, 8, int(len_bytes));
  if (hlen > kMaxHeader)  // numpy's own reader stops at 10000 bytes
    return fail(fmt::format("header length {} is more than an array of a supported dtype needs (at most {})", hlen,
                            kMaxHeader));
  size_t data_start = 8 + len_bytes + hlen;
  if (data_start > b.size())
    return fail(fmt::format("truncated header: header length {} but the file has {} bytes", hlen, b.size()));
  HeaderParser p{b.substr(8 + len_bytes, hlen)};
  std::string descr;
  bool fortran = false, have_descr = false, have_fortran = false, have_shape = false;
  Shape shape;
  if (!p.eat('{')) return fail("malformed header: expected '{'");
  while (!p.eat('}')) {
    std::string key;
    if (!p.string(key) || !p.eat(':')) return fail("malformed header: expected 'key': value");
    if (key == "descr") {
      if (!p.string(descr)) return fail("structured dtypes are not supported");
      have_descr = true;
    } else if (key == "fortran_order") {
      if (p.word("True")) fortran = true;
      else if (p.word("False")) fortran = false;
      else return fail("malformed header: fortran_order must be True or False");
      have_fortran = true;
    } else if (key == "shape") {
      if (!p.tuple(shape)) return fail("malformed header: shape must be a tuple of non-negative integers");
      have_shape = true;
    } else {
      return fail(fmt::format("malformed header: unexpected key '{}'", printable(key)));
    }
    if (!p.eat(',')) {
      if (!p.eat('}')) return fail("malformed header: expected ',' or '}'");
      break;
    }
  }
  if (!have_descr || !have_fortran || !have_shape)
    return fail(fmt::format("malformed header: missing '{}'", !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape"));
  if (!descr.empty() && descr[0] == '>') {
    if (!find_descr("<" + descr.substr(1))) return fail(fmt::format("unsupported dtype '{}'", printable(descr)));
    return fail(fmt::format("big-endian data ('{}') is not supported", printable(descr)));
  }
  const DescrInfo* d = find_descr(descr);
  if (!d) return fail(fmt::format("unsupported dtype '{}' (supported: <f4, <f8, <i4, <i8, |u1, |b1)", printable(descr)));
  if (fortran) return fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  // element count, guarding against overflow: the non-zero dimensions' product is bounded
  // even when another dimension is 0, so that a row's width (the product of the trailing
  // dimensions, runtime/dataset.cpp) fits too
  uint64_t n = 1;
  bool empty = false;
  for (auto dim : shape) {
    if (dim == 0) empty = true;
    else if (n > (uint64_t(1) << 40) / uint64_t(dim)) return fail(fmt::format("shape {} is too large", shape_str(shape)));
    else n *= uint64_t(dim);
  }
  if (empty) n = 0;
  uint64_t need = n * uint64_t(d->size);
  uint64_t have = b.size() - data_start;
  if (have < need)
    return fail(fmt::format("truncated data: shape {} of {} needs {} bytes, found {}", shape.empty() ? "[]" : shape_str(shape),
                            d->descr, need, have));
  if (have > need)
    return fail(fmt::format("{} bytes of trailing data after shape {} of {}", have - need,
                            shape.empty() ? "[]" : shape_str(shape), d->descr));
  NpyArray a;
  a.descr = d->descr;
  a.dtype = d->dtype;
  a.shape = shape;
  if (n > memory_limit() / sizeof(double))
    return fail(fmt::format("shape {} holds {} values, more than fit in {}", shape_str(shape), n, memory_limit_text()));
  a.values.resize(n);
  const char* src = b.data() + data_start;
  for (uint64_t k = 0; k < n; ++k) {
    const char* e = src + k * uint64_t(d->size);
    switch (d->size) {
      case 1: {
        uint8_t v = uint8_t(*e);
        if (d->descr[1] == 'b' && v > 1) return fail(fmt::format("bool value {} at index {} is not 0 or 1", v, k));
        a.values[k] = v;
        break;
      }
      case 4:
        if (d->dtype == DType::f32) {
          float f;
          std::memcpy(&f, e, 4);
          a.values[k] = f;
        } else {
          int32_t i;
          std::memcpy(&i, e, 4);
          a.values[k] = i;
        }
        break;
      case 8:
        if (d->dtype == DType::f64) {
          double f;
          std::memcpy(&f, e, 8);
          a.values[k] = f;
        } else {
          int64_t i;
          std::memcpy(&i, e, 8);
          if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max())
            return fail(fmt::format("<i8 value {} at index {} does not fit in i32", i, k));
          a.values[k] = double(i);
        }
        break;
    }
  }
  return a;
}

std::optional<NpyArray> read_npy(const std::string& path, std::string& err) {
  // The format needs its header and values that fit in memory as doubles: a larger file
  // (a device, a runaway dump) is refused before it is read.
  std::string bytes;
  if (!read_file(path, bytes, err, saturating_add(12 + kMaxHeader, memory_limit()), memory_limit_text()))
    return std::nullopt;
  return parse_npy(bytes, path, err);
}

std::optional<std::string> encode_npy(DType dtype, const Shape& shape, const std::vector<double>& values,
                                      std::string& err) {
  if (int64_t(values.size()) != num_elements(shape)) {
    err = fmt::format("internal error: {} values for shape {}", values.size(), shape_str(shape));
    return std::nullopt;
  }
  const char* descr = dtype == DType::f32 ? "<f4" : dtype == DType::f64 ? "<f8" : "<i4";
  std::string shp = "(";
  for (size_t k = 0; k < shape.size(); ++k) shp += fmt::format("{}{}", k ? ", " : "", shape[k]);
  if (shape.size() == 1) shp += ",";
  shp += ")";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shp);
  // Pad with spaces so that magic + version + length + header (ending in '\n') is a
  // multiple of 64 bytes, as numpy does.
  int major = 1;
  size_t prefix = 10;
  if (dict.size() + 1 + 64 > 65535) {
    major = 2;
    prefix = 12;
  }
  size_t total = prefix + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  size_t hlen = dict.size();
  for (size_t k = 0; k < prefix - 8; ++k) out += char((hlen >> (8 * k)) & 0xff);
  out += dict;
  size_t esize = dtype == DType::f64 ? 8 : 4;
  size_t base = out.size();
  out.resize(base + values.size() * esize);
  char* dst = out.data() + base;
  for (size_t k = 0; k < values.size(); ++k) {
    double v = values[k];
    if (dtype == DType::f32) {
      float f = float(v);
      std::memcpy(dst + 4 * k, &f, 4);
    } else if (dtype == DType::f64) {
      std::memcpy(dst + 8 * k, &v, 8);
    } else {
      if (!(v == std::floor(v)) || v < -2147483648.0 || v > 2147483647.0) {
        err = fmt::format("value {} at index {} is not an i32", v, k);
        return std::nullopt;
      }
      int32_t i = int32_t(v);
      std::memcpy(dst + 4 * k, &i, 4);
    }
  }
  return out;
}

bool write_npy(const std::string& path, DType dtype, const Shape& shape, const std::vector<double>& values,
               std::string& err) {
  auto bytes = encode_npy(dtype, shape, values, err);
  if (!bytes) {
    err = fmt::format("{}: {}", path, err);
    return false;
  }
  return write_file_atomic(path, *bytes, err);
}

}  // namespace kiln
