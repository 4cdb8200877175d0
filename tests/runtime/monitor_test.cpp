// The run-time monitors ("[monitor]"): non-finite (op and line named, last finite params
// saved), frozen-param for exactly the frozen params, exploding-gradient, dead-relu,
// loss-plateau / loss-diverging on crafted models, silence on healthy ones, --log lines,
// --no-monitor, and the monitor IR against the interpreter.
#include "frontend/lower.hpp"
#include "ir/interpreter.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/model.hpp"
#include "runtime/safetensors.hpp"
#include "tests/runtime/train_util.hpp"
#include "runtime/trainer.hpp"
#include "tests/runtime/test_util.hpp"
#include <sys/wait.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <sstream>

using namespace kiln;
using kiln::test::TempDir;

namespace {

struct MonRun {
  std::optional<TrainResult> result;
  RunError err;
  std::vector<RuntimeDiagnostic> diags;  // from the callback (also on failed runs)
  std::string rendered;                  // every runtime diagnostic as text
};

MonRun train_text(const std::string& model, test::RunOptions o, const std::string& data = "") {
  SourceFile src("test.model", model);
  Diagnostics d(&src);
  MonRun r;
  o.data = {data.empty() ? test::data_path("iris_shuffled.csv") : data};
  if (o.engine.kind.empty()) o.engine.kind = "interp";
  Diagnostics render(&src);
  o.on_runtime_diagnostic = [&](const RuntimeDiagnostic& x) {
    r.diags.push_back(x);
    r.rendered += render.render(x.diag);
  };
  r.result = train_source(src, o.compile, o, d, r.err);
  return r;
}

std::string example(const std::string& name) {
  return test::get_file(std::string(KILN_SOURCE_DIR) + "/examples/" + name);
}

std::set<std::string> subjects(const MonRun& r, const std::string& id) {
  std::set<std::string> out;
  for (auto& d : r.diags)
    if (d.diag.id == id) {
      auto a = d.diag.message.find('\''), b = d.diag.message.find('\'', a + 1);
      out.insert(d.diag.message.substr(a + 1, b - a - 1));
    }
  return out;
}

struct Cli {
  int exit_code = -1;
  std::string err;
};

// Runs the kiln binary with ARGS from the source root; stderr captured.
Cli run_kiln(const std::vector<std::string>& args) {
  TempDir tmp;
  std::string cmd = std::string("cd '") + KILN_SOURCE_DIR + "' && '" + KILN_BINARY + "'";
  for (auto& a : args) cmd += " '" + a + "'";
  cmd += " </dev/null >/dev/null 2>'" + tmp.file("err") + "'";
  int status = std::system(cmd.c_str());
  Cli c;
  if (WIFEXITED(status)) c.exit_code = WEXITSTATUS(status);
  c.err = test::get_file(tmp.file("err"));
  return c;
}

size_t count_id(const MonRun& r, const std::string& id) {
  size_t n = 0;
  for (auto& d : r.diags) n += d.diag.id == id;
  return n;
}

// The iris-shaped regression data: x (4 columns) and y (the species as a number).
const char* const kHealthy = R"(model healthy
dim batch = 16
input x : f32[batch, 4] normalize
input species : i32[batch]
param w1 : f32[4, 8] = glorot_uniform
param b1 : f32[8] = zeros
param w2 : f32[8, 3] = glorot_uniform
param b2 : f32[3] = zeros
h = relu(x @ w1 + b1)
logits = h @ w2 + b2
loss = mean(softmax_cross_entropy(logits, species))
train { minimize loss; optimizer = adam(lr = 0.01); epochs = 12; seed = 2 }
)";

// kHealthy's training graph with the monitors' roots, whose plan goes to `plan`.
Graph healthy_training_graph(MonitorPlan& plan) {
  SourceFile src("test.model", kHealthy);
  Diagnostics d(&src);
  CompileOptions o;
  o.run_checks = false;
  auto r = compile(src, o, Stage::opt, d);
  REQUIRE(r);
  REQUIRE(r->monitor_plan);
  plan = *r->monitor_plan;
  return std::move(r->graph);
}

