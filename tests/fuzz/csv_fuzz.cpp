// libFuzzer target of the CSV reader (runtime/csv.hpp): arbitrary bytes either fail with a
// message located in the file or give a consistent table that format_csv writes and
// parse_csv reads back to the same names and the same values, bit for bit; then the
// table as `--data FILE.csv` of a model's inputs (runtime/dataset.hpp).
#include "fuzz_check.hpp"
#include "runtime/csv.hpp"
#include "runtime/dataset.hpp"
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fmt/format.h>

using kiln::fuzz::require;

namespace {

// "fuzz.csv: ..." or "fuzz.csv:N: ..." with N a line of the text.
void check_error(std::string_view text, const std::string& err) {
  require(err.rfind("fuzz.csv:", 0) == 0, "the error does not name the file: " + err);
  std::string_view rest = std::string_view(err).substr(9);
  if (rest.empty() || rest[0] == ' ') return;
  uint64_t line = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), line);
  require(ec == std::errc() && p < rest.data() + rest.size() && *p == ':', "malformed location in: " + err);
  uint64_t lines = uint64_t(std::count(text.begin(), text.end(), '\n')) + 1;
  require(line >= 1 && line <= lines, fmt::format("line {} of a {}-line text in: {}", line, lines, err));
}

void check_table(const kiln::CsvTable& t, const char* what) {
  require(t.cols() > 0 && t.rows > 0, fmt::format("{}: a table of {} x {}", what, t.rows, t.cols()));
  require(t.values.size() == size_t(t.rows * t.cols()), fmt::format("{}: {} values for {} x {}", what,
                                                                    t.values.size(), t.rows, t.cols()));
  require(t.line_of_row.size() == size_t(t.rows), fmt::format("{}: {} line numbers for {} rows", what,
                                                              t.line_of_row.size(), t.rows));
  for (size_t r = 0; r < t.line_of_row.size(); ++r)
    require(t.line_of_row[r] >= 2 && (r == 0 || t.line_of_row[r] > t.line_of_row[r - 1]),
            fmt::format("{}: row {} at line {}", what, r, t.line_of_row[r]));
  for (auto& c : t.columns) require(!c.empty(), fmt::format("{}: an empty column name", what));
  for (double v : t.values) require(std::isfinite(v), fmt::format("{}: a value {} that is not finite", what, v));
}

// The table as the data of inputs x (f32, all columns but the last, normalised) and y (an
// i32 label, optional as for `predict`); and of x alone over every column.
void check_dataset(const kiln::CsvTable& t) {
  const int64_t cols = t.cols();
  std::vector<std::vector<kiln::InputSpec>> models;
  if (cols >= 2)
    models.push_back({{"x", kiln::DType::f32, {cols - 1}, true}, {"y", kiln::DType::i32, {}, false}});
  models.push_back({{"x", kiln::DType::f32, {cols}, true}});
  for (auto& inputs : models) {
    std::string err;
    auto ds = kiln::dataset_from_csv(t, inputs, err, {"y"});
    if (!ds) {
      require(err.rfind("fuzz.csv", 0) == 0, "a dataset error that does not name the file: " + err);
      continue;
    }
    require(ds->rows == t.rows && ds->line_of_row == t.line_of_row, "the dataset's rows differ from the table's");
    for (size_t k = 0; k < ds->inputs.size(); ++k) {
      require(ds->data[k].size() == uint64_t(ds->rows * ds->inputs[k].width()), "an input's data does not fill its rows");
      if (ds->inputs[k].dtype == kiln::DType::i32) {
        if (!kiln::check_label_range(*ds, k, 3, err))
          require(err.rfind("fuzz.csv:", 0) == 0, "a label error that does not name the line: " + err);
        continue;
      }
      (void)kiln::data_scale_message(*ds, k, ds->rows);
      kiln::apply_standardization(*ds, k, kiln::compute_standardization(*ds, k, 0, ds->rows));
    }
    std::vector<int64_t> batch;
    for (int64_t r = 0; r < std::min<int64_t>(ds->rows, 4); ++r) batch.push_back(r);
    std::vector<kiln::BatchBuffer> out;
    kiln::gather_batch(*ds, batch, out);
    require(out.size() == ds->inputs.size(), "gather_batch gives a buffer per input");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = kiln::fuzz::bytes(data, size);
  std::string err;
  auto table = kiln::parse_csv(text, "fuzz.csv", err);
  if (!table) {
    check_error(text, err);
    return 0;
  }
  check_table(*table, "parsed");
  // Round trip: what kiln writes (predict --output) it reads back unchanged.
  std::string written = kiln::format_csv(table->columns, table->values);
  std::string err2;
  auto back = kiln::parse_csv(written, "fuzz.csv", err2);
  if (!back) kiln::fuzz::fail("format_csv's output does not parse: " + err2 + "\n" + written);
  check_table(*back, "read back");
  require(back->columns == table->columns, "the column names change through format_csv:\n" + written);
  require(back->rows == table->rows, "the row count changes through format_csv");
  for (size_t i = 0; i < table->values.size(); ++i)
    require(kiln::fuzz::same_value(back->values[i], table->values[i]),
            fmt::format("value {} changes through format_csv: {} -> {}", i, table->values[i], back->values[i]));
  check_dataset(*table);
  return 0;
}
