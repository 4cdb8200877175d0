// Chunked forward passes over dataset rows (runtime/evaluator.hpp).
#include "runtime/evaluator.hpp"
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <numeric>

namespace kiln {

std::optional<int64_t> RowEvaluator::arena_bytes() const {
  std::optional<int64_t> out;
  for (auto& [b, e] : engines_)
    if (auto a = e->arena_bytes()) out = std::max(out.value_or(0), *a);
  return out;
}

Engine* RowEvaluator::engine_for(int64_t batch, std::string& err) {
  if (auto it = engines_.find(batch); it != engines_.end()) return it->second.get();
  auto t0 = std::chrono::steady_clock::now();
  auto c = build_(batch, err);
  if (!c) return nullptr;
  auto e = make_engine(std::move(c->graph), std::move(c->module), opts_, err);
  if (!e) return nullptr;
  compile_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return engines_.emplace(batch, std::move(e)).first->second.get();
}

bool RowEvaluator::run(const Dataset& ds, int64_t begin, int64_t end, const ValueMap& values, bool want_outputs,
                       RowsResult& out, std::string& err) {
  out = {};
  if (end <= begin) {
    err = "no rows to evaluate";
    return false;
  }
  int64_t total = end - begin;
  double loss_sum = 0;
  std::vector<double> metric_sums;
  std::vector<int64_t> rows;
  std::vector<BatchBuffer> bufs;
  for (int64_t at = begin; at < end;) {
    int64_t n = std::min(max_chunk_, end - at);
    Engine* e = engine_for(n, err);
    if (!e) return false;
    const Graph& g = e->graph();
    if (!e->set_values(values, err)) return false;
    rows.resize(size_t(n));
    std::iota(rows.begin(), rows.end(), at);
    gather_batch(ds, rows, bufs);
    std::vector<std::string> names;
    for (auto& in : ds.inputs) names.push_back(in.name);
    for (NodeId id : g.inputs)  // inputs the data does not have: zeros
      if (ds.input_index(g[id].name) < 0) {
        BatchBuffer b;
        b.dtype = g[id].dtype;
        b.shape = g[id].shape;
        b.bytes.assign(size_t(num_elements(b.shape)) * (b.dtype == DType::f64 ? 8 : 4), 0);
        names.push_back(g[id].name);
        bufs.push_back(std::move(b));
      }
    if (!e->set_batch(names, bufs, err)) return false;
    BatchResult r;
    if (!e->forward(r, want_outputs, err)) return false;
    double w = double(n) / double(total);
    if (r.loss) {
      loss_sum += *r.loss * w;
      out.loss = loss_sum;
    }
    metric_sums.resize(r.metrics.size(), 0.0);
    for (size_t k = 0; k < r.metrics.size(); ++k) metric_sums[k] += r.metrics[k] * w;
    if (out.metrics.empty())
      for (auto& [name, id] : g.train.metrics) out.metrics.emplace_back(name, 0.0);
    if (want_outputs) {
      bool first = out.outputs.empty() && out.skipped_outputs.empty();
      size_t k = 0;
      for (size_t o = 0; o < g.outputs.size(); ++o) {
        Tensor& t = r.outputs[o];
        bool per_row = !t.shape.empty() && t.shape[0] == n;
        if (!per_row) {
          if (first) out.skipped_outputs.push_back(g.outputs[o].first);
          continue;
        }
        if (first) {
          Tensor all = t;
          all.shape[0] = total;
          all.data.clear();
          all.data.reserve(size_t(num_elements(all.shape)));
          out.outputs.emplace_back(g.outputs[o].first, std::move(all));
        }
        auto& dst = out.outputs[k++].second.data;
        dst.insert(dst.end(), t.data.begin(), t.data.end());
      }
    }
    at += n;
  }
  for (size_t k = 0; k < out.metrics.size() && k < metric_sums.size(); ++k) out.metrics[k].second = metric_sums[k];
  return true;
}

}  // namespace kiln
