// The training runtime ("[train]"): end-to-end training on real rows (iris, shuffled once
// with Python's random.Random(0)), determinism, the validation split, the metrics log,
// checkpoints (save, load, resume, wrong model, atomic), predict and the kiln commands.
#include "frontend/lower.hpp"
#include "runtime/csv.hpp"
#include "runtime/npy.hpp"
#include "runtime/model.hpp"
#include "tests/runtime/train_util.hpp"
#include "runtime/predict.hpp"
#include "runtime/trainer.hpp"
#include "runtime/json.hpp"
#include "tests/runtime/test_util.hpp"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

using namespace kiln;
using kiln::test::TempDir;

namespace {

const char* const kIris = R"(model iris_small
dim batch = 16
input x : f32[batch, 4] normalize
input species : i32[batch]
param w1 : f32[4, 8] = glorot_uniform
param b1 : f32[8] = zeros
param w2 : f32[8, 3] = glorot_uniform
param b2 : f32[3] = zeros
logits = tanh(x @ w1 + b1) @ w2 + b2
loss = mean(softmax_cross_entropy(logits, species))
output probabilities = softmax(logits)
output cls = argmax(logits, axis=1)
train {
  minimize loss
  optimizer = adam(lr = 0.02)
  schedule = step_decay(rate = 0.5, every = 20)
  epochs = 12
  seed = 5
  metric accuracy = mean(argmax(logits, axis=1) == species)
}
)";

// Another model over the same data, with other params.
const char* const kOther = R"(model other
dim batch = 16
input x : f32[batch, 4] normalize
input species : i32[batch]
param w : f32[4, 3] = glorot_uniform
logits = x @ w
loss = mean(softmax_cross_entropy(logits, species))
output cls = argmax(logits, axis=1)
train { minimize loss; optimizer = sgd(lr = 0.1); epochs = 2 }
)";

std::string iris_csv() { return test::data_path("iris_shuffled.csv"); }

struct Run {
  std::optional<TrainResult> result;
  RunError err;
  std::string diags;
};

Run train(const char* model, test::RunOptions o) {
  SourceFile src("test.model", model);
  Diagnostics d(&src);
  Run r;
  if (o.data.empty()) o.data = {iris_csv()};
  r.result = train_source(src, o.compile, o, d, r.err);
  r.diags = d.render_all();
  return r;
}

std::optional<PredictResult> predict(const char* model, const std::string& params, const std::string& data,
                                     RunError& err, bool outputs = true) {
  SourceFile src("test.model", model);
  Diagnostics d(&src);
  PredictOptions o;
  o.params = params;
  o.data = {data};
  o.want_outputs = outputs;
  o.require_labels = !outputs;
  return predict_source(src, {}, o, d, err);
}

// A flat JSON object of one metrics-log line: key -> value text (strings in quotes,
// numbers as written, null as null), read by runtime/json.
std::map<std::string, std::string> parse_line(const std::string& s) {
  Json j;
  std::string err;
  INFO(s);
  REQUIRE(kiln::parse_json(s, j, err));
  REQUIRE(j.kind == Json::object);
  std::map<std::string, std::string> out;
  for (auto& [k, v] : j.members) {
    REQUIRE((v.kind == Json::string || v.kind == Json::number || v.kind == Json::null));
    out[k] = v.kind == Json::string ? "\"" + v.text + "\"" : v.kind == Json::null ? "null" : v.text;
  }
  return out;
}

double number(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  REQUIRE(it != m.end());
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  REQUIRE(end == it->second.c_str() + it->second.size());
  return v;
}

}  // namespace

TEST_CASE("training on iris rows lowers the loss and learns", "[train]") {
  test::RunOptions o;
  Run r = train(kIris, o);
  INFO(r.err.message << r.diags);
  REQUIRE(r.result);
  auto& res = *r.result;
  CHECK(res.train_rows == 150);
  CHECK(res.batch == 16);
  CHECK(res.steps == 12 * (150 / 16));  // partial batches dropped
  REQUIRE(res.epochs.size() == 12);
  CHECK(res.epochs.back().loss < 0.5 * res.epochs.front().loss);
  REQUIRE(res.epochs.back().metrics.size() == 1);
  CHECK(res.epochs.back().metrics[0].first == "accuracy");
  CHECK(res.epochs.back().metrics[0].second > 0.9);
  CHECK(res.normalization.count("x") == 1);
  CHECK(res.values.count("step") == 1);
  CHECK(res.values.at("step").data[0] == double(res.steps));
}

