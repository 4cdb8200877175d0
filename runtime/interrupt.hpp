// Ctrl-C (SIGINT) and SIGTERM during `kiln train`: the first asks the training loop to stop
// at its next step boundary (and save); before training starts, or on a second signal, exit at once.
#pragma once
#include <atomic>
#include <csignal>

namespace kiln {

// What the signal handler and the training loop share: lock-free atomics, which a handler
// may use ([support.signal]) and which the loop sees whichever thread took the signal (the
// JIT's workers may).
struct Interrupt {
  std::atomic<int> signal{0};    // the first SIGINT or SIGTERM received; 0 when none
  std::atomic<int> deferred{0};  // 1 while the training loop stops by itself; 0: exit at once
  static_assert(std::atomic<int>::is_always_lock_free);
};

// Installs the process's SIGINT and SIGTERM handlers and returns what they set. While
// `deferred` is 0 (compiling, loading data) a signal exits at once with status 128 + N and
// a line on stderr; while it is 1 the first signal only sets `signal`, a second one exits at
// once. Also ignores SIGXFSZ, so that a file-size limit (ulimit -f) makes a write fail with
// EFBIG, which the writers report, instead of killing the process.
Interrupt& install_interrupt_handlers();

// "SIGINT", "SIGTERM" (else "a signal").
const char* signal_name(int sig);

}  // namespace kiln
