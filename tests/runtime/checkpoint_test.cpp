// Checkpoint safety ("[checkpoint]"): non-finite values refused with the tensor named.
#include "tests/runtime/checkpoint_util.hpp"
#include <limits>

using namespace kiln;
using namespace kiln::test;

TEST_CASE("a checkpoint holding NaN or Inf is refused with the tensor named", "[checkpoint]") {
  TempDir dir;
  TrainOptions o;
  o.epochs = 1;
  o.save = dir.file("good.safetensors");
  REQUIRE(train(o).result);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Bad {
    const char* tensor;
    size_t element;
    double value;
    const char* message;
  };
  for (Bad b : {Bad{"w1", 12, nan, "param 'w1' holds NaN (element 12)"},
                Bad{"b2", 2, -inf, "param 'b2' holds -Inf (element 2)"},
                Bad{"__state__.w2.momentum", 3, inf, "tensor '__state__.w2.momentum' holds Inf (element 3)"},
                Bad{"__normalize__.x.std", 1, nan, "tensor '__normalize__.x.std' holds NaN (element 1)"}}) {
    std::string path = dir.file(std::string("bad-") + b.tensor + ".safetensors");
    rewrite(o.save, path, [&](auto& ts, auto&) { tensor(ts, b.tensor).values[b.element] = b.value; });
    const std::string want = path + ": " + b.message;
    TrainOptions l;
    l.epochs = 2;
    l.load = path;
    Run r = train(l);
    CHECK(!r.result);
    CHECK(r.err.exit_code == 2);
    CHECK(r.err.message == want);
    bool state = std::string(b.tensor).rfind("__state__", 0) == 0;  // predict and eval take no states
    for (bool outputs : {true, false}) {
      RunError e = predict(path, outputs);
      CHECK(e.exit_code == (state ? 0 : 2));
      CHECK(e.message == (state ? "" : want));
    }
  }
}