TEST_CASE("same seed and data give bit-identical runs, another seed differs", "[train]") {
  test::RunOptions o;
  o.compile.epochs = 3;
  o.val_split = 0.2;
  Run a = train(kIris, o), b = train(kIris, o);
  REQUIRE(a.result);
  REQUIRE(b.result);
  REQUIRE(a.result->step_losses.size() == b.result->step_losses.size());
  CHECK(std::memcmp(a.result->step_losses.data(), b.result->step_losses.data(),
                    a.result->step_losses.size() * sizeof(double)) == 0);
  for (auto& [name, t] : a.result->values) CHECK(t.data == b.result->values.at(name).data);
  CHECK(*a.result->epochs.back().val_loss == *b.result->epochs.back().val_loss);
  o.compile.seed = 6;
  Run c = train(kIris, o);
  REQUIRE(c.result);
  CHECK(c.result->step_losses != a.result->step_losses);
  o.compile.seed.reset();
  o.shuffle = false;
  Run d = train(kIris, o);
  REQUIRE(d.result);
  CHECK(d.result->step_losses != a.result->step_losses);  // file order vs shuffled
}

TEST_CASE("val-split holds out the last rows and evaluates them each epoch", "[train]") {
  test::RunOptions o;
  o.compile.epochs = 2;
  o.val_split = 0.2;
  Run r = train(kIris, o);
  REQUIRE(r.result);
  CHECK(r.result->train_rows == 120);
  CHECK(r.result->val_rows == 30);
  CHECK(r.result->steps == 2 * 7);
  for (auto& e : r.result->epochs) {
    REQUIRE(e.val_loss);
    CHECK(std::isfinite(*e.val_loss));
    REQUIRE(e.val_metrics.size() == 1);
    CHECK(e.val_metrics[0].second >= 0);
    CHECK(e.val_metrics[0].second <= 1);
  }
  o.val_split = 0.95;  // 7 training rows: less than a batch
  Run s = train(kIris, o);
  CHECK(!s.result);
  CHECK(s.err.exit_code == 2);
  CHECK(s.err.message.find("fewer than one batch of 16") != std::string::npos);
  o.val_split = 0;
  Run t = train(kIris, o);
  REQUIRE(t.result);
  CHECK(!t.result->epochs[0].val_loss);
}

TEST_CASE("the metrics log has step and epoch lines with their fields", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 6;
  o.val_split = 0.2;
  o.log = dir.file("m.jsonl");
  o.log_every = 4;
  Run r = train(kIris, o);
  REQUIRE(r.result);
  std::istringstream in(test::get_file(o.log));
  std::string line;
  int steps = 0, epochs = 0, health = 0;
  while (std::getline(in, line)) {
    auto m = parse_line(line);
    if (m["kind"] == "\"health\"") {  // the training-health table, after the last epoch
      CHECK(epochs == 6);
      CHECK(number(m, "step") == 42);
      ++health;
    } else if (m["kind"] == "\"step\"") {
      ++steps;
      double step = number(m, "step");
      CHECK(std::fmod(step, 4) == 0);
      CHECK(number(m, "loss") == r.result->step_losses[size_t(step) - 1]);
      // step_decay(rate 0.5, every 20): lr of the step counted from 0
      CHECK(number(m, "lr") == Approx(0.02 * std::pow(0.5, std::floor((step - 1) / 20))));
      CHECK(number(m, "epoch") == std::ceil(step / 7));
      CHECK(m.size() == 5);
    } else {
      REQUIRE(m["kind"] == "\"epoch\"");
      ++epochs;
      CHECK(number(m, "epoch") == epochs);
      CHECK(number(m, "step") == 7 * epochs);
      CHECK(number(m, "loss") == Approx(r.result->epochs[size_t(epochs) - 1].loss));
      CHECK(number(m, "accuracy") >= 0);
      CHECK(number(m, "val_loss") > 0);
      CHECK(number(m, "val_accuracy") >= 0);
      CHECK(number(m, "time_s") >= 0);
    }
  }
  CHECK(steps == 42 / 4);
  CHECK(epochs == 6);
  CHECK(health == 4);  // iris: w1 b1 w2 b2
}

