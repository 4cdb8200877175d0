// Datasets: mapping CSV/NPY data onto model inputs, label checks, standardisation,
// validation split, deterministic shuffling and batch gathering.
#include "runtime/dataset.hpp"
#include "ir/printable.hpp"
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <numeric>
#include <random>

namespace kiln {

std::string InputSpec::type_string() const {
  std::string s = fmt::format("{}[batch", dtype_name(dtype));
  for (auto d : row_shape) s += fmt::format(",{}", d);
  return s + "]";
}

std::string Dataset::row_location(size_t input, int64_t row) const {
  if (!line_of_row.empty()) return fmt::format("{}:{}", origin[input].source, line_of_row[size_t(row)]);
  return fmt::format("{}[{}]", origin[input].source, row);
}

int64_t Dataset::input_index(std::string_view name) const {
  for (size_t k = 0; k < inputs.size(); ++k)
    if (inputs[k].name == name) return int64_t(k);
  return -1;
}

namespace {

bool is_i32_value(double v) { return v == std::floor(v) && v >= -2147483648.0 && v <= 2147483647.0; }

bool is_optional(const std::string& name, const std::vector<std::string>& optional) {
  return std::find(optional.begin(), optional.end(), name) != optional.end();
}

std::string widths_list(const std::vector<InputSpec>& inputs) {
  std::string s;
  for (size_t k = 0; k < inputs.size(); ++k) s += fmt::format("{}{} ({})", k ? ", " : "", inputs[k].name, inputs[k].width());
  return s;
}

}  // namespace

std::optional<Dataset> dataset_from_csv(const CsvTable& t, const std::vector<InputSpec>& all_inputs, std::string& err,
                                        const std::vector<std::string>& optional) {
  int64_t total = 0, required_total = 0;
  std::vector<InputSpec> required;
  std::string dropped;
  for (auto& in : all_inputs) {
    total += in.width();
    if (is_optional(in.name, optional)) {
      dropped += fmt::format("{}{}", dropped.empty() ? "" : ", ", in.name);
    } else {
      required.push_back(in);
      required_total += in.width();
    }
  }
  const bool subset = total != t.cols() && !dropped.empty() && required_total == t.cols();
  if (total != t.cols() && !subset) {
    err = fmt::format("{} has {} column{} but the model's inputs take {}: {}", t.source, t.cols(),
                      t.cols() == 1 ? "" : "s", total, widths_list(all_inputs));
    if (!dropped.empty()) err += fmt::format(" (or {} without {})", required_total, dropped);
    return std::nullopt;
  }
  const std::vector<InputSpec>& inputs = subset ? required : all_inputs;
  Dataset ds;
  ds.inputs = inputs;
  ds.rows = t.rows;
  ds.line_of_row = t.line_of_row;
  ds.csv_columns = t.columns;
  int64_t col = 0;
  for (auto& in : inputs) {
    const int64_t w = in.width();
    std::vector<double> d(size_t(t.rows * w));
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t c = 0; c < w; ++c) {
        double v = t.at(r, col + c);
        if (in.dtype == DType::i32 && !is_i32_value(v)) {
          err = fmt::format("{}:{}: column '{}' ({}): i32 input '{}' needs integers, found {}", t.source,
                            t.line_of_row[size_t(r)], printable(t.columns[size_t(col + c)]), col + c + 1, in.name, v);
          return std::nullopt;
        }
        d[size_t(r * w + c)] = v;
      }
    ds.data.push_back(std::move(d));
    ds.origin.push_back({t.source, col});
    col += w;
  }
  return ds;
}

