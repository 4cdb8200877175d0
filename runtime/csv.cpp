// CSV reading (header + numeric rows, located errors) and writing.
#include "runtime/csv.hpp"
#include "runtime/atomic_file.hpp"
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace kiln {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits one line into cells: commas separate, a cell may be wrapped in double quotes
// (with "" for a literal quote). Returns false on an unterminated quote.
bool split_line(std::string_view line, std::vector<std::string>& cells) {
  cells.clear();
  size_t i = 0;
  for (;;) {
    std::string cell;
    // leading spaces, then maybe a quoted cell
    size_t j = i;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
    if (j < line.size() && line[j] == '"') {
      ++j;
      bool closed = false;
      while (j < line.size()) {
        if (line[j] == '"') {
          if (j + 1 < line.size() && line[j + 1] == '"') {
            cell += '"';
            j += 2;
            continue;
          }
          closed = true;
          ++j;
          break;
        }
        cell += line[j++];
      }
      if (!closed) return false;
      size_t end = line.find(',', j);
      std::string_view rest = line.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j);
      if (!trim(rest).empty()) cell += std::string(rest);  // junk after the quote: keep it, so it fails to parse
      cells.push_back(std::move(cell));
      if (end == std::string_view::npos) return true;
      i = end + 1;
    } else {
      size_t end = line.find(',', i);
      cells.emplace_back(trim(line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      if (end == std::string_view::npos) return true;
      i = end + 1;
    }
  }
}

enum class NumParse { ok, not_number, not_finite };

NumParse parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return NumParse::not_number;
  char c = s.front() == '-' && s.size() > 1 ? s[1] : s.front();
  if (!(c == '.' || (c >= '0' && c <= '9'))) return NumParse::not_number;  // rejects nan, inf, "-"
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) return NumParse::not_finite;
  if (ec != std::errc() || p != s.data() + s.size()) return NumParse::not_number;
  if (!std::isfinite(out)) return NumParse::not_finite;
  return NumParse::ok;
}

}  // namespace

std::optional<CsvTable> parse_csv(std::string_view text, const std::string& source, std::string& err) {
  CsvTable t;
  t.source = source;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  // Split into lines, remembering their numbers; drop trailing blank lines.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  if (lines.empty()) {
    err = fmt::format("{}: file is empty", source);
    return std::nullopt;
  }
  std::vector<std::string> cells;
  if (!split_line(lines[0], cells)) {
    err = fmt::format("{}:1: unterminated quote in the header", source);
    return std::nullopt;
  }
  for (size_t c = 0; c < cells.size(); ++c) {
    std::string name(trim(cells[c]));
    if (name.empty()) {
      err = fmt::format("{}:1: column {} has no name in the header", source, c + 1);
      return std::nullopt;
    }
    double dummy;
    if (c == 0 && parse_number(name, dummy) == NumParse::ok) {
      err = fmt::format("{}:1: the first line should be a header of column names, found '{}'", source, name);
      return std::nullopt;
    }
    t.columns.push_back(std::move(name));
  }
  if (lines.size() == 1) {
    err = fmt::format("{}: no data rows after the header", source);
    return std::nullopt;
  }
  const size_t ncols = t.columns.size();
  t.values.reserve((lines.size() - 1) * ncols);
  for (size_t li = 1; li < lines.size(); ++li) {
    const uint32_t line_no = uint32_t(li + 1);
    if (trim(lines[li]).empty()) {
      err = fmt::format("{}:{}: empty line", source, line_no);
      return std::nullopt;
    }
    if (!split_line(lines[li], cells)) {
      err = fmt::format("{}:{}: unterminated quote", source, line_no);
      return std::nullopt;
    }
    if (cells.size() != ncols) {
      err = fmt::format("{}:{}: expected {} columns, found {}", source, line_no, ncols, cells.size());
      return std::nullopt;
    }
    for (size_t c = 0; c < ncols; ++c) {
      double v = 0;
      std::string_view cell = trim(cells[c]);
      if (cell.empty()) {
        err = fmt::format("{}:{}: column '{}' ({}): empty cell", source, line_no, t.columns[c], c + 1);
        return std::nullopt;
      }
      switch (parse_number(cell, v)) {
        case NumParse::ok: break;
        case NumParse::not_number:
          err = fmt::format("{}:{}: column '{}' ({}): '{}' is not a number", source, line_no, t.columns[c], c + 1, cell);
          return std::nullopt;
        case NumParse::not_finite:
          err = fmt::format("{}:{}: column '{}' ({}): '{}' is not a finite number", source, line_no, t.columns[c], c + 1,
                            cell);
          return std::nullopt;
      }
      t.values.push_back(v);
    }
    t.line_of_row.push_back(line_no);
    ++t.rows;
  }
  return t;
}

std::optional<CsvTable> read_csv(const std::string& path, std::string& err) {
  std::string text;
  if (!read_file(path, text, err)) return std::nullopt;
  return parse_csv(text, path, err);
}

std::string format_csv(const std::vector<std::string>& columns, const std::vector<double>& values) {
  std::string out;
  auto name_cell = [](const std::string& n) {
    // Quoted when it holds a separator or a quote, or starts with a UTF-8 BOM (which the
    // reader would drop at the start of the file).
    if (n.find_first_of(",\"\n\r") == std::string::npos && n.rfind("\xEF\xBB\xBF", 0) != 0) return n;
    std::string q = "\"";
    for (char c : n) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + name_cell(columns[c]);
  out += '\n';
  const size_t n = columns.size();
  for (size_t i = 0; n && i < values.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "{}", values[i]);
    out += (i % n == n - 1) ? '\n' : ',';
  }
  return out;
}

bool write_csv(const std::string& path, const std::vector<std::string>& columns, const std::vector<double>& values,
               std::string& err) {
  if (columns.empty() || values.size() % columns.size() != 0) {
    err = fmt::format("{}: internal error: {} values do not fill rows of {} columns", path, values.size(),
                      columns.size());
    return false;
  }
  return write_file_atomic(path, format_csv(columns, values), err);
}

}  // namespace kiln
