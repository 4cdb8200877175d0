// CSV reading (header + numeric rows, located errors), streamed a byte at a time with no
// cell per value held, and writing.
#include "runtime/csv.hpp"
#include "ir/printable.hpp"
#include "runtime/atomic_file.hpp"
#include "runtime/input_file.hpp"
#include "runtime/memory_limit.hpp"
#include <algorithm>
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

// The bytes of one cell that are kept: a longer cell is no number (and no sane column
// name); a line is never held whole, so a 64 MiB line costs this much, not 33x it.
constexpr size_t kMaxCell = size_t(1) << 20;

// A cell quoted in a message, escaped: 'abc', or 'the first 80 bytes...' (N bytes) for a
// longer one (`size`: its length; `cell` may hold only the first kMaxCell bytes).
std::string shown(std::string_view cell, size_t size) {
  if (size <= 80) return "'" + printable(cell) + "'";
  return fmt::format("'{}...' ({} bytes)", printable(cell.substr(0, 80)), size);
}

// The CSV grammar as a byte-at-a-time machine: a comma ends a cell, a newline a line; a
// cell may be wrapped in double quotes ("" for a quote; a newline still ends the line);
// text after the closing quote is kept when it is not blank, so that the cell fails to
// parse. A line's errors are reported when it ends, in the order: unterminated quote,
// column count, the first bad cell.
class CsvParser {
 public:
  // `size_hint`: the file's size, to reserve the values after the first row (0: unknown).
  CsvParser(std::string source, uint64_t max_values, uint64_t size_hint = 0)
      : source_(std::move(source)), max_values_(max_values), size_hint_(size_hint) {
    t_.source = source_;
  }

  bool feed(std::string_view bytes, std::string& err) {
    if (bom_ < 3) {  // a UTF-8 BOM at the start is skipped
      static constexpr std::string_view kBom = "\xEF\xBB\xBF";
      while (bom_ < 3 && !bytes.empty() && bytes.front() == kBom[bom_]) bytes.remove_prefix(1), ++bom_;
      if (bom_ < 3 && !bytes.empty()) {
        std::string_view partial = kBom.substr(0, bom_);  // bytes that looked like a BOM are data
        bom_ = 3;
        if (!feed(partial, err)) return false;
      }
    }
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    while (p < end) {
      if (state_ == State::plain) {  // the common case, a run of a number's bytes, at once
        const char* q = p;
        while (q < end && *q != ',' && *q != '\n') ++q;
        for (const char* r = p; blank_ && r < q; ++r) blank_ = *r == ' ' || *r == '\t' || *r == '\r';
        keep(p, size_t(q - p));
        line_bytes_ += uint64_t(q - p);
        if ((p = q) == end) break;
      }
      if (!byte(*p++, err)) return false;
    }
    return true;
  }

  std::optional<CsvTable> finish(std::string& err) {
    if (started_ && !end_line(err)) return std::nullopt;
    if (!header_done_) {
      err = fmt::format("{}: file is empty", source_);
      return std::nullopt;
    }
    if (t_.rows == 0) {
      err = fmt::format("{}: no data rows after the header", source_);
      return std::nullopt;
    }
    return std::move(t_);
  }

 private:
  enum class State { lead, plain, quoted, quote, after };

  bool byte(char c, std::string& err) {
    ++line_bytes_;
    if (c == '\n') return end_line(err);
    started_ = true;
    blank_ = blank_ && (c == ' ' || c == '\t' || c == '\r');
    switch (state_) {
      case State::lead:
        if (c == ' ' || c == '\t') return true;
        if (c == '"') {
          state_ = State::quoted;
          return true;
        }
        state_ = State::plain;
        [[fallthrough]];
      case State::plain:
        if (c == ',') return end_cell(), true;
        keep(c);
        return true;
      case State::quoted:
        if (c == '"') state_ = State::quote;
        else keep(c);
        return true;
      case State::quote:  // after a quote inside quotes: "" is a quote, else the cell closed
        if (c == '"') {
          keep(c);
          state_ = State::quoted;
          return true;
        }
        state_ = State::after;
        [[fallthrough]];
      case State::after:
        if (c == ',') return end_cell(), true;
        junk_blank_ = junk_blank_ && (c == ' ' || c == '\t' || c == '\r');
        if (junk_.size() < kMaxCell) junk_ += c;
        ++junk_size_;
        return true;
    }
    return true;
  }

  void keep(char c) {
    if (cell_.size() < kMaxCell) cell_ += c;
    ++cell_size_;
  }
  void keep(const char* p, size_t n) {
    cell_.append(p, std::min(n, kMaxCell - std::min(kMaxCell, cell_.size())));
    cell_size_ += n;
  }

  // The line's first problem (kept until the line ends).
  void problem(std::string message) {
    if (problem_.empty()) problem_ = std::move(message);
  }

