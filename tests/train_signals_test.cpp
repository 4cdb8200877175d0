// Ctrl-C and SIGTERM through the binary ("[signals]"): real signals sent to a training kiln
// stop it at a step boundary with exit 130/143, a message, a checkpoint marked interrupted
// and a last log line; resuming it matches an uninterrupted run bit for bit; before training
// and on a second signal the process exits at once (the handlers in a forked child).
#include "json_value.hpp"
#include "runtime/interrupt.hpp"
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

// Starts a long run (a million epochs) and waits until its log shows a step.
void start_long_run(Child& c, const fs::path& dir, const std::string& log, std::vector<std::string> more = {}) {
  std::vector<std::string> a = iris({"--epochs", "1000000", "--log", log, "--log-every", "1"});
  a.insert(a.end(), more.begin(), more.end());
  spawn_kiln(c, a, dir);
  REQUIRE(wait_until([&] { return read_file(log).find("\"kind\":\"step\"") != std::string::npos; }));
}

// The log's lines all parse (no half line, no interleaving) and the last is the
// "interrupted" line with that signal; returns it.
kiln::Json last_log_line(const std::string& log, const std::string& signal) {
  auto lines = lines_of(read_file(log));
  REQUIRE(lines.size() > 1);
  for (auto& l : lines) parse_json(l);
  kiln::Json last = parse_json(lines.back());
  CHECK(last.at("kind").text == "interrupted");
  CHECK(last.at("signal").text == signal);
  return last;
}

// "epoch 3, step 5 of 9" or "epoch 2": the position of a checkpoint, as the message says it.
std::string where(int64_t epochs_done, int64_t steps_into_epoch) {
  return steps_into_epoch > 0 ? fmt::format("epoch {}, step {} of 9", epochs_done + 1, steps_into_epoch)
                              : fmt::format("epoch {}", epochs_done);
}

// A child process that installs kiln's handlers, lets `body` raise signals, and exits 0
// when the handlers return (nothing exited at once). Its stderr is captured.
RunResult in_child(const fs::path& dir, void (*body)(kiln::Interrupt&)) {
  fs::path err = dir / "handler.err";
  std::string err_s = err.string();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, 2) < 0) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    body(kiln::install_interrupt_handlers());
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.err = read_file(err);
  return r;
}

}  // namespace

TEST_CASE("SIGINT stops training at a step, saves it marked interrupted, and --load resumes it exactly", "[signals]") {
  TempDir tmp;
  std::string ck = (tmp.path / "c.safetensors").string(), log = (tmp.path / "m.jsonl").string();
  Child c;
  start_long_run(c, tmp.path, log, {"--save", ck});
  ::kill(c.pid, SIGINT);
  RunResult r = wait_child(c);
  INFO(r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0));
  CHECK(r.exit_code == 130);
  CHECK(r.signal == 0);

  std::string err;
  auto f = kiln::read_safetensors(ck, err);
  INFO(err);
  REQUIRE(f);
  CHECK(f->metadata.at("kiln_stop") == "interrupted");
  int64_t epochs = std::stoll(f->metadata.at("kiln_epochs_done")),
          steps = std::stoll(f->metadata.at("kiln_steps_into_epoch"));
  CHECK(steps < 9);
  kiln::Json last = last_log_line(log, "SIGINT");
  CHECK(last.at("epochs_done").num() == double(epochs));
  CHECK(last.at("steps_into_epoch").num() == double(steps));
  CHECK(last.at("step").num() == double(epochs * 9 + steps));
  auto err_lines = lines_of(r.err);
  REQUIRE(!err_lines.empty());
  CHECK(err_lines.back() ==
        fmt::format("kiln: interrupted (SIGINT) after {}; saved {} (--load it to continue)", where(epochs, steps), ck));

  // Resumed to two epochs past the interruption: the same file as one uninterrupted run.
  std::string total = std::to_string(epochs + 2), resumed = (tmp.path / "resumed.safetensors").string(),
              straight = (tmp.path / "straight.safetensors").string();
  RunResult a = run_kiln(iris({"--epochs", total, "--load", ck, "--save", resumed}));
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(a.err.find("resuming from " + ck + " after " + where(epochs, steps)) != std::string::npos);
  REQUIRE(run_kiln(iris({"--epochs", total, "--save", straight, "--quiet"})).exit_code == 0);
  CHECK(read_file(resumed) == read_file(straight));
}