// Batch k of a synthetic run of kHealthy into the engine: 16 rows of sines, the labels cycling.
void healthy_batch(Engine& e, int k) {
  BatchBuffer x{DType::f32, {16, 4}, std::vector<unsigned char>(16 * 4 * 4)};
  BatchBuffer y{DType::i32, {16}, std::vector<unsigned char>(16 * 4)};
  for (int i = 0; i < 64; ++i) reinterpret_cast<float*>(x.bytes.data())[i] = float(std::sin(i * 0.3 + k));
  for (int i = 0; i < 16; ++i) reinterpret_cast<int32_t*>(y.bytes.data())[i] = (i + k) % 3;
  std::string err;
  REQUIRE(e.set_batch({"x", "species"}, {x, y}, err));
}

}  // namespace

TEST_CASE("monitor IR: grad norms, update ratios and relu zero fractions match the interpreter", "[monitor]") {
  SourceFile src("test.model", kHealthy);
  Diagnostics d(&src);
  CompileOptions o;
  o.run_checks = false;
  auto r = compile(src, o, Stage::opt, d);  // (with the monitors, after simplification)
  REQUIRE(r);
  Graph tg = r->graph;
  Graph plain = *r->plain;
  MonitorPlan plan = *r->monitor_plan;
  REQUIRE(plan.params.size() == 4);
  REQUIRE(plan.relus.size() == 1);
  CHECK(plan.user_metrics == 0);
  ValueMap leaves = initial_values(tg, 3);
  // A batch: 16 rows of some spread.
  Tensor x(DType::f32, {16, 4}), y(DType::i32, {16});
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = double(float(std::sin(double(i) * 1.7) * 2));
  for (size_t i = 0; i < y.data.size(); ++i) y.data[i] = double(i % 3);
  leaves["x"] = x;
  leaves["species"] = y;
  std::string err;
  auto mv = evaluate(tg, leaves, Precision::f32, err);
  auto pv = evaluate(plain, leaves, Precision::f32, err);
  REQUIRE(mv);
  REQUIRE(pv);
  // The lagged sums (small params) are the previous step's: the next evaluation's.
  ValueMap stepped = leaves;
  REQUIRE(train_step(tg, stepped, Precision::f32, err));
  auto next = evaluate(tg, stepped, Precision::f32, err);
  REQUIRE(next);
  int lagged = 0;
  for (auto& p : plan.params) {
    NodeId grad = -1, upd = -1;
    for (auto& [param, gid] : plain.grads)
      if (param == p.param) grad = gid;
    for (auto& u : plain.updates)
      if (u.target == p.param) upd = u.value;
    REQUIRE(grad >= 0);
    REQUIRE(upd >= 0);
    double gs = 0, ws = 0, ds = 0;
    const Tensor& w = leaves.at(p.name);
    for (double v : (*pv)[size_t(grad)].data) gs += v * v;
    for (size_t i = 0; i < w.data.size(); ++i) {
      ws += w.data[i] * w.data[i];
      double dd = (*pv)[size_t(upd)].data[i] - w.data[i];
      ds += dd * dd;
    }
    auto m = [&](int i, bool late) { return (late ? *next : *mv)[size_t(tg.train.metrics[size_t(i)].second)].data[0]; };
    lagged += p.lagged;
    CHECK(m(p.grad_sq, p.lagged) == Approx(gs).epsilon(1e-4));
    CHECK(m(p.weight_sq, false) == Approx(ws).epsilon(1e-4));
    CHECK(m(p.delta_sq, p.lagged) == Approx(ds).epsilon(1e-3));
    if (p.lagged) CHECK(m(p.grad_sq, false) == 0);  // the first step's: the zero states'
    CHECK(gs > 0);
  }
  CHECK(lagged > 0);
  NodeId relu = plan.relus[0].node;
  double zeros = 0;
  for (double v : (*pv)[size_t(relu)].data) zeros += v == 0;
  double frac = (*mv)[size_t(tg.train.metrics[size_t(plan.relus[0].zero_frac)].second)].data[0];
  CHECK(plan.relus[0].active);  // the backward pass's mask was reused
  frac = 1 - frac;
  CHECK(frac == Approx(zeros / double((*pv)[size_t(relu)].data.size())));
}

