// The metrics log through the binary ("[trainlog]"): a log in use by another process is
// refused before it is touched, and a log that cannot be written (a file-size limit, as a
// full disk) is a warning: training and the --save checkpoint go on.
#include "json_value.hpp"
#include "runtime/safetensors.hpp"
#include "support.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sstream>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kIris = {"train", "examples/iris.model", "--data", "examples/data/iris.csv",
                                        "--engine", "interp"};

std::vector<std::string> iris(std::vector<std::string> more) {
  std::vector<std::string> a = kIris;
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("a log in use by another process is refused, and left as it was", "[trainlog]") {
  TempDir tmp;
  std::string log = (tmp.path / "m.jsonl").string();
  // This process holds the lock, as a kiln writing the log would.
  write_file(log, "{\"kind\":\"step\"}\n");
  int fd = ::open(log.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  REQUIRE(::fcntl(fd, F_SETLK, &lk) == 0);
  RunResult r = run_kiln(iris({"--epochs", "1", "--log", log}));
  ::close(fd);
  CHECK(r.exit_code == 2);
  CHECK(r.err == fmt::format("kiln: error: {}: in use by another kiln process (pid {}); give each run its own --log\n",
                             log, ::getpid()));
  CHECK(read_file(log) == "{\"kind\":\"step\"}\n");  // not truncated
  RunResult free = run_kiln(iris({"--epochs", "1", "--log", log, "--quiet"}));  // the lock is gone
  CHECK(free.exit_code == 0);
  CHECK(read_file(log).find("\"kind\":\"epoch\"") != std::string::npos);

  // Two kiln processes: the second is refused while the first goes on writing whole lines.
  Child first;
  spawn_kiln(first, iris({"--epochs", "1000000", "--log", log, "--log-every", "1", "--quiet"}), tmp.path);
  REQUIRE(wait_until([&] { return read_file(log).find("\"kind\":\"step\"") != std::string::npos; }));
  RunResult second = run_kiln(iris({"--epochs", "1", "--log", log}));
  CHECK(second.exit_code == 2);
  CHECK(second.err ==
        fmt::format("kiln: error: {}: in use by another kiln process (pid {}); give each run its own --log\n", log,
                    first.pid));
  ::kill(first.pid, SIGINT);
  RunResult one = wait_child(first);
  CHECK(one.exit_code == 130);
  auto lines = lines_of(read_file(log));
  REQUIRE(!lines.empty());
  CHECK(parse_json(lines.front()).at("step").num() == 1);  // the first run's log from its start
  for (auto& l : lines) parse_json(l);
  CHECK(parse_json(lines.back()).at("kind").text == "interrupted");
}

TEST_CASE("a log that cannot be written warns once, training and the checkpoint go on", "[trainlog]") {
  TempDir tmp;
  std::string log = (tmp.path / "m.jsonl").string(), ck = (tmp.path / "c.safetensors").string(),
              ref = (tmp.path / "ref.safetensors").string();
  // A file-size limit of 16 blocks (8 KiB with dash's 512-byte blocks, 16 KiB with bash's):
  // the log (a line per step: 450 lines, about 30 KB) outgrows it, the checkpoint (1.6 KB),
  // stdout and stderr do not. Writing past it fails with EFBIG, as on a full disk.
  std::string cmd = "ulimit -f 16 && exec " + sh_quote(KILN_BINARY);
  for (auto& a : iris({"--epochs", "3", "--batch", "1", "--no-monitor", "--log", log, "--log-every", "1", "--save", ck}))
    cmd += " " + sh_quote(a);
  RunResult r = run_shell(cmd);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.signal == 0);  // kiln ignores SIGXFSZ
  std::string warning =
      fmt::format("kiln: warning: {}: cannot write: File too large; the metrics log stops here (training goes on)\n", log);
  CHECK(count(r.err, warning) == 1);
  CHECK(r.err.find("trained 3 epochs (450 steps)") != std::string::npos);
  CHECK(r.err.find("saved " + ck) != std::string::npos);
  // The log keeps its complete lines only; the checkpoint is that of a run without a log.
  std::string text = read_file(log);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK(text.size() <= 16 * 1024);
  auto lines = lines_of(text);
  CHECK(lines.size() < 450);
  for (auto& l : lines) parse_json(l);
  REQUIRE(run_kiln(iris({"--epochs", "3", "--batch", "1", "--no-monitor", "--save", ref, "--quiet"})).exit_code == 0);
  CHECK(read_file(ck) == read_file(ref));
}
