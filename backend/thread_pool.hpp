// A small thread pool for the JIT's large kernels: N-1 persistent workers plus the calling
// thread, one parallel_for at a time; and kiln_parallel, the C entry JIT code calls.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kiln {

class ThreadPool {
 public:
  // `threads` in all, the caller included (<= 0: every core the host has).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The threads running the pool, the caller included: fewer than asked for when the
  // system would not start more (then shortfall() says why).
  int threads() const { return threads_; }
  // "" when every thread started, else "could start only 57 of 1024 threads (Resource
  // temporarily unavailable); running on 57".
  const std::string& shortfall() const { return shortfall_; }
  // parallel_for calls that were handed to the workers (not run serially); for tests.
  uint64_t parallel_jobs() const { return jobs_.load(std::memory_order_relaxed); }

  // Runs fn(ctx, part) once for every part in [0, parts) and returns when all have run.
  // Parts are claimed dynamically by the caller and the workers, so which thread runs a
  // part is not fixed: a part's result must not depend on it. Serial (in order, on the
  // caller) when threads() == 1, parts == 1, from inside a part (nested), or while
  // another thread is running a parallel_for on this pool.
  using PartFn = void (*)(void* ctx, int64_t part);
  void parallel_for(int64_t parts, PartFn fn, void* ctx);
  template <class F>
  void parallel_for(int64_t parts, F&& f) {
    parallel_for(parts, [](void* c, int64_t p) { (*static_cast<F*>(c))(p); }, &f);
  }

  // The pool of `threads` threads (<= 0: every core) shared by every engine of the
  // process that asks for that count; kept alive while someone holds it.
  // A new pool that started fewer threads than asked for is reported to the
  // shortfall handler (the driver prints it as a warning; none by default).
  static std::shared_ptr<ThreadPool> shared(int threads);
  using ShortfallHandler = void (*)(const std::string& message);
  static ShortfallHandler& shortfall_handler();
  // Threads of `threads` (<= 0: std::thread::hardware_concurrency, at least 1).
  static int resolve(int threads);

  // The pool kiln_parallel uses on this thread while the scope is alive (nullptr: serial).
  class Scope {
   public:
    explicit Scope(ThreadPool* pool);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ThreadPool* prev_;
  };
  static ThreadPool* current();

 private:
  void worker();
  bool run_parts(uint32_t gen);  // claims and runs parts of job `gen`; false when none is left

  int threads_;
  std::string shortfall_;
  std::vector<std::thread> workers_;
  // The job: its generation (bumped to publish it; futex word for sleeping workers), and
  // a claim word: generation in the high 32 bits, parts not yet claimed in the low 32
  // (part parts - left is claimed by taking left to left - 1).
  std::atomic<uint32_t> gen_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> parts_{0};
  std::atomic<PartFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> done_{0};      // parts finished (futex word low half: see wait_done)
  std::atomic<uint32_t> done_seq_{0};  // bumped by the worker finishing a job the caller sleeps on
  std::atomic<int> sleepers_{0};       // workers blocked on gen_
  std::atomic<bool> caller_sleeps_{false};
  std::atomic<bool> busy_{false};      // a parallel_for is running
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> jobs_{0};
};

}  // namespace kiln

// Called by JIT-compiled kernels that may run in parallel: fn(args, part, parts) for every
// part in [0, parts), where parts <= max_parts is chosen by the current thread's pool
// (ThreadPool::Scope; 1 without one). The kernel must compute the same result for every
// `parts` (each output element by the same instructions whichever part computes it).
extern "C" void kiln_parallel(void (*fn)(void* const* args, int64_t part, int64_t parts), void* const* args,
                              int64_t max_parts);