TEST_CASE("checkpoints: save, load, identical predictions, resume", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 4;
  o.shuffle = false;
  o.save = dir.file("p.safetensors");
  Run r = train(kIris, o);
  REQUIRE(r.result);
  CHECK(dir.entries() == 1);  // no temporary left beside it

  std::string err;
  auto file = read_safetensors(o.save, err);
  REQUIRE(file);
  for (const char* name : {"w1", "b1", "w2", "b2", "__state__.step", "__state__.w1.m", "__state__.w1.v",
                           "__normalize__.x.mean", "__normalize__.x.std"})
    CHECK(file->find(name) != nullptr);
  // The monitors' states (their lagged sums' carried gradients and updates) are not the model's.
  REQUIRE(o.compile.monitors);
  CHECK(r.result->values.count("__monitor__.grad.b1") == 1);
  for (const NamedTensor& t : file->tensors) CHECK(t.name.find("__monitor__") == std::string::npos);
  CHECK(file->metadata.at("kiln_model") == "iris_small");
  CHECK(file->metadata.at("kiln_model_hash").size() == 16);
  CHECK(file->find("w1")->values == r.result->values.at("w1").data);

  // predict from the file == a forward pass with the trained values in memory
  RunError perr;
  auto p = predict(kIris, o.save, iris_csv(), perr);
  INFO(perr.message);
  REQUIRE(p);
  SourceFile src("test.model", kIris);
  Diagnostics d(&src);
  CompileOptions fo;
  fo.goal = Goal::forward;
  fo.batch = 150;
  auto fwd = compile(src, fo, Stage::opt, d);
  REQUIRE(fwd);
  Graph* g = &fwd->graph;
  auto specs = input_specs(*g, err);
  REQUIRE(specs);
  auto ds = load_dataset({iris_csv()}, *specs, err);
  REQUIRE(ds);
  apply_standardization(*ds, 0, r.result->normalization.at("x"));
  auto leaves = r.result->values;
  auto batch = gather_batch_tensors(*ds, std::vector<int64_t>([] {
                                       std::vector<int64_t> v(150);
                                       for (int i = 0; i < 150; ++i) v[size_t(i)] = i;
                                       return v;
                                     }()));
  leaves["x"] = batch[0];
  leaves["species"] = batch[1];
  auto vals = evaluate(*g, leaves, Precision::f32, err);
  REQUIRE(vals);
  const Tensor& probs = (*vals)[g->outputs[0].second];
  REQUIRE(p->columns.size() == 4);
  for (int64_t row = 0; row < 150; ++row)
    for (int64_t k = 0; k < 3; ++k) CHECK(p->table[size_t(row * 4 + k)] == probs.data[size_t(row * 3 + k)]);
  REQUIRE(p->loss);
  CHECK(*p->loss == (*vals)[*g->train.minimize].data[0]);

  // 4 epochs == 2 epochs, save, --load with --epochs 4 (the total): epochs 3 and 4 (file
  // order; optimizer state and step restored; docs/training.md "Resuming" for the rest)
  test::RunOptions half = o;
  half.compile.epochs = 2;
  half.save = dir.file("half.safetensors");
  REQUIRE(train(kIris, half).result);
  half.load = half.save;
  half.compile.epochs = 4;
  half.save = dir.file("resumed.safetensors");
  Run resumed = train(kIris, half);
  REQUIRE(resumed.result);
  for (auto& [name, t] : r.result->values) CHECK(t.data == resumed.result->values.at(name).data);
}

