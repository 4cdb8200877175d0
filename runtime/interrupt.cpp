// The SIGINT/SIGTERM handlers of `kiln train` (runtime/interrupt.hpp).
#include "runtime/interrupt.hpp"
#include <unistd.h>

namespace kiln {
namespace {

Interrupt g_interrupt;

template <size_t N>
void say(const char (&text)[N]) {
  [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, text, N - 1);
}

// Only async-signal-safe calls: lock-free atomics, write and _exit.
extern "C" void on_signal(int sig) {
  if (g_interrupt.deferred.load() == 0) {
    say("kiln: interrupted before training started; nothing saved\n");
    ::_exit(128 + sig);
  }
  if (g_interrupt.signal.exchange(sig) != 0) {
    say("kiln: interrupted again: exiting at once\n");
    ::_exit(128 + sig);
  }
}

}  // namespace

Interrupt& install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // system calls in flight go on; the loop reads the flag
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  ::sigaction(SIGXFSZ, &ign, nullptr);
  return g_interrupt;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

}  // namespace kiln