TEST_CASE("engine snapshot + replay reproduces the params exactly (the non-finite rollback)", "[monitor]") {
  MonitorPlan plan;
  Graph tg = healthy_training_graph(plan);
  for (std::string kind : {"interp", "jit"}) {
    CAPTURE(kind);
    EngineOptions eo;
    eo.kind = kind;
    std::string err;
    auto e = make_engine(tg, eo, err);
    REQUIRE(e);
    REQUIRE(e->set_values(initial_values(tg, 7), err));
    auto batch = [&](int k) { healthy_batch(*e, k); };
    BatchResult r;
    batch(0);
    REQUIRE(e->step(r, err));
    e->snapshot_values();
    for (int k = 1; k <= 3; ++k) {
      batch(k);
      REQUIRE(e->step(r, err));
    }
    ValueMap after3 = e->values();
    for (int k = 4; k <= 5; ++k) {
      batch(k);
      REQUIRE(e->step(r, err));
    }
    CHECK(e->values().at("w1").data != after3.at("w1").data);
    e->restore_snapshot();
    for (int k = 1; k <= 3; ++k) {
      batch(k);
      REQUIRE(e->step(r, err));
    }
    ValueMap again = e->values();
    for (auto& [name, t] : after3) CHECK(again.at(name).data == t.data);  // bit-identical, states included
  }
}

// The JIT has the monitors' quantities as one row (Engine::metric_row); a Monitor that
// copies it in 16-byte pieces sees what one reading the cells one by one sees.
TEST_CASE("the JIT's monitor row: the cells in order, and push() through it as through the cells", "[monitor]") {
  MonitorPlan plan;
  Graph tg = healthy_training_graph(plan);
  SourceFile src("test.model", kHealthy);
  EngineOptions eo;
  eo.kind = "jit";
  std::string err;
  auto e = make_engine(tg, eo, err);
  REQUIRE(e);
  REQUIRE(e->set_values(initial_values(tg, 7), err));
  Monitor by_row(tg, plan, &src), by_cell(tg, plan, &src);
  REQUIRE(by_row.width() >= 6);
  auto cells = e->metric_cells(by_row.first_metric(), by_row.width());
  const float* row = e->metric_row(by_row.first_metric(), by_row.width());
  REQUIRE(row != nullptr);
  for (size_t k = 0; k < cells.size(); ++k) CHECK(cells[k] == row + k);
  auto settle = [&] { REQUIRE(e->settle_monitors(err)); };
  by_row.bind(cells, settle, row);
  by_cell.bind(cells, settle);
  BatchResult r;
  int checked_moving = 0;  // process() calls after which every param's gradient was nonzero
  for (int k = 0; k < 1300; ++k) {  // across process() calls
    healthy_batch(*e, k);
    REQUIRE(e->step(r, err));
    const bool a = by_row.push(), b = by_cell.push();
    REQUIRE(a == b);
    if (a || k % 97 == 0 || k == 1299) {
      REQUIRE(by_row.process() == by_cell.process());
      auto hr = by_row.health(), hc = by_cell.health();
      REQUIRE(hr.size() == plan.params.size());
      REQUIRE(hc.size() == hr.size());
      bool moving = true;
      for (size_t p = 0; p < hr.size(); ++p) {
        CAPTURE(k, hr[p].name);
        moving = moving && hr[p].grad_norm > 0;
        CHECK(hr[p].grad_norm == hc[p].grad_norm);
        CHECK(hr[p].update_ratio == hc[p].update_ratio);
        CHECK(hr[p].status == hc[p].status);
      }
      checked_moving += moving;
    }
  }
  CHECK(checked_moving > 3);  // (the relus die on this data later on)
  CHECK(by_row.all().size() == by_cell.all().size());
}

