// Training data for a model: CSV or NPY columns mapped onto the model's inputs, label
// checks, standardisation statistics, the validation split and (shuffled) batches.
#pragma once
#include "ir/tensor.hpp"
#include "ir/types.hpp"
#include "runtime/csv.hpp"
#include "runtime/npy.hpp"
#include "runtime/safetensors.hpp"
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln {

// One `input NAME : TYPE [normalize]` of the model. row_shape is its shape without the
// leading batch dimension: {} for f32[batch], {1} for f32[batch, 1], {30} for f32[batch, 30].
struct InputSpec {
  std::string name;
  DType dtype = DType::f32;
  Shape row_shape;
  bool normalize = false;
  int64_t width() const { return num_elements(row_shape); }
  std::string type_string() const;  // "f32[batch,30]"
};

// The data of every input, row-aligned, values as double (rounded to the input's dtype
// only when a batch is gathered).
struct Dataset {
  std::vector<InputSpec> inputs;
  int64_t rows = 0;
  std::vector<std::vector<double>> data;  // per input: row-major [rows, width]

  // Where rows came from, for messages: a CSV (one source, line numbers, column names)
  // or one NPY file per input.
  struct Origin {
    std::string source;        // "data.csv" or "x.npy"
    int64_t first_column = 0;  // CSV: 0-based column of the input's first value
  };
  std::vector<Origin> origin;         // per input
  std::vector<uint32_t> line_of_row;  // CSV: file line of each row; empty for NPY
  std::vector<std::string> csv_columns;

  // "data.csv:40" for a CSV, "y.npy[39]" (0-based index) for NPY data.
  std::string row_location(size_t input, int64_t row) const;
  int64_t input_index(std::string_view name) const;  // -1 when absent
};

// Maps CSV columns onto the inputs in declaration order by width. Inputs named in
// `optional` (e.g. the labels, for `predict`) may be absent: when the column count matches
// the other inputs' total width, the dataset holds only those (Dataset::inputs says which).
// Errors:
//   "data.csv has 31 columns but the model's inputs take 30: x (29), y (1)"
//   "data.csv has 5 columns but the model's inputs take 31: x (30), y (1) (or 30 without y)"
//   "data.csv:5: column 'digit' (65): i32 input 'y' needs integers, found 2.5"
std::optional<Dataset> dataset_from_csv(const CsvTable& table, const std::vector<InputSpec>& inputs, std::string& err,
                                        const std::vector<std::string>& optional = {});

// One NPY array per input (`--data x=x.npy`). Shape [rows, ...] whose trailing dimensions
// hold the input's width (a 1-d [rows] array fits a one-wide input).
struct InputArray {
  std::string input;   // input name
  std::string source;  // file name, for messages
  NpyArray array;
};
std::optional<Dataset> dataset_from_arrays(const std::vector<InputArray>& arrays, const std::vector<InputSpec>& inputs,
                                           std::string& err, const std::vector<std::string>& optional = {});

// Loads from `--data` arguments: a single "file.csv", or "name=file.npy" for every input.
std::optional<Dataset> load_dataset(const std::vector<std::string>& data_args, const std::vector<InputSpec>& inputs,
                                    std::string& err, const std::vector<std::string>& optional = {});

// Every value of an i32 input must be a class index in [0, classes):
//   "data.csv:40: label 10 out of range for 10 classes (0..9)"
bool check_label_range(const Dataset& ds, size_t input, int64_t classes, std::string& err);

// The `data-scale` monitor (DIAGNOSTICS.md; runtime/monitors/data_scale.cpp): when an
// input's columns, over rows [0, rows), differ in standard deviation by more than 100x, a
// message naming the widest and narrowest column, e.g. "input 'x': columns differ in scale by 5e+04x ('mean_area' has std 352,
// 'mean_fractal_dimension' 0.00706)". Constant columns are ignored. nullopt when fine.
std::optional<std::string> data_scale_message(const Dataset& ds, size_t input, int64_t rows);

// Per-column mean and standard deviation (population, i.e. divided by n) of one input over
// rows [row_begin, row_end); a std of 0 is stored as 1 so that constant columns map to 0.
struct Standardization {
  std::vector<double> mean, std;
};
Standardization compute_standardization(const Dataset& ds, size_t input, int64_t row_begin, int64_t row_end);
// Replaces every value v of the input (all rows) by (v - mean) / std.
void apply_standardization(Dataset& ds, size_t input, const Standardization& st);
// Checkpoint tensors "__normalize__.NAME.mean" and "__normalize__.NAME.std" (F64, [width]).
std::vector<NamedTensor> standardization_tensors(const std::string& input_name, const Standardization& st);
// Reads them back; errors name the missing tensor or the wrong shape.
std::optional<Standardization> standardization_from(const SafetensorsFile& file, const std::string& source,
                                                    const InputSpec& input, std::string& err);

// --val-split F: the last ceil(F * rows) rows are held out (before any shuffling).
struct RowSplit {
  int64_t train_rows = 0, val_rows = 0;
};
std::optional<RowSplit> split_rows(int64_t rows, double val_fraction, std::string& err);

// The order of rows [0, rows) in one epoch: file order, or a Fisher-Yates shuffle driven
// by std::mt19937_64 seeded with seed + epoch (unbiased rejection sampling, so the order is
// the same on every platform).
std::vector<int64_t> epoch_order(int64_t rows, bool shuffle, uint64_t seed, int64_t epoch);
// Full batches only: the last partial batch is dropped.
inline int64_t batches_per_epoch(int64_t rows, int64_t batch_size) { return batch_size > 0 ? rows / batch_size : 0; }

// One input's values for a batch, contiguous and row-major in the input's dtype
// (float, double or int32_t), shape [batch] + row_shape.
struct BatchBuffer {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<unsigned char> bytes;
  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
};
// Gathers the given dataset rows (e.g. a slice of epoch_order + row offset) for every input.
void gather_batch(const Dataset& ds, std::span<const int64_t> rows, std::vector<BatchBuffer>& out);
// The same as interpreter tensors (f32 values rounded to float).
std::vector<Tensor> gather_batch_tensors(const Dataset& ds, std::span<const int64_t> rows);

}  // namespace kiln
