// Resuming ("[resume]"): --load continues the epochs and the shuffles bit for bit, at an
// epoch boundary or mid-epoch after an interrupt; --epochs as the total; the seed; the
// interrupted run's result, checkpoint and log (the signals themselves: interrupt_test.cpp).
#include "tests/runtime/checkpoint_util.hpp"
#include <csignal>
#include <filesystem>
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::test;

TEST_CASE("train --load continues the epochs and the shuffles: bit-identical to one run", "[resume]") {
  TempDir dir;
  struct Case {
    bool shuffle;
    double val_split;
    bool monitor;
    const char* engine;
  };
  for (Case c : {Case{true, 0, true, "interp"}, Case{false, 0, true, "interp"}, Case{true, 0.2, false, "interp"},
                 Case{true, 0.2, true, "jit"}}) {
    INFO("shuffle " << c.shuffle << ", val-split " << c.val_split << ", monitor " << c.monitor << ", " << c.engine);
    test::RunOptions o;
    o.shuffle = c.shuffle;
    o.val_split = c.val_split;
    o.compile.monitors = c.monitor;
    o.engine.kind = c.engine;
    o.compile.epochs = 5;
    const int64_t per_epoch = c.val_split > 0 ? 7 : 9;
    o.save = dir.file("straight.safetensors");
    Run straight = train(o);
    REQUIRE(straight.result);
    const std::string want = get_file(o.save);

    // at an epoch boundary: --epochs 2 --save, then --epochs 5 --load (epochs 3 to 5)
    test::RunOptions a = o;
    a.compile.epochs = 2;
    a.save = dir.file("two.safetensors");
    REQUIRE(train(a).result);
    test::RunOptions b = o;
    b.load = a.save;
    b.save = dir.file("resumed.safetensors");
    Run resumed = train(b);
    INFO(resumed.err.message);
    REQUIRE(resumed.result);
    CHECK(resumed.result->first_epoch == 3);
    REQUIRE(resumed.result->epochs.size() == 3);
    CHECK(resumed.result->epochs.front().epoch == 3);
    CHECK(get_file(b.save) == want);  // params, states, normalisation and metadata
    const auto& all = straight.result->step_losses;
    CHECK(resumed.result->step_losses == std::vector<double>(all.begin() + 2 * per_epoch, all.end()));

    // mid-epoch (interrupted after step 4 of epoch 3), then again 5 steps later
    test::RunOptions i = o;
    i.stop_after_steps = 2 * per_epoch + 4;
    i.save = dir.file("stopped.safetensors");
    Run stopped = train(i);
    REQUIRE(stopped.result);
    CHECK(stopped.result->signal == SIGINT);
    CHECK(stopped.result->stop_message ==
          fmt::format("interrupted (SIGINT) after epoch 3, step 4 of {}; saved {} (--load it to continue)", per_epoch,
                      i.save));
    SafetensorsFile f = read_st(i.save);
    CHECK(f.metadata.at("kiln_stop") == "interrupted");
    CHECK(f.metadata.at("kiln_epochs_done") == "2");
    CHECK(f.metadata.at("kiln_steps_into_epoch") == "4");
    test::RunOptions j = o;
    j.load = i.save;
    j.stop_after_steps = 5;
    j.save = dir.file("stopped2.safetensors");
    Run again = train(j);
    REQUIRE(again.result);
    CHECK(again.result->signal == SIGINT);
    CHECK(read_st(j.save).metadata.at("kiln_steps_into_epoch") == (per_epoch == 9 ? "0" : "2"));
    test::RunOptions k = o;
    k.load = j.save;
    k.save = dir.file("finished.safetensors");
    Run finished = train(k);
    REQUIRE(finished.result);
    CHECK(get_file(k.save) == want);
  }
}