TEST_CASE("SIGTERM without --save: exit 143, the log ended, nothing saved", "[signals]") {
  TempDir tmp;
  std::string log = (tmp.path / "m.jsonl").string();
  Child c;
  start_long_run(c, tmp.path, log, {"--quiet"});
  ::kill(c.pid, SIGTERM);
  RunResult r = wait_child(c);
  CHECK(r.exit_code == 143);
  kiln::Json last = last_log_line(log, "SIGTERM");
  int64_t epochs = int64_t(last.at("epochs_done").num()), steps = int64_t(last.at("steps_into_epoch").num());
  // --quiet: the one line that says what happened, nothing else
  CHECK(r.err == fmt::format("kiln: interrupted (SIGTERM) after {}; nothing saved (no --save)\n", where(epochs, steps)));
  CHECK(r.out == "");
}

TEST_CASE("a signal before training starts exits at once, nothing written", "[signals]") {
  TempDir tmp;
  // The model comes from stdin, a pipe nobody writes to: kiln waits for it with its
  // handlers installed (/proc/PID/status shows them), before any compilation.
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  std::string ck = (tmp.path / "c.safetensors").string(), log = (tmp.path / "m.jsonl").string();
  Child c;
  std::vector<std::string> a = {"train", "-", "--data", "examples/data/iris.csv", "--save", ck, "--log", log};
  spawn_kiln(c, a, tmp.path, "child", fds[0]);
  ::close(fds[0]);
  REQUIRE(wait_until(
      [&] { return runs_kiln(c.pid) && catches_signal(c.pid, SIGINT) && catches_signal(c.pid, SIGTERM); }));
  ::kill(c.pid, SIGINT);
  RunResult r = wait_child(c);
  ::close(fds[1]);
  CHECK(r.exit_code == 130);
  CHECK(r.err == "kiln: interrupted before training started; nothing saved\n");
  CHECK(!fs::exists(ck));
  CHECK(!fs::exists(log));
}

TEST_CASE("the handlers: the first signal is a request, a second one exits at once", "[signals]") {
  TempDir tmp;
  // training: SIGINT sets the flag and returns; a second SIGINT (or SIGTERM) exits at once
  RunResult twice = in_child(tmp.path, [](kiln::Interrupt& in) {
    in.deferred = 1;
    ::raise(SIGINT);
    if (in.signal != SIGINT) ::_exit(1);
    ::raise(SIGINT);
  });
  CHECK(twice.exit_code == 130);
  CHECK(twice.err == "kiln: interrupted again: exiting at once\n");
  RunResult term = in_child(tmp.path, [](kiln::Interrupt& in) {
    in.deferred = 1;
    ::raise(SIGTERM);
    if (in.signal != SIGTERM) ::_exit(1);
    ::raise(SIGINT);
  });
  CHECK(term.exit_code == 130);
  RunResult once = in_child(tmp.path, [](kiln::Interrupt& in) {
    in.deferred = 1;
    ::raise(SIGTERM);
    if (in.signal != SIGTERM) ::_exit(1);
  });
  CHECK(once.exit_code == 0);
  CHECK(once.err == "");
  // before training (deferred 0): at once, 128 + the signal
  RunResult early = in_child(tmp.path, [](kiln::Interrupt&) { ::raise(SIGTERM); });
  CHECK(early.exit_code == 143);
  CHECK(early.err == "kiln: interrupted before training started; nothing saved\n");
  // SIGXFSZ is ignored: a file-size limit is a write error, not death
  RunResult xfsz = in_child(tmp.path, [](kiln::Interrupt&) { ::raise(SIGXFSZ); });
  CHECK(xfsz.signal == 0);
  CHECK(xfsz.exit_code == 0);
}
