// NumPy .npy arrays (format versions 1, 2 and 3): reader for `--data x=x.npy`, writer for
// prediction outputs and tests. Little-endian, C order; values are held as double.
#pragma once
#include "ir/types.hpp"
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

struct NpyArray {
  std::string descr;           // dtype as stored: "<f4", "<f8", "<i4", "<i8", "|u1", "|b1"
  DType dtype = DType::f32;    // kiln type it maps to: <f4 -> f32, <f8 -> f64, integers and bools -> i32
  Shape shape;                 // {} for a 0-d array
  std::vector<double> values;  // row-major (C order)
};

// Parses the bytes of a .npy file; `source` names it in messages. Errors, e.g.
//   "x.npy: unsupported dtype '<c8' (supported: <f4, <f8, <i4, <i8, |u1, |b1)"
//   "x.npy: big-endian data ('>f4') is not supported"
//   "x.npy: Fortran-order arrays are not supported (save with np.ascontiguousarray)"
//   "x.npy: truncated data: shape [3,4] of <f4 needs 48 bytes, found 40"
//   "x.npy: <i8 value 4294967296 at index 2 does not fit in i32"
std::optional<NpyArray> parse_npy(std::string_view bytes, const std::string& source, std::string& err);
std::optional<NpyArray> read_npy(const std::string& path, std::string& err);

// Encodes `values` (row-major, num_elements(shape) of them) as a version 1.0 .npy file
// (2.0 if the header needs it) with descr <f4, <f8 or <i4. i32 values must be integers in range.
std::optional<std::string> encode_npy(DType dtype, const Shape& shape, const std::vector<double>& values,
                                      std::string& err);
bool write_npy(const std::string& path, DType dtype, const Shape& shape, const std::vector<double>& values,
               std::string& err);

}  // namespace kiln
