// Checkpoint safety ("[checkpoint]"): non-finite values refused with the tensor named, and
// the format version (today's files, written before it existed, load; newer ones are refused).
#include "tests/runtime/checkpoint_util.hpp"
#include <limits>

using namespace kiln;
using namespace kiln::test;

TEST_CASE("a checkpoint holding NaN or Inf is refused with the tensor named", "[checkpoint]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 1;
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
    test::RunOptions l;
    l.compile.epochs = 2;
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

TEST_CASE("checkpoint format versions: today's files load, newer ones are refused", "[checkpoint]") {
  TempDir dir;
  // Format 0: written at 9aad2ec, before the key existed (no position): it loads, and a
  // --load run trains epochs 1 to N from it.
  SafetensorsFile v0 = read_st(kFormat0);
  CHECK(v0.metadata.count("kiln_format") == 0);
  CHECK(v0.metadata.at("kiln_model") == "iris");
  CHECK(predict(kFormat0, true).message == "");
  CHECK(predict(kFormat0, false).message == "");
  test::RunOptions o;
  o.compile.epochs = 2;
  o.load = kFormat0;
  o.save = dir.file("from0.safetensors");
  Run r = train(o);
  INFO(r.err.message);
  REQUIRE(r.result);
  CHECK(r.result->epochs.size() == 2);
  CHECK(read_st(o.save).metadata.at("kiln_format") == std::to_string(kCheckpointFormat));

  // A newer format (a synthetic one: today's files with the key raised), and a bad value.
  for (const std::string& base : {kFormat0, o.save}) {
    std::string newer = dir.file("newer.safetensors");
    rewrite(base, newer, [](auto&, auto& meta) { meta["kiln_format"] = "3"; });
    const std::string want = newer + ": checkpoint format 3 (written by kiln 0.1.0) is newer than this kiln (" +
                             KILN_VERSION + " reads formats up to 1): upgrade kiln";
    test::RunOptions l;
    l.compile.epochs = 4;
    l.load = newer;
    Run n = train(l);
    CHECK(!n.result);
    CHECK(n.err.exit_code == 2);
    CHECK(n.err.message == want);
    CHECK(predict(newer, true).message == want);
    CHECK(predict(newer, false).message == want);
    std::string odd = dir.file("odd.safetensors");
    rewrite(base, odd, [](auto&, auto& meta) { meta["kiln_format"] = "1.5"; });
    CHECK(predict(odd, true).message == odd + ": metadata 'kiln_format' is '1.5', not a count");
  }
  // A newer file may hold what this kiln cannot decode: the format is the message then.
  std::string header = R"({"__metadata__":{"kiln_format":"2","kiln_version":"0.2.0"},)"
                       R"("w1":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
  std::string bytes;
  for (int k = 0; k < 8; ++k) bytes += char((uint64_t(header.size()) >> (8 * k)) & 0xff);
  put_file(dir.file("bf16.safetensors"), bytes + header + std::string(4, '\0'));
  CHECK(predict(dir.file("bf16.safetensors"), false).message ==
        dir.file("bf16.safetensors") + ": checkpoint format 2 (written by kiln 0.2.0) is newer than this kiln (" +
            KILN_VERSION + " reads formats up to 1): upgrade kiln");
}
