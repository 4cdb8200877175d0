// libFuzzer target of the safetensors reader (runtime/safetensors.hpp): arbitrary bytes
// either fail with a message naming the file or give tensors whose values fit their shapes,
// which encode_safetensors writes and parse_safetensors reads back unchanged.
#include "fuzz_check.hpp"
#include "runtime/safetensors.hpp"
#include <cstdint>
#include <fmt/format.h>
#include <set>

using kiln::fuzz::require;

namespace {

void check_file(const kiln::SafetensorsFile& f, const char* what) {
  std::set<std::string> names;
  for (auto& t : f.tensors) {
    require(names.insert(t.name).second, fmt::format("{}: tensor '{}' twice", what, t.name));
    int64_t n = 1;
    for (auto d : t.shape) {
      require(d >= 0 && (d == 0 || n <= (int64_t(1) << 50) / d),
              fmt::format("{}: tensor '{}' of shape {}", what, t.name, kiln::shape_str(t.shape)));
      n *= d;
    }
    require(t.values.size() == uint64_t(n), fmt::format("{}: tensor '{}' has {} values for shape {}", what, t.name,
                                                        t.values.size(), kiln::shape_str(t.shape)));
    require(f.find(t.name) == &t, fmt::format("{}: find('{}') finds another tensor", what, t.name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string err;
  auto f = kiln::parse_safetensors(kiln::fuzz::bytes(data, size), "fuzz.safetensors", err);
  if (!f) {
    require(err.rfind("fuzz.safetensors: ", 0) == 0, "the error does not name the file: " + err);
    return 0;
  }
  check_file(*f, "parsed");
  // Round trip: what kiln reads as a checkpoint, it writes back (--save) and re-reads the same.
  std::string err2;
  auto bytes = kiln::encode_safetensors(f->tensors, f->metadata, err2);
  if (!bytes) kiln::fuzz::fail("encode_safetensors refuses what parse_safetensors read: " + err2);
  auto back = kiln::parse_safetensors(*bytes, "fuzz.safetensors", err2);
  if (!back) kiln::fuzz::fail("encode_safetensors' output does not parse: " + err2);
  check_file(*back, "read back");
  require(back->metadata == f->metadata, "the metadata changes through encode_safetensors");
  require(back->tensors.size() == f->tensors.size(), "the tensor count changes through encode_safetensors");
  for (size_t k = 0; k < f->tensors.size(); ++k) {
    const kiln::NamedTensor &a = f->tensors[k], &b = back->tensors[k];
    require(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape,
            fmt::format("tensor {} '{}' {} reads back as '{}' {}", k, a.name, kiln::type_str(a.dtype, a.shape), b.name,
                        kiln::type_str(b.dtype, b.shape)));
    for (size_t i = 0; i < a.values.size(); ++i)
      require(kiln::fuzz::same_value(a.values[i], b.values[i]),
              fmt::format("tensor '{}' value {} changes: {} -> {}", a.name, i, a.values[i], b.values[i]));
  }
  return 0;
}
