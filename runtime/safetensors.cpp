// safetensors encoding and decoding, with a small strict JSON parser for the header.
#include "runtime/safetensors.hpp"
#include "ir/printable.hpp"
#include "runtime/atomic_file.hpp"
#include "runtime/input_file.hpp"
#include "runtime/memory_limit.hpp"
#include "runtime/json.hpp"
#include "ir/json_text.hpp"
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <fmt/format.h>
#include <limits>
#include <memory>
#include <set>

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little, "kiln's checkpoint I/O assumes a little-endian host");

constexpr uint64_t kMaxHeader = 100u << 20;  // as the reference implementation: 100 MB
constexpr int kMaxDepth = 8;

// A JSON number that must be a non-negative integer below 2^53.
bool as_count(const Json& j, uint64_t& out) {
  if (j.kind != Json::number || j.text.empty() || j.text[0] == '-') return false;
  if (j.text.find_first_not_of("0123456789") != std::string::npos || j.text.size() > 16) return false;
  out = std::stoull(j.text);
  return out < (uint64_t(1) << 53);
}


struct FileDType {
  const char* name;
  int size;
};
constexpr FileDType kFileDTypes[] = {{"F32", 4}, {"F64", 8}, {"I32", 4}, {"I64", 8}};

}  // namespace

const NamedTensor* SafetensorsFile::find(std::string_view name) const {
  for (auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<std::string> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                              const std::map<std::string, std::string>& metadata, std::string& err) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool f = true;
    for (auto& [k, v] : metadata) {
      header += (f ? "" : ",") + json_quote(k) + ":" + json_quote(v);
      f = false;
    }
    header += "}";
    first = false;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") {
      err = fmt::format("invalid tensor name '{}'", t.name);
      return std::nullopt;
    }
    if (!names.insert(t.name).second) {
      err = fmt::format("duplicate tensor name '{}'", t.name);
      return std::nullopt;
    }
    for (auto d : t.shape)
      if (d < 0) {
        err = fmt::format("tensor '{}': negative dimension in shape {}", t.name, shape_str(t.shape));
        return std::nullopt;
      }
    if (int64_t(t.values.size()) != num_elements(t.shape)) {
      err = fmt::format("tensor '{}': {} values for shape {}", t.name, t.values.size(),
                        t.shape.empty() ? "[]" : shape_str(t.shape));
      return std::nullopt;
    }
    const char* dt = t.dtype == DType::f32 ? "F32" : t.dtype == DType::f64 ? "F64" : "I32";
    uint64_t bytes = t.values.size() * (t.dtype == DType::f64 ? 8 : 4);
    std::string shape = "[";
    for (size_t k = 0; k < t.shape.size(); ++k) shape += fmt::format("{}{}", k ? "," : "", t.shape[k]);
    shape += "]";
    header += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":{},\"data_offsets\":[{},{}]}}", first ? "" : ",",
                          json_quote(t.name), dt, shape, offset, offset + bytes);
    first = false;
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + header.size() + offset);
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) out += char((n >> (8 * k)) & 0xff);
  out += header;
  for (auto& t : tensors) {
    size_t base = out.size();
    if (t.dtype == DType::f32) {
      out.resize(base + 4 * t.values.size());
      for (size_t k = 0; k < t.values.size(); ++k) {
        float f = float(t.values[k]);
        std::memcpy(out.data() + base + 4 * k, &f, 4);
      }
    } else if (t.dtype == DType::f64) {
      out.resize(base + 8 * t.values.size());
      if (!t.values.empty())  // an empty vector's data() may be null, which memcpy may not get
        std::memcpy(out.data() + base, t.values.data(), 8 * t.values.size());
    } else {
      out.resize(base + 4 * t.values.size());
      for (size_t k = 0; k < t.values.size(); ++k) {
        double v = t.values[k];
        if (!(v == std::floor(v)) || v < -2147483648.0 || v > 2147483647.0) {
          err = fmt::format("tensor '{}': value {} at index {} is not an i32", t.name, v, k);
          return std::nullopt;
        }
        int32_t i = int32_t(v);
        std::memcpy(out.data() + base + 4 * k, &i, 4);
      }
    }
  }
  return out;
}

