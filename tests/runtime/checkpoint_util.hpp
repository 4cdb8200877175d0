// Helpers for the checkpoint and resume tests: runs of examples/iris.model on the iris rows
// in-process (train, predict, eval), and reading and editing safetensors files.
#pragma once
#include "runtime/checkpoint.hpp"
#include "tests/runtime/train_util.hpp"
#include "runtime/predict.hpp"
#include "runtime/trainer.hpp"
#include "tests/runtime/test_util.hpp"
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kiln::test {

// examples/iris.model: SGD with Nesterov momentum (a state per param), a step_decay
// schedule (the step counter) and a normalised input; 150 rows in batches of 16 give 9
// steps per epoch.
inline const std::string kModelPath = std::string(KILN_SOURCE_DIR) + "/examples/iris.model";
inline const std::string kFormat0 = data_path("checkpoints/iris_format0.safetensors");

struct Run {
  std::optional<TrainResult> result;
  RunError err;
};

inline Run train(test::RunOptions o) {
  SourceFile src(kModelPath, get_file(kModelPath));
  Diagnostics d(&src);
  if (o.data.empty()) o.data = {data_path("iris_shuffled.csv")};
  Run r;
  r.result = train_source(src, o.compile, o, d, r.err);
  return r;
}

inline RunError predict(const std::string& params, bool outputs) {
  SourceFile src(kModelPath, get_file(kModelPath));
  Diagnostics d(&src);
  PredictOptions o;
  o.params = params;
  o.data = {data_path("iris_shuffled.csv")};
  o.want_outputs = outputs;
  o.require_labels = !outputs;
  RunError err;
  if (predict_source(src, {}, o, d, err)) err = {0, ""};
  return err;
}

inline SafetensorsFile read_st(const std::string& path) {
  std::string err;
  auto f = read_safetensors(path, err);
  INFO(err);
  REQUIRE(f);
  return *f;
}

// A copy of `from` at `to` with `edit` applied to its tensors and metadata.
inline void rewrite(const std::string& from, const std::string& to,
                    const std::function<void(std::vector<NamedTensor>&, std::map<std::string, std::string>&)>& edit) {
  SafetensorsFile f = read_st(from);
  edit(f.tensors, f.metadata);
  std::string err;
  REQUIRE(write_safetensors(to, f.tensors, f.metadata, err));
}

inline NamedTensor& tensor(std::vector<NamedTensor>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return ts.front();
}

}  // namespace kiln::test
