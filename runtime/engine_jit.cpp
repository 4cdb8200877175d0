// The LLVM JIT (backend/codegen.hpp: compile_graph) behind the Engine interface: one
// compiled graph, its buffers in host memory; batches are copied in as raw bytes. Its
// large kernels run on the process's thread pool of --threads threads.
#include "backend/codegen.hpp"
#include "backend/thread_pool.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/engine.hpp"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace kiln {

namespace {

using backend::BufferKind;

class JitEngine final : public Engine {
 public:
  JitEngine(Graph g, std::unique_ptr<backend::CompiledGraph> cg, int threads, double compile_s)
      : g_(std::move(g)), cg_(std::move(cg)), bufs_(std::make_unique<backend::HostBuffers>(*cg_)), compile_s_(compile_s) {
    if (ThreadPool::resolve(threads) > 1) pool_ = ThreadPool::shared(threads);
    loss_ = cg_->find(BufferKind::loss, "loss");
    for (auto& [name, id] : g_.train.metrics) metrics_.push_back(cg_->find(BufferKind::metric, name));
    user_metrics_ = user_metric_count(g_);
    for (int i : metrics_) {  // scalar f32 metrics (the monitors' quantities of f32 params) are read in place
      const bool direct = i >= 0 && cg_->buffers()[size_t(i)].shape.empty() && cg_->buffers()[size_t(i)].dtype == DType::f32;
      metric_ptrs_.push_back(direct ? static_cast<const float*>(bufs_->data(size_t(i))) : nullptr);
    }
    mirror_.assign(metrics_.size(), 0.0f);  // the others' cells, written by collect()
    for (size_t k = user_metrics_; k < metrics_.size(); ++k)
      if (!metric_ptrs_[k]) mirrored_.push_back(k);
    for (auto& [name, id] : g_.outputs) outputs_.push_back(cg_->find(BufferKind::output, name));
  }
  std::string_view kind() const override { return "jit"; }
  const Graph& graph() const override { return g_; }
  double compile_seconds() const override { return compile_s_; }
  std::optional<int64_t> arena_bytes() const override { return cg_->arena_bytes(); }

  bool set_values(const ValueMap& values, std::string& err) override {
    const auto& specs = cg_->buffers();
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      if (s.kind != BufferKind::param && s.kind != BufferKind::const_ && s.kind != BufferKind::state) continue;
      auto it = values.find(s.name);
      if (it == values.end()) continue;
      if (it->second.shape != s.shape) {
        err = fmt::format("value of '{}' is {} but the model's is {}", s.name, type_str(it->second.dtype, it->second.shape),
                          type_str(s.dtype, s.shape));
        return false;
      }
      bufs_->set(i, it->second);
    }
    return true;
  }

