// The driver's contract: exit codes, one-line errors for unusable invocations and inputs,
// help and version, and dumps that Graphviz and a JSON parser accept.
#include "support.hpp"
#include <catch2/catch.hpp>
#include <sys/stat.h>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {
// Exit 2 with exactly one line `kiln: error: ...` on stderr mentioning `needle`, nothing on stdout.
void check_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  std::string joined;
  for (auto& a : args) joined += a + " ";
  INFO("kiln " << joined);
  RunResult r = run_kiln(args);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.signal == 0);
  CHECK(r.out == "");
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.rfind("kiln: error: ", 0) == 0);
  CHECK(r.err.find(needle) != std::string::npos);
}
}  // namespace

TEST_CASE("usage errors are one line and exit 2", "[cli]") {
  check_usage_error({}, "no command");
  check_usage_error({"frobnicate"}, "unknown command 'frobnicate'");
  check_usage_error({"--frob"}, "unknown option '--frob'");
  check_usage_error({"check"}, "needs a FILE");
  check_usage_error({"check", "examples/iris.model", "--frob"}, "unknown option '--frob'");
  check_usage_error({"check", "examples/iris.model", "-x"}, "unknown option '-x'");
  check_usage_error({"check", "examples/iris.model", "examples/digits.model"}, "takes one FILE");
  check_usage_error({"check", "examples/iris.model", "--batch"}, "needs a value");
  check_usage_error({"check", "examples/iris.model", "--batch=0"}, "--batch");
  check_usage_error({"check", "examples/iris.model", "--batch=12x"}, "--batch");
  check_usage_error({"check", "examples/iris.model", "--no-color=yes"}, "takes no value");
  check_usage_error({"check", "examples/iris.model", "--stage=ir"}, "unknown option '--stage'");
  check_usage_error({"dump", "examples/iris.model", "--stage=bogus"}, "unknown stage 'bogus'");
  check_usage_error({"dump", "examples/iris.model", "--format=svg"}, "unknown format 'svg'");
  check_usage_error({"dump", "examples/iris.model", "--stage=ast", "--format=dot"}, "text only");
  check_usage_error({"dump", "examples/iris.model", "--stage=fused", "--format=dot"}, "text or json");
  for (std::string stage : {"llvm", "asm"})
    check_usage_error({"dump", "examples/iris.model", "--stage=" + stage, "--format=json"}, "text only");
  check_usage_error({"train", "examples/iris.model"}, "needs --data");
}

TEST_CASE("unusable input files are one line and exit 2", "[cli]") {
  TempDir tmp;
  check_usage_error({"check", "no/such/file.model"}, "cannot open 'no/such/file.model'");
  check_usage_error({"dump", "no/such/file.model", "--stage=ir"}, "No such file");
  check_usage_error({"check", "examples"}, "is a directory");

  auto empty = (tmp.path / "empty.model").string();
  write_file(empty, "");
  check_usage_error({"check", empty}, "is empty");
  auto blank = (tmp.path / "blank.model").string();
  write_file(blank, "  \n\n\t\n");
  check_usage_error({"check", blank}, "is empty");

  auto binary = (tmp.path / "garbage.model").string();
  std::string bytes = "input x : f32[4]\n";
  std::mt19937 rng(1234);
  for (int i = 0; i < 512; ++i) bytes += static_cast<char>(rng() & 0xff);
  bytes[40] = '\0';
  write_file(binary, bytes);
  check_usage_error({"check", binary}, "binary file");
  check_usage_error({"dump", binary, "--stage=ast"}, "binary file");

  auto latin1 = (tmp.path / "latin1.model").string();
  write_file(latin1, "# caf\xe9\ninput x : f32[4]\n");
  check_usage_error({"check", latin1}, "not UTF-8");

  if (::geteuid() == 0) {
    WARN("running as root: the unreadable-file case cannot be tested (root reads everything)");
  } else {
    auto secret = (tmp.path / "secret.model").string();
    write_file(secret, "input x : f32[4]\n");
    ::chmod(secret.c_str(), 0);
    check_usage_error({"check", secret}, "cannot read");
  }
}