TEST_CASE("on resume --epochs counts the checkpoint's epochs, and its seed goes on unless --seed", "[resume]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 3;
  o.compile.seed = 9;
  o.save = dir.file("three.safetensors");
  REQUIRE(train(o).result);
  test::RunOptions again;
  again.load = o.save;
  again.compile.epochs = 3;
  Run r = train(again);
  CHECK(!r.result);
  CHECK(r.err.exit_code == 2);
  CHECK(r.err.message == "nothing to train: " + o.save +
                             " holds 3 epochs of training and --epochs 3 is the total, counting the checkpoint's "
                             "(give a larger --epochs to train more)");

  // the checkpoint's seed 9 (the model's is 3) shapes the shuffles of epochs 4 and 5
  test::RunOptions straight;
  straight.compile.epochs = 5;
  straight.compile.seed = 9;
  straight.save = dir.file("straight.safetensors");
  REQUIRE(train(straight).result);
  again.compile.epochs = 5;
  again.save = dir.file("resumed.safetensors");
  REQUIRE(train(again).result);
  CHECK(get_file(again.save) == get_file(straight.save));
  CHECK(read_st(again.save).metadata.at("kiln_seed") == "9");
  again.compile.seed = 4;  // a given --seed wins: other shuffles
  again.save = dir.file("reseeded.safetensors");
  REQUIRE(train(again).result);
  CHECK(read_st(again.save).find("w1")->values != read_st(straight.save).find("w1")->values);
}

TEST_CASE("an interrupt before the first step saves nothing, after it the log ends with it", "[resume]") {
  TempDir dir;
  Interrupt intr;
  intr.signal = SIGTERM;  // as if it came while the model compiled, with the handlers deferring
  test::RunOptions o;
  o.compile.epochs = 2;
  o.interrupt = &intr;
  o.save = dir.file("p.safetensors");
  o.log = dir.file("m.jsonl");
  Run r = train(o);
  REQUIRE(r.result);
  CHECK(intr.deferred == 1);
  CHECK(r.result->signal == SIGTERM);
  CHECK(r.result->stop_message == "interrupted (SIGTERM) before the first step; nothing saved");
  CHECK(!std::filesystem::exists(o.save));
  CHECK(get_file(o.log) ==
        "{\"kind\":\"interrupted\",\"signal\":\"SIGTERM\",\"epochs_done\":0,\"steps_into_epoch\":0,\"step\":0}\n");

  // after some steps without --save: the log ends with the health table and the line
  intr.signal = 0;
  o.interrupt = nullptr;
  o.save.clear();
  o.stop_after_steps = 9;
  Run s = train(o);
  REQUIRE(s.result);
  CHECK(s.result->stop_message == "interrupted (SIGINT) after epoch 1; nothing saved (no --save)");
  std::string log = get_file(o.log);
  CHECK(log.find("{\"kind\":\"health\",\"step\":9,\"param\":\"w1\"") != std::string::npos);
  CHECK(log.substr(log.rfind('{')) ==
        "{\"kind\":\"interrupted\",\"signal\":\"SIGINT\",\"epochs_done\":1,\"steps_into_epoch\":0,\"step\":9}\n");
}


TEST_CASE("a checkpoint records its position, one without it (format 0) trains epochs 1 to N", "[resume]") {
  TempDir dir;
  test::RunOptions o;
  o.compile.epochs = 2;
  o.load = kFormat0;
  o.save = dir.file("from0.safetensors");
  Run r = train(o);
  INFO(r.err.message);
  REQUIRE(r.result);
  CHECK(r.result->first_epoch == 1);
  CHECK(r.result->epochs.size() == 2);
  SafetensorsFile v1 = read_st(o.save);
  CHECK(v1.metadata.at("kiln_stop") == "end");
  CHECK(v1.metadata.at("kiln_epochs_done") == "2");
  CHECK(v1.metadata.at("kiln_steps_into_epoch") == "0");
  CHECK(v1.metadata.at("kiln_seed") == "3");

  std::string pos = dir.file("pos.safetensors");
  rewrite(o.save, pos, [](auto&, auto& meta) { meta["kiln_steps_into_epoch"] = "-1"; });
  o.load = pos;
  o.compile.epochs = 3;
  Run p = train(o);
  CHECK(p.err.exit_code == 2);
  CHECK(p.err.message == pos + ": metadata 'kiln_steps_into_epoch' is '-1', not a count");
}