std::optional<Dataset> dataset_from_arrays(const std::vector<InputArray>& arrays, const std::vector<InputSpec>& all_inputs,
                                           std::string& err, const std::vector<std::string>& optional) {
  const std::vector<InputSpec>& inputs = all_inputs;
  for (auto& a : arrays) {
    bool known = std::any_of(inputs.begin(), inputs.end(), [&](const InputSpec& in) { return in.name == a.input; });
    if (!known) {
      err = fmt::format("data given for '{}' but the model has no input of that name (inputs: {})", printable(a.input),
                        widths_list(inputs));
      return std::nullopt;
    }
    int n = 0;
    for (auto& b : arrays) n += b.input == a.input;
    if (n > 1) {
      err = fmt::format("data given twice for input '{}'", a.input);
      return std::nullopt;
    }
  }
  Dataset ds;
  const InputArray* first = nullptr;
  for (auto& in : inputs) {
    auto it = std::find_if(arrays.begin(), arrays.end(), [&](const InputArray& a) { return a.input == in.name; });
    if (it == arrays.end() && is_optional(in.name, optional)) continue;
    if (it == arrays.end()) {
      err = fmt::format("no data for input '{}' (give --data {}=FILE.npy)", in.name, in.name);
      return std::nullopt;
    }
    const NpyArray& a = it->array;
    const int64_t w = in.width();
    int64_t per_row = 1;
    for (size_t k = 1; k < a.shape.size(); ++k) per_row *= a.shape[k];
    if (a.shape.empty() || per_row != w) {
      err = fmt::format("{}: shape {} does not fit input '{}' ({}), which takes {} value{} per row", it->source,
                        a.shape.empty() ? "[]" : shape_str(a.shape), in.name, in.type_string(), w, w == 1 ? "" : "s");
      return std::nullopt;
    }
    if (!first) {
      first = &*it;
      ds.rows = a.shape[0];
    } else if (a.shape[0] != ds.rows) {
      err = fmt::format("{} has {} rows but {} has {}", it->source, a.shape[0], first->source, ds.rows);
      return std::nullopt;
    }
    if (in.dtype == DType::i32)
      for (size_t k = 0; k < a.values.size(); ++k)
        if (!is_i32_value(a.values[k])) {
          err = fmt::format("{}[{}]: i32 input '{}' needs integers, found {}", it->source, int64_t(k) / std::max<int64_t>(w, 1),
                            in.name, a.values[k]);
          return std::nullopt;
        }
    ds.inputs.push_back(in);
    ds.data.push_back(a.values);
    ds.origin.push_back({it->source, 0});
  }
  if (ds.rows == 0) {
    err = fmt::format("{}: no rows", first ? first->source : std::string("data"));
    return std::nullopt;
  }
  return ds;
}

std::optional<Dataset> load_dataset(const std::vector<std::string>& args, const std::vector<InputSpec>& inputs,
                                    std::string& err, const std::vector<std::string>& optional) {
  if (args.empty()) {
    err = "no data given (--data FILE.csv, or --data NAME=FILE.npy for every input)";
    return std::nullopt;
  }
  if (args.size() == 1 && args[0].find('=') == std::string::npos) {
    auto t = read_csv(args[0], err);
    if (!t) return std::nullopt;
    return dataset_from_csv(*t, inputs, err, optional);
  }
  std::vector<InputArray> arrays;
  for (auto& a : args) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      err = fmt::format("--data '{}': with several data files, each must be NAME=FILE.npy", printable(a));
      return std::nullopt;
    }
    InputArray ia;
    ia.input = a.substr(0, eq);
    ia.source = a.substr(eq + 1);
    auto arr = read_npy(ia.source, err);
    if (!arr) return std::nullopt;
    ia.array = std::move(*arr);
    arrays.push_back(std::move(ia));
  }
  return dataset_from_arrays(arrays, inputs, err, optional);
}

bool check_label_range(const Dataset& ds, size_t input, int64_t classes, std::string& err) {
  if (classes <= 0) {
    err = fmt::format("input '{}': a label needs at least one class, got {}", ds.inputs[input].name, classes);
    return false;
  }
  const auto& d = ds.data[input];
  const int64_t w = std::max<int64_t>(ds.inputs[input].width(), 1);
  for (size_t k = 0; k < d.size(); ++k)
    if (d[k] < 0 || d[k] >= double(classes)) {
      err = fmt::format("{}: label {} out of range for {} classes (0..{})", ds.row_location(input, int64_t(k) / w), d[k],
                        classes, classes - 1);
      return false;
    }
  return true;
}

Standardization compute_standardization(const Dataset& ds, size_t input, int64_t row_begin, int64_t row_end) {
  const int64_t w = ds.inputs[input].width();
  const auto& d = ds.data[input];
  Standardization st;
  st.mean.assign(size_t(w), 0.0);
  st.std.assign(size_t(w), 1.0);
  const int64_t n = row_end - row_begin;
  if (n <= 0) return st;
  for (int64_t c = 0; c < w; ++c) {
    double sum = 0;
    for (int64_t r = row_begin; r < row_end; ++r) sum += d[size_t(r * w + c)];
    double mean = sum / double(n);
    double ss = 0;
    for (int64_t r = row_begin; r < row_end; ++r) {
      double x = d[size_t(r * w + c)] - mean;
      ss += x * x;
    }
    double sd = std::sqrt(ss / double(n));
    st.mean[size_t(c)] = mean;
    st.std[size_t(c)] = sd > 0 ? sd : 1.0;
  }
  return st;
}

void apply_standardization(Dataset& ds, size_t input, const Standardization& st) {
  const int64_t w = ds.inputs[input].width();
  auto& d = ds.data[input];
  for (int64_t r = 0; r < ds.rows; ++r)
    for (int64_t c = 0; c < w; ++c) {
      double& v = d[size_t(r * w + c)];
      v = (v - st.mean[size_t(c)]) / st.std[size_t(c)];
    }
}

std::vector<NamedTensor> standardization_tensors(const std::string& input_name, const Standardization& st) {
  const int64_t w = int64_t(st.mean.size());
  return {NamedTensor{"__normalize__." + input_name + ".mean", DType::f64, {w}, st.mean},
          NamedTensor{"__normalize__." + input_name + ".std", DType::f64, {w}, st.std}};
}