bool write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata, std::string& err) {
  auto bytes = encode_safetensors(tensors, metadata, err);
  if (!bytes) {
    err = fmt::format("{}: {}", path, err);
    return false;
  }
  return write_file_atomic(path, *bytes, err);
}

std::optional<SafetensorsFile> parse_safetensors(std::string_view b, const std::string& source, std::string& err) {
  auto fail = [&](std::string m) -> std::optional<SafetensorsFile> {
    err = fmt::format("{}: {}", source, m);
    return std::nullopt;
  };
  if (b.size() < 8) return fail(fmt::format("file is too short for a safetensors header ({} bytes)", b.size()));
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | uint8_t(b[size_t(k)]);
  if (n > b.size() - 8)
    return fail(fmt::format("header length {} is larger than the file ({} bytes)", n, b.size()));
  if (n > kMaxHeader) return fail(fmt::format("header length {} exceeds the 100 MB limit", n));
  std::string_view header = b.substr(8, n);
  Json root;
  std::string jerr;
  if (!parse_json(header, root, jerr, 8, kMaxDepth)) return fail("malformed JSON header " + printable(jerr));
  if (root.kind != Json::object) return fail("header is not a JSON object");
  const uint64_t data_size = b.size() - 8 - n;
  const char* data = b.data() + 8 + n;

  SafetensorsFile file;
  struct Span {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Span> spans;
  std::vector<const FileDType*> ftypes;
  for (auto& [name, v] : root.members) {
    if (name == "__metadata__") {
      if (v.kind != Json::object) return fail("'__metadata__' must be an object of strings");
      for (auto& [k, mv] : v.members) {
        if (mv.kind != Json::string) return fail(fmt::format("'__metadata__' value of '{}' is not a string", printable(k)));
        file.metadata[k] = mv.text;
      }
      continue;
    }
    auto tfail = [&](std::string m) { return fail(fmt::format("tensor '{}': {}", printable(name), m)); };
    if (v.kind != Json::object) return tfail("entry is not an object");
    const Json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
    for (auto& [k, f] : v.members) {
      if (k == "dtype") dtype = &f;
      else if (k == "shape") shape = &f;
      else if (k == "data_offsets") offsets = &f;
      else return tfail(fmt::format("unexpected key '{}'", printable(k)));
    }
    if (!dtype) return tfail("missing 'dtype'");
    if (!shape) return tfail("missing 'shape'");
    if (!offsets) return tfail("missing 'data_offsets'");
    if (dtype->kind != Json::string) return tfail("'dtype' is not a string");
    const FileDType* ft = nullptr;
    for (auto& d : kFileDTypes)
      if (dtype->text == d.name) ft = &d;
    if (!ft) return tfail(fmt::format("unsupported dtype '{}' (supported: F32, F64, I32, I64)", printable(dtype->text)));
    NamedTensor t;
    t.name = name;
    t.dtype = ft->name[0] == 'F' ? (ft->size == 4 ? DType::f32 : DType::f64) : DType::i32;
    if (shape->kind != Json::array) return tfail("'shape' is not an array");
    uint64_t count = 1;
    for (auto& d : shape->items) {
      uint64_t dim;
      if (!as_count(d, dim)) return tfail("'shape' must hold non-negative integers");
      if (dim != 0 && count > (uint64_t(1) << 50) / dim) return tfail("shape is too large");
      count *= dim;
      t.shape.push_back(int64_t(dim));
    }
    uint64_t begin, end;
    if (offsets->kind != Json::array || offsets->items.size() != 2 || !as_count(offsets->items[0], begin) ||
        !as_count(offsets->items[1], end))
      return tfail("'data_offsets' must be [begin, end] with non-negative integers");
    if (begin > end || end > data_size)
      return tfail(fmt::format("data_offsets [{},{}] out of range (the data is {} bytes)", begin, end, data_size));
    if (end - begin != count * uint64_t(ft->size))
      return tfail(fmt::format("data_offsets span {} bytes but {}{} needs {}", end - begin, ft->name,
                               t.shape.empty() ? "[]" : shape_str(t.shape), count * uint64_t(ft->size)));
    spans.push_back({begin, end, file.tensors.size()});
    ftypes.push_back(ft);
    file.tensors.push_back(std::move(t));
  }
  // The tensors must tile the data exactly: no overlaps, no gaps, nothing after.
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& c) {
    return a.begin != c.begin ? a.begin < c.begin : a.end < c.end;
  });
  uint64_t at = 0;
  for (size_t k = 0; k < spans.size(); ++k) {
    const Span& s = spans[k];
    if (s.begin < at)
      return fail(fmt::format("tensors '{}' and '{}' overlap in the data", printable(file.tensors[spans[k - 1].tensor].name),
                              printable(file.tensors[s.tensor].name)));
    if (s.begin > at) return fail(fmt::format("bytes {}..{} of the data belong to no tensor", at, s.begin));
    at = s.end;
  }
  if (at != data_size) return fail(fmt::format("bytes {}..{} of the data belong to no tensor", at, data_size));
  uint64_t values = 0;
  for (auto& s : spans) values += (s.end - s.begin) / uint64_t(ftypes[s.tensor]->size);
  if (values > memory_limit() / sizeof(double))
    return fail(fmt::format("its tensors hold {} values, more than fit in {}", values, memory_limit_text()));
  // Decode, and return the tensors in data order.
  std::vector<NamedTensor> ordered;
  for (auto& s : spans) {
    NamedTensor& t = file.tensors[s.tensor];
    const FileDType* ft = ftypes[s.tensor];
    size_t n_el = size_t((s.end - s.begin) / uint64_t(ft->size));
    t.values.resize(n_el);
    const char* p = data + s.begin;
    for (size_t k = 0; k < n_el; ++k) {
      const char* e = p + k * size_t(ft->size);
      if (ft->name == std::string_view("F32")) {
        float f;
        std::memcpy(&f, e, 4);
        t.values[k] = f;
      } else if (ft->name == std::string_view("F64")) {
        std::memcpy(&t.values[k], e, 8);
      } else if (ft->name == std::string_view("I32")) {
        int32_t i;
        std::memcpy(&i, e, 4);
        t.values[k] = i;
      } else {
        int64_t i;
        std::memcpy(&i, e, 8);
        if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max())
          return fail(fmt::format("tensor '{}': I64 value {} at index {} does not fit in i32", printable(t.name), i, k));
        t.values[k] = double(i);
      }
    }
    ordered.push_back(std::move(t));
  }
  file.tensors = std::move(ordered);
  return file;
}

