// safetensors files: kiln's checkpoint format (params, optimizer state, normalisation
// statistics). 8-byte LE header length N, an N-byte JSON header, then the tensor data.
#pragma once
#include "ir/types.hpp"
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct NamedTensor {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;                 // {} for a scalar
  std::vector<double> values;  // row-major, num_elements(shape) of them
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;              // in the order of their data in the file
  std::map<std::string, std::string> metadata;   // "__metadata__" (string -> string)
  const NamedTensor* find(std::string_view name) const;
};

// Encodes tensors (written as F32, F64 or I32 after their dtype, data in the given order)
// and metadata. The JSON header is compact, `__metadata__` first (omitted when empty),
// then the tensors in order, padded with spaces to a multiple of 8 bytes. Fails on
// duplicate/empty names, a value count that does not match the shape, or a non-integer
// value in an i32 tensor.
std::optional<std::string> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                              const std::map<std::string, std::string>& metadata, std::string& err);
// encode_safetensors + an atomic write (see atomic_file.hpp).
bool write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata, std::string& err);

// Decodes a file's bytes. Reads F32, F64, I32 and I64 (I64 -> i32, which every value must
// fit). The header is parsed by a strict, bounded JSON parser; offsets must lie in the
// data, match shape * dtype size, and tile the data without gaps or overlaps. Errors name
// the file and the tensor, e.g. "p.safetensors: tensor 'w': unsupported dtype 'BF16'
// (supported: F32, F64, I32, I64)".
std::optional<SafetensorsFile> parse_safetensors(std::string_view bytes, const std::string& source, std::string& err);
std::optional<SafetensorsFile> read_safetensors(const std::string& path, std::string& err);
// The "__metadata__" strings of a file whose header is JSON within the limits, whatever its
// tensors (a file of a newer format that read_safetensors refuses); empty otherwise. Reads
// the header only.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// What a checkpoint must hold (e.g. every param of the model, for `--load`).
struct TensorSpec {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
};
// Checks that `file` has each expected tensor with that dtype and shape; extra tensors
// are allowed. Errors (the first problem found, in `expected` order):
//   "p.safetensors has no tensor 'w2' (the model's param is f32[64,1])"
//   "p.safetensors: tensor 'w1' is f32[10,64] but the model's is f32[10,128]"
bool check_tensors(const SafetensorsFile& file, const std::string& source, const std::vector<TensorSpec>& expected,
                   std::string& err);

}  // namespace kiln