TEST_CASE("non-finite: names the op and line, exits non-zero, saves the last finite params", "[monitor]") {
  for (std::string engine : {"interp", "jit"}) {
    CAPTURE(engine);
    TempDir dir;
    test::RunOptions o;
    o.engine.kind = engine;
    o.save = dir.file("p.safetensors");
    o.shuffle = false;
    MonRun r = train_text(example("broken/nan_divergence.model"), o, test::data_path("iris_shuffled.csv"));
    REQUIRE_FALSE(r.result);
    CHECK(r.err.exit_code == 1);
    REQUIRE(count_id(r, "non-finite") == 1);
    const Diagnostic* nf = nullptr;
    for (auto& d : r.diags)
      if (d.diag.id == "non-finite") nf = &d.diag;
    CHECK(nf->severity == Severity::error);
    CHECK(nf->message.rfind("log produced NaN at step", 0) == 0);
    CHECK(nf->loc.line == 21);  // loss = mean(log(var) + ...)
    CHECK(nf->loc.col == 13);
    bool expr = false;
    for (auto& n : nf->notes) expr = expr || n.message == "the expression: log(var)";
    CHECK(expr);
    CHECK(r.rendered.find("test.model:21:13: error: log produced NaN") != std::string::npos);
    std::string e;
    auto f = read_safetensors(o.save, e);
    REQUIRE(f);
    size_t checked = 0;
    for (auto& t : f->tensors)
      for (double v : t.values) {
        CHECK(std::isfinite(v));
        ++checked;
      }
    CHECK(checked > 0);
    const NamedTensor* var = f->find("var");
    REQUIRE(var);
    CHECK(var->values.at(0) < 0);  // the last finite step pushed var below 0; log(var) is NaN
    // its position is that step's (150 rows in batches of 16: 9 steps per epoch)
    int64_t bad = 0;
    for (auto& d : r.diags)
      if (d.diag.id == "non-finite") bad = d.step;
    CHECK(f->metadata.at("kiln_stop") == "non-finite");
    CHECK(f->metadata.at("kiln_epochs_done") == std::to_string((bad - 1) / 9));
    CHECK(f->metadata.at("kiln_steps_into_epoch") == std::to_string((bad - 1) % 9));
  }
}

TEST_CASE("frozen-param: stop_gradient layer and a too-small lr, exactly the right params", "[monitor]") {
  SECTION("behind stop_gradient") {
    test::RunOptions o;
    MonRun r = train_text(example("broken/frozen_param.model"), o);
    REQUIRE(r.result);
    CHECK(subjects(r, "frozen-param") == std::set<std::string>{"w1", "b1"});
    for (auto& d : r.diags)
      if (d.diag.id == "frozen-param") {
        CHECK(d.diag.loc.line == (d.diag.message.find("'w1'") == 0 ? 15u : 16u));
        CHECK(d.step == 20);
        CHECK(d.diag.notes.at(0).message.find("gradient is exactly 0") != std::string::npos);
      }
    for (auto& h : r.result->health) CHECK(h.status == (h.name[1] == '1' ? "frozen" : "ok"));
  }
  SECTION("lr 1e-12: weights frozen, zero-initialised biases still move relatively") {
    test::RunOptions o;
    o.compile.lr = 1e-12;
    o.compile.epochs = 3;
    MonRun r = train_text(kHealthy, o);
    REQUIRE(r.result);
    CHECK(subjects(r, "frozen-param") == std::set<std::string>{"w1", "w2"});
    for (auto& d : r.diags)
      if (d.diag.id == "frozen-param") CHECK(d.diag.notes.at(0).message.find("learning rate 1e-12 is too small") != std::string::npos);
  }
}

TEST_CASE("exploding-gradient and loss-diverging fire on a too-large lr", "[monitor]") {
  test::RunOptions o;
  MonRun r = train_text(example("broken/exploding.model"), o);
  REQUIRE(r.result);
  CHECK(subjects(r, "exploding-gradient").count("w") == 1);
  CHECK(count_id(r, "loss-diverging") == 1);
  CHECK(count_id(r, "non-finite") == 0);
  CHECK(count_id(r, "loss-plateau") == 0);
  // The same model with a stable lr: silent.
  o.compile.lr = 0.005;
  MonRun ok = train_text(example("broken/exploding.model"), o);
  REQUIRE(ok.result);
  CHECK(ok.diags.empty());
}

TEST_CASE("dead-relu fires on an always-off relu, names it", "[monitor]") {
  test::RunOptions o;
  MonRun r = train_text(example("broken/dead_relu.model"), o);
  REQUIRE(r.result);
  REQUIRE(count_id(r, "dead-relu") == 1);
  for (auto& d : r.diags)
    if (d.diag.id == "dead-relu") {
      CHECK(d.diag.loc.line == 19);
      CHECK(d.diag.message.find("relu(x @ w1 + b1)") != std::string::npos);
    }
  CHECK(subjects(r, "frozen-param") == std::set<std::string>{"w1", "b1", "w2"});
}

