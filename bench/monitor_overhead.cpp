// kiln_monitor_bench: the run-time monitors' share of a training step, measured in one
// process (bench/README.md, "Monitor overhead"). It runs the trainer (runtime/trainer.hpp,
// the loop of `kiln train`) on the same model and data in pairs, monitors on and off (the
// order alternating from pair to pair), and prints one JSON object: per run the median
// over epochs 2..E of the epoch's time per step. Runs of one process share the machine's
// state of the moment, which on a shared machine swings the step time of separate
// processes by up to 2x; a pair's two runs are tens of milliseconds apart (linreg).
// Usage: kiln_monitor_bench MODEL --data D [--data D...] [--epochs E] [--pairs P] [--threads N] [--engine jit|interp]
#include "runtime/from_source.hpp"
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace kiln;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int usage(const char* msg) {
  std::fprintf(stderr,
               "kiln_monitor_bench: %s\nusage: kiln_monitor_bench MODEL --data D [--data D...] [--epochs E] "
               "[--pairs P] [--threads N] [--engine jit|interp]\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no model given");
  std::string model = argv[1];
  std::vector<std::string> data;
  int64_t epochs = 30, pairs = 9;
  int threads = 0;
  std::string engine = "jit";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage(("'" + a + "' needs a value").c_str());
    std::string v = argv[++i];
    try {
      if (a == "--data") data.push_back(v);
      else if (a == "--epochs") epochs = std::stoll(v);
      else if (a == "--pairs") pairs = std::stoll(v);
      else if (a == "--threads") threads = std::stoi(v);
      else if (a == "--engine") engine = v;
      else return usage(("unknown option '" + a + "'").c_str());
    } catch (const std::exception&) {
      return usage(("'" + a + "' needs a number, not '" + v + "'").c_str());
    }
  }
  if (data.empty()) return usage("no --data given");
  if (epochs < 2 || pairs < 1) return usage("--epochs must be at least 2 and --pairs at least 1");
  std::ifstream f(model);
  if (!f) return usage(("cannot read " + model).c_str());
  std::stringstream ss;
  ss << f.rdbuf();
  SourceFile src(model, ss.str());
  std::FILE* devnull = std::fopen("/dev/null", "w");

  // One run: the median over epochs 2..E of the epoch's seconds per step.
  auto run = [&](bool monitor, double& out) -> bool {
    TrainOptions o;
    o.data = data;
    o.shuffle = false;
    o.engine.kind = engine;
    o.engine.threads = threads;
    o.progress_out = devnull;
    CompileOptions c;
    c.epochs = epochs;
    c.monitors = monitor;
    Diagnostics d(&src);
    RunError err;
    auto r = train_source(src, c, o, d, err);
    if (!r) {
      std::string why = err.message;
      for (auto& x : d.all()) why += (why.empty() ? "" : "; ") + x.message;
      std::fprintf(stderr, "kiln_monitor_bench: the run failed: %s\n", why.c_str());
      return false;
    }
    std::vector<double> per_step;
    for (size_t k = 1; k < r->epochs.size(); ++k) {
      const int64_t steps = r->epochs[k].step - r->epochs[k - 1].step;
      per_step.push_back(r->epochs[k].time_s / double(steps));
    }
    out = median(per_step);
    return true;
  };

  std::vector<double> on, off;
  for (int64_t p = 0; p < pairs; ++p) {
    double a = 0, b = 0;
    const bool on_first = p % 2 == 0;
    if (!run(on_first, on_first ? a : b) || !run(!on_first, on_first ? b : a)) return 1;
    on.push_back(a);
    off.push_back(b);
  }
  std::fclose(devnull);
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (double x : v) s += fmt::format("{}{:.6g}", s.empty() ? "" : ", ", x);
    return "[" + s + "]";
  };
  fmt::print("{{\"model\": \"{}\", \"epochs\": {}, \"pairs\": {}, \"on_s\": {}, \"off_s\": {}}}\n", model, epochs,
             pairs, list(on), list(off));
  return 0;
}
