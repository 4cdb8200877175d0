// The thread pool ("[threads]"): every part runs exactly once for any thread and part
// count, nested and concurrent calls fall back to serial, one thread runs in order on the
// caller, and kiln_parallel's contract (parts within max_parts, one call per part).
#include "backend/thread_pool.hpp"
#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace kiln;

TEST_CASE("every part runs exactly once, for any thread and part count", "[threads]") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (int64_t parts : {0, 1, 2, 3, 7, 64, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(parts));
      pool.parallel_for(parts, [&](int64_t p) { runs[size_t(p)].fetch_add(1); });
      for (int64_t p = 0; p < parts; ++p) {
        INFO("threads " << threads << ", parts " << parts << ", part " << p);
        CHECK(runs[size_t(p)].load() == 1);
      }
    }
  }
}

TEST_CASE("many small jobs in a row: none lost, none run twice", "[threads]") {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  int64_t want = 0;
  for (int job = 0; job < 20000; ++job) {
    int64_t parts = 1 + job % 5;
    pool.parallel_for(parts, [&](int64_t p) { sum.fetch_add(int64_t(job) * 8 + p); });
    for (int64_t p = 0; p < parts; ++p) want += int64_t(job) * 8 + p;
  }
  CHECK(sum.load() == want);
  CHECK(pool.parallel_jobs() > 0);
}

TEST_CASE("a pool of one thread runs the parts in order on the caller", "[threads]") {
  ThreadPool pool(1);
  std::vector<int64_t> order;
  std::set<std::thread::id> ids;
  pool.parallel_for(6, [&](int64_t p) {
    order.push_back(p);
    ids.insert(std::this_thread::get_id());
  });
  CHECK(order == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(ids == std::set<std::thread::id>{std::this_thread::get_id()});
  CHECK(pool.parallel_jobs() == 0);
}

TEST_CASE("a parallel_for inside a part runs serially on that thread", "[threads]") {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> runs(8 * 5);
  std::atomic<bool> same_thread{true};
  pool.parallel_for(8, [&](int64_t outer) {
    auto me = std::this_thread::get_id();
    pool.parallel_for(5, [&](int64_t inner) {
      if (std::this_thread::get_id() != me) same_thread = false;
      runs[size_t(outer * 5 + inner)].fetch_add(1);
    });
  });
  for (auto& r : runs) CHECK(r.load() == 1);
  CHECK(same_thread.load());
}

TEST_CASE("two threads sharing a pool: one of them runs serially, both complete", "[threads]") {
  ThreadPool pool(2);
  std::atomic<int64_t> a{0}, b{0};
  auto use = [&](std::atomic<int64_t>& sum) {
    for (int job = 0; job < 2000; ++job) pool.parallel_for(4, [&](int64_t p) { sum.fetch_add(p + 1); });
  };
  std::thread other([&] { use(b); });
  use(a);
  other.join();
  CHECK(a.load() == 2000 * 10);
  CHECK(b.load() == 2000 * 10);
}

namespace {
struct Calls {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> seen;  // (part, parts)
};
void record(void* const* args, int64_t part, int64_t parts) {
  auto* c = static_cast<Calls*>(args[0]);
  std::lock_guard lock(c->mu);
  c->seen.push_back({part, parts});
}
// The calls kiln_parallel made, sorted; checks they are parts 0..n-1 of one n.
int64_t parallel_parts(int64_t max_parts) {
  Calls c;
  void* args[] = {&c};
  kiln_parallel(record, args, max_parts);
  std::sort(c.seen.begin(), c.seen.end());
  REQUIRE(!c.seen.empty());
  int64_t n = c.seen[0].second;
  REQUIRE(int64_t(c.seen.size()) == n);
  for (int64_t p = 0; p < n; ++p) {
    CHECK(c.seen[size_t(p)].first == p);
    CHECK(c.seen[size_t(p)].second == n);
  }
  return n;
}
}  // namespace

TEST_CASE("kiln_parallel: one part without a pool, at most max_parts with one", "[threads]") {
  CHECK(ThreadPool::current() == nullptr);
  CHECK(parallel_parts(100) == 1);
  ThreadPool pool(3);
  {
    ThreadPool::Scope scope(&pool);
    CHECK(ThreadPool::current() == &pool);
    int64_t n = parallel_parts(100);
    CHECK(n > 1);
    CHECK(n <= 100);
    CHECK(parallel_parts(2) == 2);
    CHECK(parallel_parts(1) == 1);
    ThreadPool one(1);
    ThreadPool::Scope inner(&one);
    CHECK(parallel_parts(100) == 1);
  }
  CHECK(ThreadPool::current() == nullptr);
}

TEST_CASE("shared pools: one per thread count, kept while held", "[threads]") {
  auto a = ThreadPool::shared(2), b = ThreadPool::shared(2), c = ThreadPool::shared(3);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a->threads() == 2);
  CHECK(c->threads() == 3);
  CHECK(ThreadPool::resolve(0) >= 1);
  CHECK(ThreadPool::resolve(4) == 4);
}
