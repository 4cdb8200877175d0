// libFuzzer target of the NPY reader (runtime/npy.hpp): arbitrary bytes either fail with a
// message naming the file or give an array whose values fit its shape and dtype, which
// encode_npy writes and parse_npy reads back to the same dtype, shape and values; then
// the array as `--data x=FILE.npy` of a model input (runtime/dataset.hpp).
#include "fuzz_check.hpp"
#include "runtime/dataset.hpp"
#include "runtime/npy.hpp"
#include <algorithm>
#include <cstdint>
#include <fmt/format.h>

using kiln::fuzz::require;

namespace {

void check_array(const kiln::NpyArray& a, const char* what) {
  int64_t n = 1;
  for (auto d : a.shape) {
    require(d >= 0, fmt::format("{}: negative dimension in {}", what, kiln::shape_str(a.shape)));
    require(d == 0 || n <= (int64_t(1) << 40) / d, fmt::format("{}: shape {} accepted", what, kiln::shape_str(a.shape)));
    n *= d;
  }
  require(a.values.size() == uint64_t(n), fmt::format("{}: {} values for shape {}", what, a.values.size(),
                                                      kiln::shape_str(a.shape)));
  if (a.dtype == kiln::DType::i32)
    for (double v : a.values)
      require(v == std::floor(v) && v >= -2147483648.0 && v <= 2147483647.0,
              fmt::format("{}: {} in an i32 array", what, v));
}

// The array as the data of input x: a one-wide input, and one whose row shape is the
// array's trailing dimensions (when they hold a few values). Either a located error or
// rows of the input's width that standardise and gather into batches.
void check_dataset(const kiln::NpyArray& a) {
  std::vector<kiln::Shape> rows_shapes = {{}};
  kiln::Shape trailing(a.shape.size() > 1 ? a.shape.begin() + 1 : a.shape.end(), a.shape.end());
  int64_t width = 1;
  for (auto d : trailing) width = d > 0 && d <= 4096 && width <= 4096 ? width * d : 1 << 30;
  if (!trailing.empty() && width <= 4096) rows_shapes.push_back(trailing);
  for (auto& row_shape : rows_shapes) {
    kiln::InputSpec in{"x", a.dtype == kiln::DType::i32 ? kiln::DType::i32 : kiln::DType::f32, row_shape, true};
    std::string err;
    auto ds = kiln::dataset_from_arrays({kiln::InputArray{"x", "fuzz.npy", a}}, {in}, err);
    if (!ds) {
      require(!err.empty(), "dataset_from_arrays failed without a message");
      continue;
    }
    const int64_t w = in.width();
    require(!a.shape.empty() && ds->rows == a.shape[0] && ds->rows > 0 &&
                ds->data.size() == 1 && ds->data[0].size() == uint64_t(ds->rows * w),
            fmt::format("a dataset of {} rows and {} values from shape {}", ds->rows, ds->data[0].size(),
                        kiln::shape_str(a.shape)));
    (void)kiln::data_scale_message(*ds, 0, ds->rows);
    auto st = kiln::compute_standardization(*ds, 0, 0, ds->rows);
    kiln::apply_standardization(*ds, 0, st);
    std::vector<int64_t> batch;
    for (int64_t r = 0; r < std::min<int64_t>(ds->rows, 4); ++r) batch.push_back(ds->rows - 1 - r);
    std::vector<kiln::BatchBuffer> out;
    kiln::gather_batch(*ds, batch, out);
    require(out.size() == 1 && out[0].bytes.size() == batch.size() * uint64_t(w) * 4,
            fmt::format("a batch of {} rows of width {} in {} bytes", batch.size(), w, out[0].bytes.size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string err;
  auto a = kiln::parse_npy(kiln::fuzz::bytes(data, size), "fuzz.npy", err);
  if (!a) {
    require(err.rfind("fuzz.npy: ", 0) == 0, "the error does not name the file: " + err);
    return 0;
  }
  check_array(*a, "parsed");
  // Round trip through the writer kiln uses for predictions (<f4, <f8 or <i4).
  std::string err2;
  auto bytes = kiln::encode_npy(a->dtype, a->shape, a->values, err2);
  if (!bytes) kiln::fuzz::fail("encode_npy refuses what parse_npy read: " + err2);
  auto back = kiln::parse_npy(*bytes, "fuzz.npy", err2);
  if (!back) kiln::fuzz::fail("encode_npy's output does not parse: " + err2);
  check_array(*back, "read back");
  require(back->dtype == a->dtype && back->shape == a->shape,
          fmt::format("{}{} reads back as {}{}", a->descr, kiln::shape_str(a->shape), back->descr,
                      kiln::shape_str(back->shape)));
  for (size_t i = 0; i < a->values.size(); ++i)
    require(kiln::fuzz::same_value(back->values[i], a->values[i]),
            fmt::format("value {} changes through encode_npy: {} -> {}", i, a->values[i], back->values[i]));
  check_dataset(*a);
  return 0;
}