TEST_CASE("a checkpoint of another model, or missing tensors, is a clear error", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 1;
  o.save = dir.file("iris.safetensors");
  REQUIRE(train(kIris, o).result);
  test::RunOptions other;
  other.load = o.save;
  Run r = train(kOther, other);
  CHECK(!r.result);
  CHECK(r.err.exit_code == 2);
  CHECK(r.err.message.find("was saved from model 'iris_small' (hash ") != std::string::npos);
  CHECK(r.err.message.find("not 'other'") != std::string::npos);
  RunError perr;
  CHECK(!predict(kOther, o.save, iris_csv(), perr));
  CHECK(perr.message.find("was saved from model 'iris_small'") != std::string::npos);

  // a safetensors file without kiln metadata: names and shapes are checked
  std::string err;
  REQUIRE(write_safetensors(dir.file("bare.safetensors"), {{"w", DType::f32, {4, 2}, std::vector<double>(8, 0.5)}},
                            {}, err));
  other.load = dir.file("bare.safetensors");
  Run s = train(kOther, other);
  CHECK(!s.result);
  CHECK(s.err.message == dir.file("bare.safetensors") + ": tensor 'w' is f32[4,2] but the model's is f32[4,3]");
  other.load = dir.file("missing.safetensors");
  Run t = train(kOther, other);
  CHECK(!t.result);
  CHECK(t.err.exit_code == 2);
  CHECK(t.err.message.find("cannot read") != std::string::npos);
}

TEST_CASE("saving is atomic: a failed save leaves the old file and no temporary", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 1;
  o.save = dir.file("p.safetensors");
  REQUIRE(train(kIris, o).result);
  std::string before = test::get_file(o.save);
  std::filesystem::create_directory(dir.file("sub"));
  o.save = dir.file("sub");  // a directory: the rename cannot replace it
  Run r = train(kIris, o);
  CHECK(!r.result);
  CHECK(r.err.exit_code == 2);
  CHECK(!r.err.message.empty());
  CHECK(r.err.message == dir.file("sub") + ": cannot write: Is a directory");  // checked before training
  o.save = dir.file("nodir/p.safetensors");
  Run r2 = train(kIris, o);
  CHECK(r2.err.exit_code == 2);
  CHECK(r2.err.message == o.save + ": cannot write: No such file or directory");

  // the atomic write itself: renaming over a directory fails; nothing is left behind
  SourceFile src("test.model", kIris);
  Diagnostics d(&src);
  CompileOptions co;
  co.run_checks = false;
  co.monitors = false;
  auto step = compile(src, co, Stage::opt, d);
  REQUIRE(step);
  Graph* g = &step->graph;
  auto values = initial_values(*g, 1);
  std::string err;
  CHECK(!save_checkpoint(dir.file("sub"), *g, values, {}, err));
  CHECK(!err.empty());
  CHECK(std::filesystem::is_directory(dir.file("sub")));
  CHECK(dir.entries() == 2);
  CHECK(test::get_file(dir.file("p.safetensors")) == before);
  CHECK(save_checkpoint(dir.file("p.safetensors"), *g, values, {}, err));
  CHECK(test::get_file(dir.file("p.safetensors")) != before);
  CHECK(dir.entries() == 2);
  o.save = dir.file("p.safetensors");
  o.compile.seed = 9;
  REQUIRE(train(kIris, o).result);
  CHECK(test::get_file(o.save) != before);  // replaced by the new run
  CHECK(dir.entries() == 2);
}

TEST_CASE("predict writes every output as CSV columns, with or without labels", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 3;
  o.save = dir.file("p.safetensors");
  REQUIRE(train(kIris, o).result);
  RunError err;
  auto p = predict(kIris, o.save, iris_csv(), err);
  REQUIRE(p);
  CHECK(p->columns == std::vector<std::string>{"probabilities_0", "probabilities_1", "probabilities_2", "cls"});
  CHECK(p->rows == 150);
  CHECK(p->table.size() == 150 * 4);
  CHECK(p->has_labels);
  REQUIRE(p->metrics.size() == 1);
  std::string e;
  REQUIRE(write_csv(dir.file("out.csv"), p->columns, p->table, e));
  auto back = read_csv(dir.file("out.csv"), e);
  REQUIRE(back);
  CHECK(back->rows == 150);
  CHECK(back->cols() == 4);
  for (int64_t r = 0; r < 150; ++r) {
    CHECK(back->at(r, 0) + back->at(r, 1) + back->at(r, 2) == Approx(1.0).epsilon(1e-5));
    double c = back->at(r, 3);
    CHECK((c == 0 || c == 1 || c == 2));
  }

  // the same rows without the label column: outputs only
  auto table = read_csv(iris_csv(), e);
  REQUIRE(table);
  std::vector<double> features;
  for (int64_t r = 0; r < table->rows; ++r)
    for (int64_t c = 0; c < 4; ++c) features.push_back(table->at(r, c));
  REQUIRE(write_csv(dir.file("x.csv"), {"a", "b", "c", "d"}, features, e));
  auto q = predict(kIris, o.save, dir.file("x.csv"), err);
  INFO(err.message);
  REQUIRE(q);
  CHECK(!q->has_labels);
  CHECK(!q->loss);
  CHECK(q->table == p->table);

  // in chunks of 64 rows (64, 64, 22): the same outputs; loss and metrics weighted by rows
  {
    SourceFile src("test.model", kIris);
    Diagnostics d(&src);
    PredictOptions po;
    po.params = o.save;
    po.data = {iris_csv()};
    po.max_chunk = 64;
    auto chunked = predict_source(src, {}, po, d, err);
    REQUIRE(chunked);
    CHECK(chunked->table == p->table);
    CHECK(*chunked->loss == Approx(*p->loss).epsilon(1e-6));
    CHECK(chunked->metrics[0].second == Approx(p->metrics[0].second).epsilon(1e-6));
  }

  // eval needs the labels
  CHECK(!predict(kIris, o.save, dir.file("x.csv"), err, false));
  CHECK(err.exit_code == 2);
  auto ev = predict(kIris, o.save, iris_csv(), err, false);
  REQUIRE(ev);
  CHECK(ev->loss == p->loss);
}