  void end_cell() {
    if (!junk_blank_) {  // junk after a closing quote: kept, so that the cell fails
      cell_ += junk_;
      cell_size_ += junk_size_;
    }
    std::string_view text = trim(cell_);
    size_t size = cell_size_ - (cell_.size() - text.size());
    const size_t c = cells_++;
    if (!header_done_) {
      std::string name(text);
      double dummy;
      if (name.empty()) problem(fmt::format("{}:1: column {} has no name in the header", source_, c + 1));
      else if (size > text.size()) problem(fmt::format("{}:1: column {} has a name of more than {} bytes", source_, c + 1, kMaxCell));
      else if (c == 0 && parse_number(name, dummy) == NumParse::ok)
        problem(fmt::format("{}:1: the first line should be a header of column names, found '{}'", source_, printable(name)));
      t_.columns.push_back(std::move(name));
    } else if (c < row_.size()) {
      auto where = [&] { return fmt::format("{}:{}: column '{}' ({})", source_, line_, printable(t_.columns[c]), c + 1); };
      double v = 0;
      if (text.empty()) problem(where() + ": empty cell");
      else if (size > text.size()) problem(fmt::format("{}: {} is not a number", where(), shown(text, size)));
      else switch (parse_number(text, v)) {
          case NumParse::ok: row_[c] = v; break;
          case NumParse::not_number: problem(fmt::format("{}: {} is not a number", where(), shown(text, size))); break;
          case NumParse::not_finite: problem(fmt::format("{}: {} is not a finite number", where(), shown(text, size))); break;
        }
    }
    cell_.clear();
    junk_.clear();
    cell_size_ = junk_size_ = 0;
    junk_blank_ = true;
    state_ = State::lead;
  }

  bool end_line(std::string& err) {
    bool ok = true;
    if (blank_) {  // empty, or only spaces, tabs and CRs: an error only when a line follows
      if (!blank_line_) blank_line_ = line_;
    } else {
      bool unterminated = state_ == State::quoted;
      end_cell();
      ok = finish_line(unterminated, err);
    }
    cells_ = 0;
    line_bytes_ = 0;
    problem_.clear();
    blank_ = true;
    started_ = false;
    state_ = State::lead;
    if (ok && line_ == UINT32_MAX) {
      err = fmt::format("{}: more than {} lines", source_, UINT32_MAX);
      return false;
    }
    ++line_;
    return ok;
  }

  bool finish_line(bool unterminated, std::string& err) {
    if (blank_line_) {  // a blank line followed by this one
      err = blank_line_ == 1 ? fmt::format("{}:1: column 1 has no name in the header", source_)
                             : fmt::format("{}:{}: empty line", source_, blank_line_);
      return false;
    }
    if (!header_done_) {
      if (unterminated) err = fmt::format("{}:1: unterminated quote in the header", source_);
      else err = problem_;
      if (!err.empty()) return false;
      header_done_ = true;
      row_.assign(t_.columns.size(), 0.0);
      return true;
    }
    if (unterminated) err = fmt::format("{}:{}: unterminated quote", source_, line_);
    else if (cells_ != row_.size()) err = fmt::format("{}:{}: expected {} columns, found {}", source_, line_, row_.size(), cells_);
    else err = problem_;
    if (!err.empty()) return false;
    if (t_.values.size() + row_.size() > max_values_) {
      err = fmt::format("{}:{}: the values up to this line take more than {}", source_, line_, memory_limit_text());
      return false;
    }
    if (t_.rows == 0 && size_hint_ > 0) {  // room for the rows the file can hold, judged by this one
      uint64_t rows = size_hint_ / std::max<uint64_t>(line_bytes_, 1) + 16;
      t_.values.reserve(size_t(std::min<uint64_t>(rows * row_.size(), max_values_)));
    }
    t_.values.insert(t_.values.end(), row_.begin(), row_.end());
    t_.line_of_row.push_back(line_);
    ++t_.rows;
    return true;
  }

  std::string source_;
  uint64_t max_values_, size_hint_;
  uint64_t line_bytes_ = 0;  // bytes of the current line so far
  CsvTable t_;
  size_t bom_ = 0;
  uint32_t line_ = 1;        // the current line's number
  uint32_t blank_line_ = 0;  // the first blank line not yet followed by a line (0: none)
  bool header_done_ = false;
  bool started_ = false;     // the current line has a byte
  bool blank_ = true;        // ... and every one is a space, a tab or a CR
  State state_ = State::lead;
  std::string cell_, junk_;
  size_t cell_size_ = 0, junk_size_ = 0, cells_ = 0;
  bool junk_blank_ = true;
  std::string problem_;
  std::vector<double> row_;  // the current data line's values
};

}  // namespace

std::optional<CsvTable> parse_csv(std::string_view text, const std::string& source, std::string& err,
                                  uint64_t max_values) {
  CsvParser p(source, max_values);
  if (!p.feed(text, err)) return std::nullopt;
  return p.finish(err);
}

std::optional<CsvTable> read_csv(const std::string& path, std::string& err) {
  InputFile f;
  if (!f.open(path, err)) return std::nullopt;
  CsvParser p(path, memory_limit() / sizeof(double), f.size());
  std::vector<char> buf(size_t(1) << 16);
  for (;;) {
    size_t got = 0;
    if (!f.read(buf.data(), buf.size(), got, err)) return std::nullopt;
    if (got == 0) break;
    if (!p.feed(std::string_view(buf.data(), got), err)) return std::nullopt;
  }
  return p.finish(err);
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