TEST_CASE("valid UTF-8 beyond ASCII is accepted in comments", "[cli]") {
  TempDir tmp;
  auto path = (tmp.path / "utf8.model").string();
  write_file(path, "# caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x94\xa5\n" + read_file(fs::path(source_dir()) / "examples/iris.model"));
  RunResult r = run_kiln({"check", path});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("help and version", "[cli]") {
  RunResult h = run_kiln({"--help"});
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("usage: kiln") != std::string::npos);
  CHECK(h.out.find("check") != std::string::npos);
  CHECK(h.out.find("dump") != std::string::npos);
  CHECK(h.err == "");
  CHECK(run_kiln({"-h"}).out == h.out);

  for (std::string cmd : {"check", "dump"}) {
    RunResult c = run_kiln({cmd, "--help"});
    INFO(cmd);
    CHECK(c.exit_code == 0);
    CHECK(c.out.find("usage: kiln " + cmd) != std::string::npos);
    CHECK(c.out.find("--batch") != std::string::npos);
    CHECK(run_kiln({"--help", cmd}).out == c.out);
  }
  CHECK(run_kiln({"dump", "--help"}).out.find("--stage") != std::string::npos);

  RunResult v = run_kiln({"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out.rfind(std::string("kiln ") + KILN_VERSION + "\n", 0) == 0);
  CHECK(v.out.find("\nLLVM 19.") != std::string::npos);
  auto cpu = v.out.find("host CPU: ");
  REQUIRE(cpu != std::string::npos);
  CHECK(v.out.size() > cpu + 11);  // a non-empty CPU name
}

TEST_CASE("check: exit 0 clean, 1 with a located error, dump errors go to stderr", "[cli]") {
  RunResult ok = run_kiln({"check", "examples/breast_cancer.model"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "");
  CHECK(ok.err == "");

  RunResult bad = run_kiln({"check", "tests/golden/errors/shape_matmul.model", "--no-color"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.out == "");
  CHECK(bad.err.rfind("tests/golden/errors/shape_matmul.model:", 0) == 0);
  CHECK(bad.err.find("\033[") == std::string::npos);

  RunResult dump = run_kiln({"dump", "tests/golden/errors/undefined.model", "--stage=ir"});
  CHECK(dump.exit_code == 1);
  CHECK(dump.out == "");
  CHECK(dump.err.find("error:") != std::string::npos);
  CHECK(dump.err.find("\033[") == std::string::npos);  // stderr is not a terminal here
}

TEST_CASE("stdin and --batch", "[cli]") {
  RunResult from_stdin = run_kiln({"dump", "-", "--stage=ir"}, source_dir() + "/examples/iris.model");
  RunResult from_file = run_kiln({"dump", "examples/iris.model", "--stage=ir"});
  CHECK(from_stdin.exit_code == 0);
  CHECK(from_file.exit_code == 0);
  CHECK(!from_file.out.empty());

  RunResult bad = run_kiln({"check", "-", "--no-color"}, source_dir() + "/tests/golden/errors/undefined.model");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.rfind("<stdin>:", 0) == 0);

  // iris declares `dim batch = 16`; --batch overrides it.
  RunResult b = run_kiln({"dump", "examples/iris.model", "--stage=ir", "--batch", "128"});
  CHECK(b.exit_code == 0);
  CHECK(b.out.find("[128,4]") != std::string::npos);
  CHECK(b.out.find("[16,4]") == std::string::npos);
  CHECK(from_file.out.find("[16,4]") != std::string::npos);
}

TEST_CASE("dot dumps render with Graphviz", "[cli]") {
  if (!tool_or_skip("dot", "graphviz")) return;
  TempDir tmp;
  auto models = models_in("examples");
  REQUIRE(!models.empty());
  for (auto& m : models) {
    for (std::string stage : {"ir", "grad", "opt"}) {
      INFO(m << " --stage=" << stage);
      auto dot_file = (tmp.path / "g.dot").string();
      RunResult d = run_kiln({"dump", m, "--stage=" + stage, "--format=dot"});
      REQUIRE(d.exit_code == 0);
      write_file(dot_file, d.out);
      RunResult svg = run_shell("dot -Tsvg " + sh_quote(dot_file));
      INFO(svg.err);
      CHECK(svg.exit_code == 0);
      CHECK(svg.out.find("<svg") != std::string::npos);
      CHECK(svg.err.find("Warning") == std::string::npos);
    }
  }
}

TEST_CASE("json dumps are valid JSON", "[cli]") {
  if (!tool_or_skip("python3", "python3")) return;
  TempDir tmp;
  for (auto& m : models_in("examples")) {
    for (std::string stage : {"ir", "grad", "opt"}) {
      INFO(m << " --stage=" << stage);
      auto json_file = (tmp.path / "g.json").string();
      RunResult d = run_kiln({"dump", m, "--stage=" + stage, "--format=json"});
      REQUIRE(d.exit_code == 0);
      write_file(json_file, d.out);
      RunResult v = run_shell("python3 -m json.tool " + sh_quote(json_file));
      INFO(v.err);
      CHECK(v.exit_code == 0);
    }
  }
}

TEST_CASE("grad and opt dumps report node counts, opt is smaller", "[cli]") {
  for (auto& m : models_in("examples")) {
    INFO(m);
    RunResult ir = run_kiln({"dump", m, "--stage=ir"});
    RunResult grad = run_kiln({"dump", m, "--stage=grad"});
    RunResult opt = run_kiln({"dump", m, "--stage=opt"});
    REQUIRE(grad.exit_code == 0);
    REQUIRE(opt.exit_code == 0);
    unsigned long g_nodes = 0, g_ir = 0, o_nodes = 0, o_grad = 0;
    REQUIRE(std::sscanf(grad.out.c_str(), "# stage grad: %lu nodes (ir: %lu)", &g_nodes, &g_ir) == 2);
    REQUIRE(std::sscanf(opt.out.c_str(), "# stage opt: %lu nodes (grad: %lu)", &o_nodes, &o_grad) == 2);
    CHECK(g_nodes > g_ir);
    CHECK(o_grad == g_nodes);
    CHECK(o_nodes < o_grad);
    CHECK(ir.out.rfind("# stage", 0) != 0);  // the ir stage prints the canonical text alone
  }
}

TEST_CASE("llvm and asm dumps show the compiled training step", "[cli]") {
  RunResult llvm = run_kiln({"dump", "examples/iris.model", "--stage=llvm"});
  REQUIRE(llvm.exit_code == 0);
  CHECK(llvm.out.find("target triple") != std::string::npos);
  CHECK(llvm.out.find("define ") != std::string::npos);
  RunResult asm_ = run_kiln({"dump", "examples/iris.model", "--stage=asm"});
  REQUIRE(asm_.exit_code == 0);
  CHECK(asm_.out.find(".text") != std::string::npos);
  CHECK(asm_.out.find("ret") != std::string::npos);
  RunResult fused = run_kiln({"dump", "examples/iris.model", "--stage=fused"});
  REQUIRE(fused.exit_code == 0);
  CHECK(fused.out.find("kernel 0 matmul") != std::string::npos);
  CHECK(fused.out.find("arena:") != std::string::npos);
}

TEST_CASE("dump --monitors shows the step kiln train runs: the monitors' sums fused into the update loops", "[cli]") {
  auto kernels = [](const std::string& out) { return count(out, "\nkernel "); };
  auto accumulators = [](const std::string& out) { return count(out, " accumulate "); };
  RunResult plain = run_kiln({"dump", "examples/diabetes.model", "--stage=fused"});
  RunResult mon = run_kiln({"dump", "examples/diabetes.model", "--stage=fused", "--monitors"});
  REQUIRE(plain.exit_code == 0);
  REQUIRE(mon.exit_code == 0);
  // diabetes: two small params, three sums each (carried gradient, weight, carried update),
  // in the update loops, which also write the carried gradient and update in place
  // (passes/monitor_ir.hpp, "Lagged sums").
  CHECK(mon.out.find("# monitors: 6 quantities") != std::string::npos);
  // After the step, the monitor entry: the two loops of lagged sums alone.
  const size_t entry = mon.out.find("\n# the monitor entry: ");
  REQUIRE(entry != std::string::npos);
  const std::string lag = mon.out.substr(entry);
  mon.out.resize(entry);
  CHECK(kernels(lag) == 2);
  CHECK(accumulators(lag) == 4);
  CHECK(plain.out.find("# the monitor entry") == std::string::npos);
  CHECK(kernels(mon.out) == kernels(plain.out));
  CHECK(accumulators(mon.out) == accumulators(plain.out) + 6);
  CHECK(mon.out.find("writes: state __monitor__.update.w (") != std::string::npos);
  CHECK(mon.out.find("writes: state __monitor__.grad.w (") != std::string::npos);
  CHECK(mon.out.find(" commit") == std::string::npos);
  RunResult llvm = run_kiln({"dump", "examples/diabetes.model", "--stage=llvm", "--monitors"});
  CHECK(llvm.exit_code == 0);
  check_usage_error({"dump", "examples/diabetes.model", "--stage=grad", "--monitors"}, "--monitors applies to");
}

TEST_CASE("colour only on a terminal, and never with --no-color or NO_COLOR", "[cli]") {
  if (!tool_or_skip("script", "bsdutils")) return;
  // `script` runs kiln on a pseudo-terminal, so its stderr is a terminal.
  auto on_tty = [](const std::string& env, const std::string& flags) {
    std::string cmd = env + sh_quote(KILN_BINARY) + " check " + flags + " tests/golden/errors/undefined.model";
    return run_shell("script -qec " + sh_quote(cmd) + " /dev/null");
  };
  RunResult colour = on_tty("", "");
  CHECK(colour.exit_code == 1);
  CHECK(colour.out.find("\033[") != std::string::npos);
  CHECK(colour.out.find("undefined.model:4:17") != std::string::npos);
  RunResult plain = on_tty("", "--no-color");
  CHECK(plain.exit_code == 1);
  CHECK(plain.out.find("undefined.model:4:17") != std::string::npos);
  CHECK(plain.out.find("\033[") == std::string::npos);
  RunResult env = on_tty("NO_COLOR=1 ", "");
  CHECK(env.out.find("undefined.model:4:17") != std::string::npos);
  CHECK(env.out.find("\033[") == std::string::npos);
}