  ValueMap values() const override {
    ValueMap out;
    const auto& specs = cg_->buffers();
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      if (s.kind == BufferKind::param || s.kind == BufferKind::const_ || s.kind == BufferKind::state)
        out[s.name] = bufs_->get(i);
    }
    return out;
  }

  bool set_batch(const std::vector<std::string>& names, const std::vector<BatchBuffer>& inputs,
                 std::string& err) override {
    for (size_t k = 0; k < names.size() && k < inputs.size(); ++k) {
      int i = cg_->find(BufferKind::input, names[k]);
      if (i < 0) continue;  // an input the compiled graph does not read
      const auto& s = cg_->buffers()[size_t(i)];
      if (inputs[k].shape != s.shape || inputs[k].dtype != s.dtype ||
          int64_t(inputs[k].bytes.size()) != s.bytes()) {
        err = fmt::format("batch for input '{}' is {} but the model's is {}", names[k],
                          type_str(inputs[k].dtype, inputs[k].shape), type_str(s.dtype, s.shape));
        return false;
      }
      std::memcpy(bufs_->data(size_t(i)), inputs[k].bytes.data(), inputs[k].bytes.size());
    }
    return true;
  }

  bool step(BatchResult& out, std::string& err) override {
    if (g_.updates.empty()) {
      err = "internal: step() on a graph without updates";
      return false;
    }
    run(backend::Entry::step);
    collect(out, false);
    return true;
  }

  bool settle_monitors(std::string&) override {
    run(backend::Entry::monitor);
    for (size_t k : mirrored_) mirror_[k] = float(metric(k));
    return true;
  }

  void snapshot_values() override {
    const auto& specs = cg_->buffers();
    size_t total = 0;
    for (const auto& s : specs)
      if (s.kind == BufferKind::param || s.kind == BufferKind::state)
        total += size_t(s.bytes());
    snap_.resize(total);
    size_t off = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      if (s.kind != BufferKind::param && s.kind != BufferKind::state) continue;  // consts never change
      std::memcpy(snap_.data() + off, bufs_->data(i), size_t(s.bytes()));
      off += size_t(s.bytes());
    }
  }
  void restore_snapshot() override {
    const auto& specs = cg_->buffers();
    size_t off = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      if (s.kind != BufferKind::param && s.kind != BufferKind::state) continue;
      if (off + size_t(s.bytes()) > snap_.size()) return;  // no snapshot taken
      std::memcpy(bufs_->data(i), snap_.data() + off, size_t(s.bytes()));
      off += size_t(s.bytes());
    }
  }

  bool forward(BatchResult& out, bool want_outputs, std::string& err) override {
    run(backend::Entry::forward);
    collect(out, want_outputs);
    return true;
  }

  const float* metric_row(size_t first, size_t n) override {
    if (n == 0 || first + n > metric_ptrs_.size() || !metric_ptrs_[first]) return nullptr;
    for (size_t k = 1; k < n; ++k)
      if (metric_ptrs_[first + k] != metric_ptrs_[first] + k) return nullptr;
    return metric_ptrs_[first];
  }

  std::vector<const float*> metric_cells(size_t first, size_t n) override {
    std::vector<const float*> out;
    for (size_t k = first; k < first + n && k < metrics_.size(); ++k)
      out.push_back(metric_ptrs_[k] ? metric_ptrs_[k] : &mirror_[k]);
    return out;
  }

 private:
  void run(backend::Entry e) {
    ThreadPool::Scope scope(pool_.get());
    bufs_->run(e);
  }
  double scalar(int i) const {
    const auto& spec = cg_->buffers()[size_t(i)];
    if (spec.shape.empty() && spec.dtype == DType::f32)  // scalars (every monitor root): no copy
      return double(*static_cast<const float*>(bufs_->data(size_t(i))));
    Tensor t = bufs_->get(size_t(i));
    double s = 0;
    for (double v : t.data) s += v;
    return t.data.size() > 1 ? s / double(t.data.size()) : s;
  }
  double metric(size_t k) const {
    if (const float* p = metric_ptrs_[k]) return double(*p);
    return metrics_[k] >= 0 ? scalar(metrics_[k]) : 0.0;
  }
  void collect(BatchResult& out, bool want_outputs) {
    out.loss.reset();
    out.outputs.clear();
    if (g_.train.minimize && loss_ >= 0) {
      const auto& spec = cg_->buffers()[size_t(loss_)];
      if (spec.shape.empty() && spec.dtype == DType::f32) {
        out.loss = double(*static_cast<const float*>(bufs_->data(size_t(loss_))));
      } else {
        Tensor t = bufs_->get(size_t(loss_));
        double s = 0;
        for (double v : t.data) s += v;
        out.loss = s;
      }
    }
    out.metrics.resize(user_metrics_);
    for (size_t k = 0; k < user_metrics_; ++k) out.metrics[k] = metric(k);
    for (size_t k : mirrored_) mirror_[k] = float(metric(k));
    if (want_outputs)
      for (int i : outputs_) out.outputs.push_back(i >= 0 ? bufs_->get(size_t(i)) : Tensor());
  }

  Graph g_;
  std::unique_ptr<backend::CompiledGraph> cg_;
  std::unique_ptr<backend::HostBuffers> bufs_;
  int loss_ = -1;
  std::vector<int> metrics_, outputs_;
  std::vector<const float*> metric_ptrs_;  // per metric: its scalar f32 buffer, else nullptr
  std::vector<float> mirror_;              // per metric: the cell of a monitor quantity without one
  std::vector<size_t> mirrored_;
  size_t user_metrics_ = 0;
  std::vector<unsigned char> snap_;
  std::shared_ptr<ThreadPool> pool_;  // nullptr: one thread
  double compile_s_ = 0;
};

// Test hook: KILN_JIT_MODULE_FILE=PATH appends the LLVM IR of every module the engine loads
// to PATH, as loaded (tests compare it with `kiln dump --stage=llvm`: tests/pipeline_cli_test.cpp).
void record_module(const backend::GeneratedModule& m) {
  static const char* path = std::getenv("KILN_JIT_MODULE_FILE");
  if (!path || !*path) return;
  if (std::FILE* f = std::fopen(path, "a")) {
    std::string text = m.ir_text();
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
}

}  // namespace

std::unique_ptr<Engine> make_jit_engine(Graph g, std::unique_ptr<backend::GeneratedModule> module,
                                        const EngineOptions& opts, std::string& err) {
  auto t0 = std::chrono::steady_clock::now();
  const bool generated = module != nullptr;  // by the compile pipeline: only the machine code is left
  if (!generated) {
    module = backend::generate_module(g, backend::codegen_plans(g), {}, err);
    if (module) backend::optimize_module(*module);
  }
  std::unique_ptr<backend::CompiledGraph> cg;
  if (module) {
    record_module(*module);
    cg = backend::load_module(std::move(module), err);
  }
  if (!cg) {
    err = "the jit cannot compile this model: " + err + " (use --engine interp)";
    return nullptr;
  }
  const double seconds = generated ? cg->codegen_seconds()
                                   : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::make_unique<JitEngine>(std::move(g), std::move(cg), opts.threads, seconds);
}

}  // namespace kiln
