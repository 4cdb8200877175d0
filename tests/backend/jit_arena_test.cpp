// The JIT's liveness-based arena: values whose live ranges do not intersect share bytes
// (the bench MLPs with Adam, compiled only), and a long chain of intermediates runs in an
// arena of three values and a small scratch while agreeing with the interpreter.
#include "jit_test_util.hpp"
#include "passes/autodiff.hpp"
#include "passes/monitor_ir.hpp"
#include "tests/example_graphs.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

// relu MLP with MSE loss, trained with Adam: the training graph (autodiff, optimizer, simplify).
Graph mlp_adam(std::vector<int64_t> w, int64_t batch) {
  Graph g;
  NodeId h = leaf(g, Op::input, "x", {batch, w[0]});
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    NodeId wt = leaf(g, Op::param, fmt::format("w{}", l), {w[l], w[l + 1]}, DType::f32, InitKind::glorot_uniform);
    NodeId b = leaf(g, Op::param, fmt::format("b{}", l), {w[l + 1]}, DType::f32, InitKind::zeros);
    h = g.make(Op::add, {g.make(Op::matmul, {h, wt}), b});
    if (l + 2 < w.size()) h = g.make(Op::relu, {h});
  }
  NodeId loss = g.make(Op::mean, {g.make(Op::squared_error, {h, leaf(g, Op::input, "y", {batch, w.back()})})});
  g.train.present = true;
  g.train.minimize = loss;
  g.train.optimizer.kind = kiln::OptimizerKind::adam;
  g.train.optimizer.lr = 1e-3;
  Diagnostics d;
  Pipeline p;
  p.add(make_autodiff_pass()).add(make_optimizer_pass());
  REQUIRE(p.run(g, d).ok);
  REQUIRE(make_simplify_pipeline().run(g, d).ok);
  return g;
}

}  // namespace

TEST_CASE("the arena shares the bytes of values that are not live together", "[jit][arena]") {
  struct M { const char* what; std::vector<int64_t> w; int64_t batch; };
  for (const M& m : {M{"mlp 1024-4096-4096-1024 b256 adam", {1024, 4096, 4096, 1024}, 256},
                     M{"mlp 784-512-512-10 b128 adam", {784, 512, 512, 10}, 128}}) {
    Graph g = mlp_adam(m.w, m.batch);
    std::string err;
    auto cg = backend::compile_graph(g, {}, err);
    INFO(err);
    REQUIRE(cg);
    WARN(fmt::format("{}: arena {:.1f} MiB (one slot per value: {:.1f} MiB)", m.what, cg->arena_bytes() / 1048576.0,
                     cg->unshared_arena_bytes() / 1048576.0));
    CHECK(cg->arena_bytes() % 64 == 0);
    CHECK(cg->arena_bytes() < cg->unshared_arena_bytes());
    // At least the largest activation (batch x widest layer) is in the arena.
    CHECK(cg->arena_bytes() >= m.batch * *std::max_element(m.w.begin(), m.w.end()) * 4);
  }
}

TEST_CASE("a chain of intermediates reuses a few arena slots and stays exact", "[jit][arena]") {
  Cases c;
  const int64_t rows = 37, cols = 53, len = 40;
  NodeId x = c.uniform({rows, cols}, -2, 2), y = c.uniform({rows, cols}, -2, 2);
  NodeId h = x;
  for (int i = 0; i < len; ++i)  // each link materialised: a softmax reads it (the link is the previous softmax's epilogue)
    h = c.op(Op::softmax, {c.op(i % 3 == 0 ? Op::mul : i % 3 == 1 ? Op::add : Op::sub, {h, i % 2 ? y : x})}, axes({1}));
  h = c.op(Op::tanh, {h});
  c.out(h);
  c.out(c.op(Op::sum, {h}));
  std::string err;
  auto cg = backend::compile_graph(c.g, {}, err);
  INFO(err);
  REQUIRE(cg);
  const int64_t slot = (rows * cols * 4 + 63) / 64 * 64;
  CHECK(cg->unshared_arena_bytes() >= len * slot);
  // the link read, the link written, the softmax's value before its epilogue (scratch) and its per-row sums
  CHECK(cg->arena_bytes() <= 3 * slot + 128);
  auto ref = evaluate(c.g, c.leaves, Precision::f32, err);
  REQUIRE(ref);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(c.leaves, err));
  hb.run(backend::Entry::forward);
  for (auto& [name, id] : c.g.outputs) {
    int b = cg->find(backend::BufferKind::output, name);
    REQUIRE(b >= 0);
    INFO("output " << name);
    CHECK(worst_err(hb.get(b), (*ref)[id], c.g[id].op == Op::sum) <= 1e-5);
  }
}

TEST_CASE("host buffers: one block, the monitors' row, small buffers packed, the others and the arena 64-byte aligned",
          "[jit][arena]") {
  for (const auto& path : test::example_models()) {
    CAPTURE(path.string());
    Graph g = test::example_training_graph(path);
    add_monitor_roots(g);  // a dozen scalar roots
    std::string err;
    auto cg = backend::compile_graph(g, {}, err);
    INFO(err);
    REQUIRE(cg);
    backend::HostBuffers hb(*cg);
    const auto& specs = cg->buffers();
    std::vector<std::pair<uintptr_t, uintptr_t>> spans;  // [begin, end)
    size_t small = 0, in_row = 0;
    uintptr_t block = 0;  // the bytes one block needs: the row, the packed scalars, then the rest 64-byte rounded
    uintptr_t row = 0;    // the first monitor quantity's address
    auto round64 = [](int64_t b) { return uintptr_t(std::max<int64_t>((b + 63) / 64 * 64, 64)); };
    for (size_t i = 0; i < specs.size(); ++i) {
      auto p = reinterpret_cast<uintptr_t>(hb.data(i));
      const int64_t bytes = specs[i].bytes();
      if (specs[i].kind == backend::BufferKind::metric && specs[i].name.starts_with(kMonitorPrefix)) {
        // The monitors' quantities: one row of consecutive floats in metric order, 16-byte aligned.
        REQUIRE(bytes == 4);
        if (in_row == 0) row = p;
        CHECK(row % 16 == 0);
        CHECK(p == row + 4 * in_row);
        ++in_row;
      } else {
        CHECK(p % (bytes <= 16 ? 16 : 64) == 0);
        small += bytes <= 16;
        if (bytes > 16) block += round64(bytes);
      }
      spans.emplace_back(p, p + uintptr_t(std::max<int64_t>(bytes, 1)));
    }
    auto arena = reinterpret_cast<uintptr_t>(hb.data(specs.size()));
    CHECK(arena % 64 == 0);
    spans.emplace_back(arena, arena + uintptr_t(std::max<int64_t>(cg->arena_bytes(), 1)));
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) CHECK(spans[i - 1].second <= spans[i].first);  // no overlap
    // One block, the row first (read in 16-byte pieces: what follows it is in the block),
    // the scalars 4 to a cache line.
    CHECK(in_row >= 2);
    CHECK(small > 0);
    CHECK(row == spans.front().first);
    block += round64(int64_t((in_row * 4 + 15) / 16 * 16 + small * 16)) + round64(cg->arena_bytes());
    CHECK(spans.back().second - spans.front().first <= block);
    CHECK(row + (in_row * 4 + 15) / 16 * 16 <= spans.back().second);
  }
}