TEST_CASE("bad data is a one-line error with exit status 2", "[train]") {
  TempDir dir;
  test::put_file(dir.file("bad.csv"), "a,b,c,d,species\n1,2,3,4,0\n1,2,3,4,3\n");
  test::RunOptions o;
  o.data = {dir.file("bad.csv")};
  Run r = train(kIris, o);
  CHECK(!r.result);
  CHECK(r.err.exit_code == 2);
  CHECK(r.err.message == dir.file("bad.csv") + ":3: label 3 out of range for 3 classes (0..2)");
  test::put_file(dir.file("short.csv"), "a,b,c,d\n1,2,3,4\n");
  o.data = {dir.file("short.csv")};
  Run s = train(kIris, o);
  CHECK(s.err.exit_code == 2);
  CHECK(s.err.message.find("has 4 columns but the model's inputs take 5") != std::string::npos);
}

TEST_CASE("kiln train, predict and eval from the command line", "[train]") {
  TempDir dir;
  test::put_file(dir.file("m.model"), kIris);
  std::string kiln = KILN_BINARY, model = dir.file("m.model"), p = dir.file("p.safetensors");
  auto run = [&](const std::string& args) {
    int rc = std::system((kiln + " " + args + " >" + dir.file("out.txt") + " 2>" + dir.file("err.txt")).c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  CHECK(run("train " + model + " --data " + iris_csv() + " --epochs 2 --save " + p) == 0);
  std::string err = test::get_file(dir.file("err.txt"));
  CHECK(err.find("epoch 2/2") != std::string::npos);  // plain progress lines: stderr is a file
  CHECK(err.find("trained 2 epochs (18 steps)") != std::string::npos);
  CHECK(run("train " + model + " --data " + iris_csv() + " --epochs 1 --quiet") == 0);
  CHECK(test::get_file(dir.file("err.txt")).empty());
  CHECK(run("predict " + model + " --params " + p + " --data " + iris_csv()) == 0);
  std::string out = test::get_file(dir.file("out.txt"));
  CHECK(out.rfind("probabilities_0,probabilities_1,probabilities_2,cls\n", 0) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 151);
  CHECK(run("eval " + model + " --params " + p + " --data " + iris_csv()) == 0);
  CHECK(test::get_file(dir.file("out.txt")).find("accuracy ") != std::string::npos);
  CHECK(run("train " + model + " --data " + iris_csv() + " --val-split 1.5") == 2);
  CHECK(test::get_file(dir.file("err.txt")).find("--val-split") != std::string::npos);
  CHECK(run("train " + model) == 2);
  CHECK(run("train " + model + " --data " + dir.file("nope.csv")) == 2);
  CHECK(test::get_file(dir.file("err.txt")).find("nope.csv: cannot read") != std::string::npos);
  CHECK(run("train " + model + " --data " + iris_csv() + " --engine gpu") == 2);
  CHECK(run("train " + model + " --data " + iris_csv() + " --lr -1") == 2);
  CHECK(test::get_file(dir.file("err.txt")) == "kiln: error: option '--lr' must be positive, got -1\n");

  // NPY: one --data per input gives the same run as the CSV
  std::string e;
  auto table = read_csv(iris_csv(), e);
  REQUIRE(table);
  std::vector<double> x, y;
  for (int64_t r = 0; r < table->rows; ++r) {
    for (int64_t c = 0; c < 4; ++c) x.push_back(table->at(r, c));
    y.push_back(table->at(r, 4));
  }
  REQUIRE(write_npy(dir.file("x.npy"), DType::f64, {table->rows, 4}, x, e));
  REQUIRE(write_npy(dir.file("y.npy"), DType::i32, {table->rows}, y, e));
  std::string flags = " --epochs 2 --no-shuffle --log ";
  CHECK(run("train " + model + " --data " + iris_csv() + flags + dir.file("a.jsonl")) == 0);
  CHECK(run("train " + model + " --data x=" + dir.file("x.npy") + " --data species=" + dir.file("y.npy") + flags +
            dir.file("b.jsonl")) == 0);
  auto losses = [&](const std::string& f) {
    std::vector<std::string> out;
    std::istringstream in(test::get_file(f));
    for (std::string line; std::getline(in, line);)
      if (auto m = parse_line(line); m["kind"] == "\"epoch\"") out.push_back(m["loss"]);
    return out;
  };
  CHECK(losses(dir.file("a.jsonl")).size() == 2);
  CHECK(losses(dir.file("a.jsonl")) == losses(dir.file("b.jsonl")));
}

// A free-running run is a smoke test (one step from a shared state is compared precisely in
// tests/backend): every step's loss, and the last validation loss, of the JIT within 10
// times the interpreter's own f32-vs-f64 difference up to that step (at least 10u of the loss).
TEST_CASE("the jit engine trains like the interpreter and is deterministic", "[train]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 3;
  o.val_split = 0.2;
  o.save = dir.file("interp.safetensors");
  Run a = train(kIris, o);
  o.engine.precision = Precision::f64;
  o.save.clear();
  Run a64 = train(kIris, o);
  o.engine.precision = Precision::f32;
  o.engine.kind = "jit";
  o.save = dir.file("jit.safetensors");
  Run b = train(kIris, o), c = train(kIris, o);
  INFO(b.err.message);
  REQUIRE(a.result);
  REQUIRE(a64.result);
  REQUIRE(b.result);
  REQUIRE(c.result);
  REQUIRE(a.result->step_losses.size() == b.result->step_losses.size());
  REQUIRE(a.result->step_losses.size() == a64.result->step_losses.size());
  auto rel = [](double x, double y) { return std::fabs(x - y) / std::max(std::fabs(y), 1e-30); };
  double spread = 0;
  for (size_t k = 0; k < a.result->step_losses.size(); ++k) {
    const double want = a.result->step_losses[k];
    spread = std::max(spread, rel(want, a64.result->step_losses[k]));
    INFO("step " << k << ": JIT " << b.result->step_losses[k] << ", interpreter " << want << ", f64 "
                 << a64.result->step_losses[k]);
    CHECK(rel(b.result->step_losses[k], want) <= 10 * std::max(spread, 0x1p-24));
  }
  const double val = *a.result->epochs.back().val_loss, val64 = *a64.result->epochs.back().val_loss;
  spread = std::max(spread, rel(val, val64));
  CHECK(rel(*b.result->epochs.back().val_loss, val) <= 10 * std::max(spread, 0x1p-24));
  CHECK(b.result->step_losses == c.result->step_losses);  // bit-identical reruns

  // a checkpoint written by one engine predicts the same with the other
  SourceFile src("test.model", kIris);
  PredictOptions po;
  po.params = dir.file("jit.safetensors");
  po.data = {iris_csv()};
  RunError err;
  Diagnostics d1(&src), d2(&src);
  auto pi = predict_source(src, {}, po, d1, err);
  po.engine.kind = "jit";
  auto pj = predict_source(src, {}, po, d2, err);
  REQUIRE(pi);
  REQUIRE(pj);
  REQUIRE(pi->table.size() == pj->table.size());
  for (size_t k = 0; k < pi->table.size(); ++k) CHECK(pj->table[k] == Approx(pi->table[k]).margin(1e-6));
}
