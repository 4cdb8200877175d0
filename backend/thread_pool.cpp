// The thread pool behind --threads: workers spin briefly on the job generation, then
// sleep on it (a Linux futex); parts are claimed with one compare-and-swap each.
#include "backend/thread_pool.hpp"
#include <algorithm>
#include <chrono>
#include <climits>
#include <linux/futex.h>
#include <map>
#include <mutex>
#include <sys/syscall.h>
#include <system_error>
#include <fmt/format.h>
#include <unistd.h>

namespace kiln {

namespace {

// How long an idle worker (or the waiting caller) spins before it sleeps: kernels of a
// training step follow each other within microseconds, and waking a sleeping thread
// costs tens of microseconds; spinning longer would take a shared core from others.
constexpr auto kSpin = std::chrono::microseconds(100);
// kiln_parallel splits work into up to this many parts per thread, so a thread that
// starts late (descheduled, waking up) still finds parts to take.
constexpr int64_t kPartsPerThread = 4;

thread_local ThreadPool* t_current = nullptr;
thread_local bool t_in_part = false;  // a worker, or a caller inside parallel_for

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>& word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

// Spins until pred() or kSpin has passed; true when pred() held.
template <class Pred>
bool spin_until(Pred pred) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() - start > kSpin) return pred();
  }
}

}  // namespace

int ThreadPool::resolve(int threads) {
  if (threads > 0) return threads;
  return std::max(1, int(std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int threads) : threads_(resolve(threads)) {
  const int wanted = threads_;
  try {
    workers_.reserve(size_t(wanted - 1));
    for (int i = 1; i < wanted; ++i) workers_.emplace_back([this] { worker(); });
  } catch (const std::exception& e) {
    // Out of threads (RLIMIT_NPROC, address space for the stacks, kernel limits): run
    // with the workers that started. Results do not depend on the thread count, so this
    // costs speed only; the shortfall is kept for the caller to report.
    threads_ = 1 + int(workers_.size());
    const auto* se = dynamic_cast<const std::system_error*>(&e);
    shortfall_ = fmt::format("could start only {} of {} threads ({}); running on {}", threads_, wanted,
                             se ? se->code().message() : std::string(e.what()), threads_);
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  gen_.fetch_add(1);
  futex_wake(gen_, INT_MAX);
  for (auto& t : workers_) t.join();
}

std::shared_ptr<ThreadPool> ThreadPool::shared(int threads) {
  static std::mutex mu;
  static std::map<int, std::weak_ptr<ThreadPool>> pools;
  threads = resolve(threads);
  std::lock_guard lock(mu);
  auto& w = pools[threads];
  if (auto p = w.lock()) return p;
  auto p = std::make_shared<ThreadPool>(threads);
  w = p;
  if (!p->shortfall().empty() && shortfall_handler()) shortfall_handler()(p->shortfall());
  return p;
}

ThreadPool::ShortfallHandler& ThreadPool::shortfall_handler() {
  static ShortfallHandler handler = nullptr;
  return handler;
}

ThreadPool::Scope::Scope(ThreadPool* pool) : prev_(t_current) { t_current = pool; }
ThreadPool::Scope::~Scope() { t_current = prev_; }
ThreadPool* ThreadPool::current() { return t_current; }

bool ThreadPool::run_parts(uint32_t gen) {
  bool ran = false;
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (uint32_t(c >> 32) != gen) return ran;  // a later job (this one is finished)
    int64_t left = int64_t(c & 0xffffffffu);
    if (left == 0) return ran;
    if (!claim_.compare_exchange_weak(c, c - 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // A part of job `gen` is ours and unfinished, so the job's fields are still its own
    // (they are read only now: a worker late from an earlier job must not see them).
    int64_t parts = parts_.load(std::memory_order_relaxed);
    fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), parts - left);
    ran = true;
    if (done_.fetch_add(1) + 1 == parts && caller_sleeps_.load()) {
      done_seq_.fetch_add(1);
      futex_wake(done_seq_, 1);
    }
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker() {
  t_in_part = true;  // kiln_parallel inside a part runs serially
  uint32_t seen = 0;  // gen_ at construction: a worker that starts late still sees every later job (and stop)
  for (;;) {
    // gen_ is read once per wake-up: stop_ is read after it, so a generation bumped by
    // the destructor is never taken for a job (and slept on).
    uint32_t gen = seen;
    if (!spin_until([&] { return (gen = gen_.load(std::memory_order_acquire)) != seen; })) {
      sleepers_.fetch_add(1);
      while ((gen = gen_.load()) == seen) futex_wait(gen_, seen);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = gen;
    run_parts(gen);
  }
}

void ThreadPool::parallel_for(int64_t parts, PartFn fn, void* ctx) {
  bool expected = false;
  if (threads_ == 1 || parts <= 1 || parts > INT32_MAX || t_in_part ||
      !busy_.compare_exchange_strong(expected, true)) {
    for (int64_t p = 0; p < parts; ++p) fn(ctx, p);
    return;
  }
  t_in_part = true;
  jobs_.fetch_add(1, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  parts_.store(parts, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  uint32_t gen = gen_.load(std::memory_order_relaxed) + 1;
  claim_.store(uint64_t(gen) << 32 | uint64_t(parts), std::memory_order_release);
  gen_.store(gen);  // seq_cst: ordered before the read of sleepers_ (workers: the reverse)
  if (sleepers_.load() > 0) futex_wake(gen_, int(std::min<int64_t>(parts - 1, INT_MAX)));
  run_parts(gen);
  if (!spin_until([&] { return done_.load(std::memory_order_acquire) == parts; })) {
    caller_sleeps_.store(true);
    for (;;) {
      uint32_t seq = done_seq_.load();
      if (done_.load() == parts) break;
      futex_wait(done_seq_, seq);
    }
    caller_sleeps_.store(false);
  }
  t_in_part = false;
  busy_.store(false, std::memory_order_release);
}

}  // namespace kiln

extern "C" void kiln_parallel(void (*fn)(void* const* args, int64_t part, int64_t parts), void* const* args,
                              int64_t max_parts) {
  using kiln::ThreadPool;
  ThreadPool* pool = kiln::t_current;
  if (!pool || pool->threads() == 1 || max_parts <= 1 || kiln::t_in_part) {
    fn(args, 0, 1);
    return;
  }
  int64_t parts = std::min<int64_t>(max_parts, int64_t(pool->threads()) * kiln::kPartsPerThread);
  pool->parallel_for(parts, [&](int64_t part) { fn(args, part, parts); });
}
