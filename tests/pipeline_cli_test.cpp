// One pipeline through the binary ("[pipeline]"): `kiln dump --stage=llvm` with train's
// flags prints exactly the module the JIT loads for `kiln train` with the same flags, and a
// stage that fails says why, the same for train and dump.
#include "support.hpp"
#include <catch2/catch.hpp>

using namespace kiln::test;

namespace {

// The LLVM IR of the modules `kiln train ARGS...` loads into the JIT (the engine's test
// hook KILN_JIT_MODULE_FILE, runtime/engine_jit.cpp): one epoch, no validation split, so
// the training step's module alone.
std::string trained_module(const std::vector<std::string>& args) {
  TempDir tmp;
  auto file = tmp.path / "module.ll";
  std::string cmd = "KILN_JIT_MODULE_FILE=" + sh_quote(file.string()) + " " + sh_quote(KILN_BINARY) + " train";
  for (auto& a : args) cmd += " " + sh_quote(a);
  RunResult r = run_shell(cmd + " --quiet --engine jit");
  INFO(cmd << "\n" << r.err);
  CHECK(r.signal == 0);
  REQUIRE(std::filesystem::exists(file));
  return read_file(file);
}

std::string dumped_module(std::vector<std::string> args) {
  args.insert(args.begin(), "dump");
  args.push_back("--stage=llvm");
  RunResult r = run_kiln(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("dump --stage=llvm with train's flags prints the module the JIT loads for kiln train", "[pipeline]") {
  struct Case {
    std::string model, data;
    std::vector<std::string> flags;  // given to both (train's default has the monitors: dump then gets --monitors)
  };
  const std::string iris = "examples/iris.model", stack = "examples/broken/sigmoid_stack.model";
  const std::vector<Case> cases = {
      {iris, "examples/data/iris.csv", {}},
      {iris, "examples/data/iris.csv", {"--lr", "0.05", "--batch", "8"}},
      {"examples/diabetes.model", "examples/data/diabetes.csv", {"--no-monitor", "--epochs", "2", "--seed", "3"}},
      {stack, "examples/data/breast_cancer.csv", {"-Wno-unstable-log"}},
      {stack, "examples/data/breast_cancer.csv", {"--no-rewrite", "-Wno-unstable-log", "--no-monitor"}},
  };
  std::vector<std::string> trained;
  for (const Case& c : cases) {
    std::vector<std::string> train = {c.model, "--data", c.data}, dump = {c.model};
    for (auto& f : c.flags) train.push_back(f), dump.push_back(f);
    if (std::find(c.flags.begin(), c.flags.end(), "--epochs") == c.flags.end()) train.insert(train.end(), {"--epochs", "1"});
    bool monitors = std::find(c.flags.begin(), c.flags.end(), "--no-monitor") == c.flags.end();
    if (monitors) dump.push_back("--monitors");
    std::string joined;
    for (auto& f : c.flags) joined += f + " ";
    INFO(c.model << " " << joined);
    trained.push_back(trained_module(train));
    CHECK(trained.back().find("define void @kiln0_step(") != std::string::npos);
    CHECK(dumped_module(dump) == trained.back());
  }
  // Each flag changes the module, so the comparisons above could fail: --lr and --batch,
  // the monitors, the rewrite.
  CHECK(trained[1] != trained[0]);
  CHECK(dumped_module({"examples/diabetes.model", "--monitors"}) != trained[2]);
  CHECK(trained[4] != trained[3]);
}

TEST_CASE("a model train cannot train says why, as dump does (no silent exit)", "[pipeline]") {
  // no-trainable's loss depends on a const alone. With its check turned off, the optimizer
  // has no param to update: once exit 1 with nothing printed, with or without the data.
  const std::string m = "examples/broken/no-trainable.model";
  const std::string want =
      m + ":8:1: error: nothing to train: the model has no param for the optimizer to update [train]\n"
          "    8 | train { minimize loss; optimizer = sgd(lr = 0.1) }\n"
          "      | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
          "note: declare the weights that should learn with 'param' (a 'const' is never updated)\n"
          "1 error generated.\n";
  // The model is compiled before the data is read: its error comes first.
  for (const std::string& data : {std::string("no/such/data.csv"), std::string("examples/data/diabetes.csv")}) {
    RunResult train = run_kiln({"train", m, "-Wno-no-trainable", "--data", data, "--no-color"});
    CHECK(train.exit_code == 1);
    CHECK(train.err == want);
  }
  RunResult dump = run_kiln({"dump", m, "-Wno-no-trainable", "--stage=grad", "--no-color"});
  CHECK(dump.exit_code == 1);
  CHECK(dump.out == "");
  CHECK(dump.err == want);
  // check stops before the optimizer: the check it turned off was the one to say so.
  CHECK(run_kiln({"check", m, "-Wno-no-trainable"}).exit_code == 0);
  // With the check on, it is the check's error, before anything else.
  RunResult on = run_kiln({"train", m, "--data", "no/such/data.csv", "--no-color"});
  CHECK(on.exit_code == 1);
  CHECK(on.err.find("[no-trainable]") != std::string::npos);
  CHECK(on.err.find("[train]") == std::string::npos);

  // A model without a train block: train's error, and dump's from stage grad on.
  TempDir tmp;
  auto plain = (tmp.path / "plain.model").string();
  write_file(plain, "input x : f32[batch, 4]\nparam w : f32[4, 1] = zeros\noutput y = x @ w\n");
  const std::string none = plain + ": error: the model has no train block with 'minimize LOSS': nothing to train [train]\n"
                                   "1 error generated.\n";
  RunResult t = run_kiln({"train", plain, "--data", "examples/data/iris.csv", "--no-color"});
  CHECK(t.exit_code == 1);
  CHECK(t.err == none);
  for (const char* stage : {"--stage=grad", "--stage=llvm"}) {
    RunResult d = run_kiln({"dump", plain, stage, "--no-color"});
    CHECK(d.exit_code == 1);
    CHECK(d.err == none);
  }
  CHECK(run_kiln({"dump", plain, "--stage=checked"}).exit_code == 0);
}

TEST_CASE("dump takes every flag that changes compilation, and shows it", "[pipeline]") {
  const std::string m = "examples/iris.model";
  RunResult ir = run_kiln({"dump", m, "--stage=ir", "--lr", "0.05", "--epochs", "7", "--seed", "3", "--batch", "8"});
  REQUIRE(ir.exit_code == 0);
  CHECK(ir.out.find("batch=8") != std::string::npos);
  CHECK(ir.out.find("train epochs=7 seed=3") != std::string::npos);
  CHECK(ir.out.find("sgd(lr=0.05,") != std::string::npos);
  // check sees the overrides as train does: a learning rate far above sgd's range.
  RunResult lr = run_kiln({"check", m, "--lr", "50", "--no-color"});
  CHECK(lr.exit_code == 0);
  CHECK(lr.err.find("learning rate 50 is above the usual range") != std::string::npos);
  CHECK(run_kiln({"check", m, "--lr", "50", "-Werror"}).exit_code == 1);
  // --no-monitor is dump's default, --monitors train's: not both.
  CHECK(run_kiln({"dump", m, "--stage=opt", "--no-monitor"}).out == run_kiln({"dump", m, "--stage=opt"}).out);
  RunResult both = run_kiln({"dump", m, "--stage=opt", "--monitors", "--no-monitor"});
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("contradict") != std::string::npos);
  // checked: the rewrites of the checks' stage, before autodiff.
  RunResult checked = run_kiln({"dump", "examples/broken/sigmoid_stack.model", "--stage=checked", "-Wno-unstable-log"});
  REQUIRE(checked.exit_code == 0);
  CHECK(checked.out.rfind("# stage checked: ", 0) == 0);
  CHECK(checked.out.find("bce_with_logits") != std::string::npos);
  CHECK(checked.err.find("[unstable-log]") == std::string::npos);  // (its note turned off)
}
