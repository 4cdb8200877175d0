// The memory limit ("[memory]"): --max-memory sizes, and the [memory] error of a graph
// whose buffers and arena exceed it, located at its largest value.
#include "runtime/compile.hpp"
#include "runtime/memory_limit.hpp"
#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("memory sizes parse with binary units", "[memory]") {
  CHECK(parse_memory_size("1024") == 1024u);
  CHECK(parse_memory_size("64K") == 65536u);
  CHECK(parse_memory_size("512M") == 512ull << 20);
  CHECK(parse_memory_size("8G") == 8ull << 30);
  CHECK(parse_memory_size("8gib") == 8ull << 30);
  CHECK(parse_memory_size("1.5G") == 3ull << 29);
  CHECK(parse_memory_size("2TB") == 2ull << 40);
  for (const char* bad : {"", "G", "0", "0.1", "-1G", "8X", "1.2.3G", "8 G", "99999999T", "nan"}) {
    INFO(bad);
    CHECK_FALSE(parse_memory_size(bad));
  }
  CHECK(physical_memory_bytes() > 0);
}

TEST_CASE("a model over the memory limit is a located error naming its largest values", "[memory]") {
  SourceFile src("m.model",
                 "input x : f32[batch, 4]\n"
                 "param big : f32[1048576, 1048576] = zeros\n"
                 "param w : f32[4, 1] = zeros\n"
                 "loss = mean(x @ w) + sum(big)\n"
                 "train { minimize loss }\n");
  Diagnostics d(&src);
  // The default limit is the machine's memory: 8 TiB of params and gradients exceed it.
  // The precheck after lowering (check, dump) reports that alone.
  CompileOptions pre;
  pre.memory_precheck = true;
  CHECK_FALSE(compile(src, pre, Stage::ir, d));
  REQUIRE(d.all().size() == 1);
  const Diagnostic& e = d.all()[0];
  CHECK(e.id == "memory");
  CHECK(e.loc.line == 2);
  CHECK(e.message.rfind("the model needs 8.00 TiB of memory, more than the limit of ", 0) == 0);
  CHECK(e.message.find("params and optimizer state 4.00 TiB, gradients 4.00 TiB") != std::string::npos);
  REQUIRE(e.notes.size() == 3);
  CHECK(e.notes[0].message == "param 'big' (f32[1048576,1048576]) takes 4.00 TiB");
  CHECK(e.notes[1].message == "the gradient of 'big' (f32[1048576,1048576]) takes 4.00 TiB");

  // The training graph itself is refused, before any value is allocated.
  Diagnostics d2(&src);
  CHECK_FALSE(compile(src, {}, Stage::llvm, d2));
  CHECK(d2.all().back().id == "memory");
  CHECK(d2.all().back().message == e.message);  // (the precheck's graph is the one trained)
}

TEST_CASE("a model within the limit passes and a small limit refuses it", "[memory]") {
  SourceFile src("m.model",
                 "input x : f32[batch, 64]\n"
                 "param w : f32[64, 64] = zeros\n"
                 "loss = mean(x @ w)\n"
                 "train { minimize loss }\n");
  Diagnostics d(&src);
  auto r = compile(src, {}, Stage::ir, d);
  REQUIRE(r);
  const Graph* g = &r->graph;
  CHECK(check_memory(*g, uint64_t(1) << 30, d));
  CHECK(d.all().empty());
  // The 32x64 input and the 64x64 param: 24 KiB.
  CHECK_FALSE(check_memory(*g, 8192, d));
  REQUIRE(d.all().size() == 1);
  CHECK(d.all()[0].message.find("more than the limit of 8.0 KiB") != std::string::npos);
}