std::optional<Standardization> standardization_from(const SafetensorsFile& file, const std::string& source,
                                                    const InputSpec& input, std::string& err) {
  Standardization st;
  for (int which = 0; which < 2; ++which) {
    std::string name = "__normalize__." + input.name + (which ? ".std" : ".mean");
    const NamedTensor* t = file.find(name);
    if (!t) {
      err = fmt::format("{}: no tensor '{}' (the normalisation statistics of input '{}')", source, name, input.name);
      return std::nullopt;
    }
    if (t->shape != Shape{input.width()}) {
      err = fmt::format("{}: tensor '{}' has shape {} but input '{}' ({}) needs [{}]", source, name,
                        t->shape.empty() ? "[]" : shape_str(t->shape), input.name, input.type_string(), input.width());
      return std::nullopt;
    }
    if (which) {
      for (double v : t->values)
        if (!(v > 0) || !std::isfinite(v)) {
          err = fmt::format("{}: tensor '{}' holds {}, not a positive standard deviation", source, name, v);
          return std::nullopt;
        }
      st.std = t->values;
    } else {
      st.mean = t->values;
    }
  }
  return st;
}

std::optional<RowSplit> split_rows(int64_t rows, double f, std::string& err) {
  if (!(f >= 0 && f < 1)) {
    err = fmt::format("--val-split must be at least 0 and below 1, got {}", f);
    return std::nullopt;
  }
  RowSplit s;
  s.val_rows = f == 0 ? 0 : std::min<int64_t>(rows, int64_t(std::ceil(double(rows) * f - 1e-9)));
  s.train_rows = rows - s.val_rows;
  if (s.train_rows == 0) {
    err = fmt::format("--val-split {} leaves no training rows (of {})", f, rows);
    return std::nullopt;
  }
  return s;
}

std::vector<int64_t> epoch_order(int64_t rows, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(rows, 0)));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!shuffle) return order;
  std::mt19937_64 rng(seed + uint64_t(epoch));
  for (size_t i = order.size(); i > 1; --i) {
    // j uniform in [0, i): reject the low 2^64 mod i outputs so every j is equally likely.
    const uint64_t bound = i;
    const uint64_t threshold = (0 - bound) % bound;
    uint64_t r;
    do r = rng();
    while (r < threshold);
    std::swap(order[i - 1], order[size_t(r % bound)]);
  }
  return order;
}

void gather_batch(const Dataset& ds, std::span<const int64_t> rows, std::vector<BatchBuffer>& out) {
  out.resize(ds.inputs.size());
  const int64_t b = int64_t(rows.size());
  for (size_t k = 0; k < ds.inputs.size(); ++k) {
    const InputSpec& in = ds.inputs[k];
    const int64_t w = in.width();
    BatchBuffer& buf = out[k];
    buf.dtype = in.dtype;
    buf.shape = {b};
    buf.shape.insert(buf.shape.end(), in.row_shape.begin(), in.row_shape.end());
    const size_t esize = in.dtype == DType::f64 ? 8 : 4;
    buf.bytes.resize(size_t(b * w) * esize);
    const auto& d = ds.data[k];
    unsigned char* dst = buf.bytes.data();
    // One loop per element type (the f32 one vectorises: rows are converted from double).
    auto copy_rows = [&](auto* out, auto convert) {
      for (int64_t r = 0; r < b; ++r) {
        assert(rows[size_t(r)] >= 0 && rows[size_t(r)] < ds.rows);
        const double* src = d.data() + rows[size_t(r)] * w;
        auto* o = out + r * w;
        for (int64_t c = 0; c < w; ++c) o[c] = convert(src[c]);
      }
    };
    if (in.dtype == DType::f32)
      copy_rows(reinterpret_cast<float*>(dst), [](double v) { return float(v); });
    else if (in.dtype == DType::f64)
      copy_rows(reinterpret_cast<double*>(dst), [](double v) { return v; });
    else
      copy_rows(reinterpret_cast<int32_t*>(dst), [](double v) { return int32_t(v); });
  }
}

std::vector<Tensor> gather_batch_tensors(const Dataset& ds, std::span<const int64_t> rows) {
  std::vector<Tensor> out;
  const int64_t b = int64_t(rows.size());
  for (size_t k = 0; k < ds.inputs.size(); ++k) {
    const InputSpec& in = ds.inputs[k];
    const int64_t w = in.width();
    Shape shape{b};
    shape.insert(shape.end(), in.row_shape.begin(), in.row_shape.end());
    Tensor t(in.dtype, shape);
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < w; ++c) {
        double v = ds.data[k][size_t(rows[size_t(r)] * w + c)];
        t.data[size_t(r * w + c)] = in.dtype == DType::f32 ? double(float(v)) : v;
      }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace kiln