TEST_CASE("vanishing-gradient names the param whose gradient is 1e-4 of the largest", "[monitor]") {
  const char* model = R"(model vanish
dim batch = 16
input x : f32[batch, 4] normalize
input species : i32[batch]
param w1 : f32[4, 3] = glorot_uniform
param w2 : f32[4, 3] = glorot_uniform
param b : f32[3] = zeros
logits = (x @ w1) * 0.00001 + x @ w2 + b
loss = mean(softmax_cross_entropy(logits, species))
train { minimize loss; optimizer = sgd(lr = 0.1); epochs = 2 }
)";
  test::RunOptions o;
  MonRun r = train_text(model, o);
  REQUIRE(r.result);
  CHECK(subjects(r, "vanishing-gradient") == std::set<std::string>{"w1"});
  for (auto& d : r.diags)
    if (d.diag.id == "vanishing-gradient") {
      CHECK(d.diag.loc.line == 5);
      CHECK(d.step == 9);  // the end of epoch 1
    }
}

TEST_CASE("loss-plateau fires when the loss stops improving", "[monitor]") {
  test::RunOptions o;
  o.compile.lr = 1e-9;
  o.compile.epochs = 8;
  MonRun r = train_text(kHealthy, o);
  REQUIRE(r.result);
  CHECK(count_id(r, "loss-plateau") == 1);
  CHECK(count_id(r, "loss-diverging") == 0);
}

TEST_CASE("healthy models are silent: a relu MLP and every model in examples/", "[monitor]") {
  std::string ex = std::string(KILN_SOURCE_DIR) + "/examples/";
  struct Case {
    std::string model, data;
    std::optional<int64_t> epochs;
  };
  std::vector<Case> cases = {{kHealthy, test::data_path("iris_shuffled.csv"), {}},
                             {example("iris.model"), ex + "data/iris.csv", {}},  // 100 epochs, converged
                             {example("diabetes.model"), ex + "data/diabetes.csv", {}},
                             {example("wine.model"), ex + "data/wine.csv", {}},
                             {example("breast_cancer.model"), ex + "data/breast_cancer.csv", {}},
                             {example("digits.model"), ex + "data/digits.csv", 3}};
  for (auto& c : cases) {
    CAPTURE(c.model.substr(0, 40));
    test::RunOptions o;
    o.compile.epochs = c.epochs;
    MonRun r = train_text(c.model, o, c.data);
    REQUIRE(r.result);
    CHECK(r.rendered == "");
    REQUIRE(!r.result->health.empty());
    for (auto& h : r.result->health) {
      CHECK(h.status == "ok");
      CHECK(h.grad_norm > 0);
      CHECK(h.update_ratio > 1e-7);
    }
  }
}

TEST_CASE("monitor diagnostics in the --log file parse, and --no-monitor silences the monitors", "[monitor]") {
  TempDir dir;
  test::RunOptions o;
  o.log = dir.file("m.jsonl");
  MonRun r = train_text(example("broken/frozen_param.model"), o);
  REQUIRE(r.result);
  std::istringstream in(test::get_file(o.log));
  std::string line;
  int diag_lines = 0;
  while (std::getline(in, line)) {
    if (line.find("\"kind\":\"diagnostic\"") == std::string::npos) continue;
    ++diag_lines;
    CHECK(line.rfind("{\"kind\":\"diagnostic\",\"id\":\"frozen-param\",\"severity\":\"warning\",\"message\":\"'", 0) == 0);
    CHECK(line.find(",\"step\":20,\"file\":\"test.model\",\"line\":1") != std::string::npos);
    CHECK(line.back() == '}');
  }
  CHECK(diag_lines == 2);

  o.compile.monitors = false;
  MonRun off = train_text(example("broken/frozen_param.model"), o);
  REQUIRE(off.result);
  CHECK(off.diags.empty());
  CHECK(off.result->health.empty());
  CHECK(test::get_file(o.log).find("diagnostic") == std::string::npos);
  // Without monitors a NaN loss still stops the run, with the old message.
  MonRun nan = train_text(example("broken/nan_divergence.model"), o);
  REQUIRE_FALSE(nan.result);
  CHECK(nan.err.message.find("training diverged") != std::string::npos);
}

