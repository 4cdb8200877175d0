// Helpers for tests that run the kiln binary (KILN_BINARY) from the source root
// (KILN_SOURCE_DIR), capturing its exit code, stdout and stderr, and the tools they need;
// or start it in the background to send it signals.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <cstdlib>
#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace kiln::test {

inline std::string source_dir() { return KILN_SOURCE_DIR; }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Single-quotes a word for /bin/sh.
inline std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A scratch directory, removed with everything in it at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kiln-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

// Runs a shell command line from the source root with stdout/stderr captured.
inline RunResult run_shell(const std::string& command_line, const std::string& stdin_path = "/dev/null") {
  TempDir tmp;
  auto out = tmp.path / "out", err = tmp.path / "err";
  std::string cmd = "cd " + sh_quote(source_dir()) + " && " + command_line + " <" + sh_quote(stdin_path) + " >" +
                    sh_quote(out.string()) + " 2>" + sh_quote(err.string());
  int status = std::system(cmd.c_str());
  RunResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  // system() runs sh -c; a signal in the child shows as 128+N from the shell.
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  else if (r.exit_code > 128) r.signal = r.exit_code - 128;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// Runs `kiln ARGS...` from the source root.
inline RunResult run_kiln(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
  std::string cmd = sh_quote(KILN_BINARY);
  for (auto& a : args) cmd += " " + sh_quote(a);
  return run_shell(cmd, stdin_path);
}

// A kiln process in the background, for tests that send it signals: started from the
// source root with stdout and stderr into files; killed (SIGKILL) if still running when destroyed.
struct Child {
  pid_t pid = -1;
  std::filesystem::path out, err;
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// Starts `kiln ARGS...` (fork + execv; the signal mask cleared; stdin `stdin_fd`, else
// /dev/null); its output goes to DIR/NAME.out and DIR/NAME.err.
inline void spawn_kiln(Child& c, const std::vector<std::string>& args, const std::filesystem::path& dir,
                       const std::string& name = "child", int stdin_fd = -1) {
  c.out = dir / (name + ".out");
  c.err = dir / (name + ".err");
  std::vector<std::string> words = {KILN_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::string src = source_dir(), out = c.out.string(), err = c.err.string();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // only async-signal-safe calls from here
    // The test runner's own SIGINT/SIGTERM handlers go (exec would reset them anyway; until
    // then they would show in catches_signal as kiln's).
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY), o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
        e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0 || ::chdir(src.c_str()) != 0 || ::dup2(in, 0) < 0 || ::dup2(o, 1) < 0 ||
        ::dup2(e, 2) < 0)
      ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  c.pid = pid;
}

// Polls `ready` every 10 ms until it holds or `timeout_s` passed (a generous bound for a
// loaded machine, not a timing assertion).
inline bool wait_until(const std::function<bool()>& ready, double timeout_s = 120) {
  for (int k = 0; k < int(timeout_s * 100); ++k) {
    if (ready()) return true;
    ::usleep(10000);
  }
  return ready();
}

// Waits for the child to end (SIGKILL after `timeout_s`): its status and output.
inline RunResult wait_child(Child& c, double timeout_s = 120) {
  RunResult r;
  int status = 0;
  bool done = wait_until([&] { return ::waitpid(c.pid, &status, WNOHANG) == c.pid; }, timeout_s);
  if (!done) {
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, &status, 0);
  }
  c.pid = -1;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = read_file(c.out);
  r.err = read_file(c.err);
  return r;
}

// Whether process `pid` runs the kiln binary yet (after a fork, before exec, it runs the tests).
inline bool runs_kiln(pid_t pid) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe == std::filesystem::canonical(KILN_BINARY, ec);
}

// Whether process `pid` has a handler for `sig` (Linux: the SigCgt mask of /proc/PID/status).
inline bool catches_signal(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigCgt:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

// How many times `what` occurs in s (overlapping occurrences count).
inline size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

// Whether the tool a test needs (`name`, from Debian's `package`) is on PATH. When it is not,
// the test is skipped with a warning, except under CI=true (.ci/run sets it): CI must run
// every test, so there the missing tool fails it (scripts/setup.sh installs them all).
inline bool tool_or_skip(const std::string& name, const std::string& package) {
  if (run_shell("command -v " + name).exit_code == 0) return true;
  const std::string msg = "'" + name + "' is not installed (Debian package " + package + ", which scripts/setup.sh installs)";
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") FAIL(msg + ": under CI=true a test that cannot run fails");
  WARN(msg + ": skipping");
  return false;
}

// The .model files under a folder of the source root (relative paths, sorted).
inline std::vector<std::string> models_in(const std::string& rel_dir, bool recursive = false) {
  std::vector<std::string> out;
  auto root = std::filesystem::path(source_dir());
  auto dir = root / rel_dir;
  if (!std::filesystem::is_directory(dir)) return out;
  auto add = [&](const std::filesystem::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".model")
      out.push_back(std::filesystem::relative(e.path(), root).string());
  };
  if (recursive)
    for (auto& e : std::filesystem::recursive_directory_iterator(dir)) add(e);
  else
    for (auto& e : std::filesystem::directory_iterator(dir)) add(e);
  std::sort(out.begin(), out.end());
  return out;
}

// Every model the suite knows: examples/, examples/broken/ and tests/golden/**.
inline std::vector<std::string> all_models() {
  auto out = models_in("examples");
  for (auto& m : models_in("examples/broken")) out.push_back(m);
  for (auto& m : models_in("tests/golden", true)) out.push_back(m);
  return out;
}

}  // namespace kiln::test
