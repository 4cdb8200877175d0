// CSV with a header row and numeric cells: the reader behind `--data data.csv`, and a
// writer for `kiln predict --output`. Errors are located "file:line: ..." messages.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct CsvTable {
  std::string source;                // the path (or name) used in messages
  std::vector<std::string> columns;  // header names, trimmed and unquoted
  int64_t rows = 0;
  std::vector<double> values;        // row-major, rows * columns.size()
  std::vector<uint32_t> line_of_row; // 1-based file line of each data row (header is line 1)

  int64_t cols() const { return int64_t(columns.size()); }
  double at(int64_t row, int64_t col) const { return values[size_t(row * cols() + col)]; }
};

// Parses CSV text. Cells are numbers (integers, decimals, scientific, optional sign;
// surrounding spaces and double quotes allowed); lines end in LF or CRLF; empty lines at
// the end are ignored. On error returns nullopt with `err` set, e.g.
//   "data.csv:17: expected 31 columns, found 30"
//   "data.csv:5: column 'radius' (3): 'abc' is not a number"   (columns are 1-based)
// Bytes of the file in messages are escaped (ir/printable.hpp). More than `max_values`
// values is an error too.
std::optional<CsvTable> parse_csv(std::string_view text, const std::string& source, std::string& err,
                                  uint64_t max_values = UINT64_MAX);
// Reads a regular file (runtime/input_file.hpp) and parses it as it is read: memory for
// the values, one 64 KiB block and one cell, whatever the length of a line; values past
// the memory limit (memory_limit() / 8 of them) are an error.
std::optional<CsvTable> read_csv(const std::string& path, std::string& err);

// Formats a table as CSV (header, then one line per row, numbers in shortest round-trip form).
std::string format_csv(const std::vector<std::string>& columns, const std::vector<double>& values);
// Writes it atomically (see atomic_file.hpp).
bool write_csv(const std::string& path, const std::vector<std::string>& columns, const std::vector<double>& values,
               std::string& err);

}  // namespace kiln