TEST_CASE("kiln train: monitor output on stderr, exit status, --no-monitor", "[monitor]") {
  std::string dir = KILN_SOURCE_DIR;
  auto r = run_kiln({"train", dir + "/examples/broken/nan_divergence.model", "--data",
                           dir + "/examples/data/iris.csv", "--engine", "interp", "--no-color"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("nan_divergence.model:21:13: error: log produced NaN at step") != std::string::npos);
  CHECK(r.err.find("[non-finite]") != std::string::npos);
  auto f = run_kiln({"train", dir + "/examples/broken/frozen_param.model", "--data",
                           dir + "/examples/data/iris.csv", "--no-color"});
  CHECK(f.exit_code == 0);
  CHECK(f.err.find("[frozen-param]") != std::string::npos);
  CHECK(f.err.find("training health") != std::string::npos);
  auto q = run_kiln({"train", dir + "/examples/broken/frozen_param.model", "--data",
                           dir + "/examples/data/iris.csv", "--no-monitor", "--no-color"});
  CHECK(q.exit_code == 0);
  CHECK(q.err.find("[frozen-param]") == std::string::npos);
  CHECK(q.err.find("training health") == std::string::npos);
}

// Hidden timing ("[.][monitorbench]"): the monitors' cost on a JIT training step of
// examples/digits.model (batch 64), single thread, CPU time of this thread (the machine is
// shared). Alternates blocks of steps with and without the monitor roots + host rules +
// one snapshot per 28 steps (an epoch of digits), and reports the medians.
#include <algorithm>
#include <ctime>
#include <fmt/format.h>

static double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

TEST_CASE("monitor overhead on a digits JIT step", "[.][monitorbench]") {
  SourceFile src("digits.model", example("digits.model"));
  Diagnostics d(&src);
  CompileOptions o;
  o.run_checks = false;
  auto r = compile(src, o, Stage::opt, d);
  REQUIRE(r);
  Graph plain = *r->plain;
  Graph mg = r->graph;
  MonitorPlan plan = *r->monitor_plan;
  EngineOptions eo;
  eo.kind = "jit";
  eo.threads = 1;
  std::string err;
  auto e0 = make_engine(plain, eo, err);
  auto e1 = make_engine(mg, eo, err);
  REQUIRE(e0);
  REQUIRE(e1);
  ValueMap init = initial_values(plain, 1);
  REQUIRE(e0->set_values(init, err));
  REQUIRE(e1->set_values(init, err));
  BatchBuffer x{DType::f32, {64, 64}, std::vector<unsigned char>(64 * 64 * 4)};
  BatchBuffer y{DType::i32, {64}, std::vector<unsigned char>(64 * 4)};
  for (int i = 0; i < 64 * 64; ++i) reinterpret_cast<float*>(x.bytes.data())[i] = float(std::sin(i * 0.37));
  for (int i = 0; i < 64; ++i) reinterpret_cast<int32_t*>(y.bytes.data())[i] = i % 10;
  std::vector<std::string> names = {"x", "labels"};
  std::vector<BatchBuffer> bufs = {x, y};
  REQUIRE(e0->set_batch(names, bufs, err));
  REQUIRE(e1->set_batch(names, bufs, err));
  Monitor mon(mg, plan, &src);
  mon.bind(e1->metric_cells(mon.first_metric(), mon.width()));
  const int block = 280, rounds = 30;
  std::vector<double> t0, t1, t2;
  int64_t step = 0;
  for (int r = 0; r < rounds; ++r) {
    BatchResult br;
    double a = thread_cpu_seconds();
    for (int k = 0; k < block; ++k) REQUIRE(e0->step(br, err));
    double b = thread_cpu_seconds();
    for (int k = 0; k < block; ++k) {
      if (k % 28 == 0) e1->snapshot_values();
      REQUIRE(e1->step(br, err));
      if (mon.push()) REQUIRE(mon.process() == 0);
      ++step;
    }
    double c = thread_cpu_seconds();
    for (int k = 0; k < block; ++k) REQUIRE(e1->step(br, err));
    double dd = thread_cpu_seconds();
    t0.push_back((b - a) / block);
    t1.push_back((c - b) / block);
    t2.push_back((dd - c) / block);
  }
  std::sort(t2.begin(), t2.end());
  fmt::print("  the monitored graph's step alone: {:.2f} us\n", t2[t2.size() / 2] * 1e6);
  std::sort(t0.begin(), t0.end());
  std::sort(t1.begin(), t1.end());
  double m0 = t0[t0.size() / 2], m1 = t1[t1.size() / 2];
  fmt::print("digits JIT step (median of {} blocks of {} steps, thread CPU time): without monitors {:.2f} us, with "
             "{:.2f} us: overhead {:.1f}%\n",
             rounds, block, m0 * 1e6, m1 * 1e6, 100 * (m1 / m0 - 1));
  CHECK(m1 > 0);
}