bool check_tensors(const SafetensorsFile& file, const std::string& source, const std::vector<TensorSpec>& expected,
                   std::string& err) {
  for (auto& e : expected) {
    const NamedTensor* t = file.find(e.name);
    if (!t) {
      err = fmt::format("{} has no tensor '{}' (the model's param is {})", source, e.name, type_str(e.dtype, e.shape));
      return false;
    }
    if (t->dtype != e.dtype || t->shape != e.shape) {
      err = fmt::format("{}: tensor '{}' is {} but the model's is {}", source, e.name, type_str(t->dtype, t->shape),
                        type_str(e.dtype, e.shape));
      return false;
    }
  }
  return true;
}

std::optional<SafetensorsFile> read_safetensors(const std::string& path, std::string& err) {
  // The format needs its header (at most kMaxHeader) and tensor data that fits in memory
  // as doubles: a larger file (a device, a runaway dump) is refused before it is read.
  std::string bytes;
  if (!read_file(path, bytes, err, saturating_add(8 + kMaxHeader, memory_limit()), memory_limit_text()))
    return std::nullopt;
  return parse_safetensors(bytes, path, err);
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::map<std::string, std::string> out;
  // Through InputFile: a FIFO or a device is not waited on nor read (the full read reports it).
  InputFile in;
  std::string err;
  if (!in.open(path, err)) return out;
  unsigned char len[8];
  size_t got = 0;
  if (!in.read(reinterpret_cast<char*>(len), 8, got, err) || got != 8) return out;
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | len[k];
  if (n > kMaxHeader || n > in.size() - 8) return out;
  std::string header(size_t(n), '\0');
  for (size_t done = 0; done < n; done += got)
    if (!in.read(header.data() + done, size_t(n) - done, got, err) || got == 0) return out;
  Json root;
  if (!parse_json(header, root, err, 8, kMaxDepth)) return out;
  if (const Json* meta = root.get("__metadata__"); meta && meta->kind == Json::object)
    for (auto& [k, v] : meta->members)
      if (v.kind == Json::string) out[k] = v.text;
  return out;
}

}  // namespace kiln
