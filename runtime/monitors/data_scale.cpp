// The data-scale monitor (docs/checks/data-scale.md): at load time, an input without
// `normalize` whose columns' standard deviations over the training rows differ by more than
// 100x. The trainer reports data_scale_message's text through Monitor::emit, before the first
// step. (Nothing here refers to the Monitor: the data readers' fuzzers link this alone.)
#include "ir/printable.hpp"
#include "runtime/dataset.hpp"
#include <fmt/format.h>

namespace kiln {

std::optional<std::string> data_scale_message(const Dataset& ds, size_t input, int64_t rows) {
  Standardization st = compute_standardization(ds, input, 0, rows);
  // compute_standardization reports constant columns as std 1; recompute which are constant.
  const int64_t w = ds.inputs[input].width();
  const auto& d = ds.data[input];
  int64_t lo = -1, hi = -1;
  for (int64_t c = 0; c < w; ++c) {
    bool constant = true;
    for (int64_t r = 1; r < rows && constant; ++r) constant = d[size_t(r * w + c)] == d[size_t(c)];
    if (constant) continue;
    if (lo < 0 || st.std[size_t(c)] < st.std[size_t(lo)]) lo = c;
    if (hi < 0 || st.std[size_t(c)] > st.std[size_t(hi)]) hi = c;
  }
  if (lo < 0 || st.std[size_t(hi)] <= 100 * st.std[size_t(lo)]) return std::nullopt;
  auto column_name = [&](int64_t c) {
    if (!ds.csv_columns.empty()) return fmt::format("'{}'", printable(ds.csv_columns[size_t(ds.origin[input].first_column + c)]));
    return fmt::format("column {}", c);
  };
  return fmt::format("input '{}': columns differ in scale by {:.2g}x ({} has std {:.3g}, {} {:.3g})", ds.inputs[input].name,
                     st.std[size_t(hi)] / st.std[size_t(lo)], column_name(hi), st.std[size_t(hi)], column_name(lo),
                     st.std[size_t(lo)]);
}

}  // namespace kiln
