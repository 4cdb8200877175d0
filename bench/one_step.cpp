// kiln_one_step: one training step of a model from a given state, with everything the step
// computes written out, for the one-step agreement check against PyTorch (bench/one_step.py).
// It builds the training graph as `kiln train` does, loads the params and optimizer states
// from a checkpoint (runtime/checkpoint.hpp; states it lacks start at zero, as in `train
// --load`) and one batch from NPY files, runs exactly one step on each engine asked for, and
// writes one safetensors file holding, per engine E:
//   E.loss             the step's loss (its forward pass, before the update)
//   E.grad.<param>     every param's gradient
//   E.update.<param>   the update the step subtracts from the param (`p - update` is the new
//                      value; for sgd lr*g, for adam lr*mhat/(sqrt(vhat)+eps)), read from the
//                      step itself: an extra output root, so the JIT materialises it
//   E.param.<param>    the params after the step
//   E.state.<state>    the optimizer states after the step (e.g. "w1.m", "step")
// Engines: jit (the fused JIT; F32 tensors), interp (the reference interpreter rounding every
// op to f32; F32), interp64 (the interpreter in f64, its literals unrounded; F64). The JIT's
// graph with the update roots is checked against the graph without them: the params and
// states after the step must be bit-identical (metadata "jit_plain_identical").
// Usage: kiln_one_step MODEL --load STATE.safetensors --data NAME=FILE.npy... --out OUT.safetensors
//                      [--engines jit,interp64] [--threads N] [--batch N] [--lanes N]
// (--lanes: the f32 lanes the JIT's GEMM assumes, CompileOptions::lanes; 8 runs AVX2's code)
#include "backend/codegen.hpp"
#include "backend/thread_pool.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/compile.hpp"
#include "runtime/model.hpp"
#include "runtime/npy.hpp"
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace kiln;

namespace {

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "kiln_one_step: %s\n", msg.c_str());
  return code;
}

int usage(const std::string& msg) {
  std::fprintf(stderr,
               "kiln_one_step: %s\nusage: kiln_one_step MODEL --load STATE.safetensors --data NAME=FILE.npy... "
               "--out OUT.safetensors [--engines jit,interp,interp64] [--threads N] [--batch N] [--lanes N]\n",
               msg.c_str());
  return 2;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// The update each param's new value subtracts, as a root of its own ("__update__.<p>"): the
// optimizer pass builds every new value as `base - update` (base = p, or p * (1 - lr * wd)
// for adamw); where the simplified graph has another form, p - new value (f32: exact when
// the update is at most half of |p|, Sterbenz).
std::vector<std::pair<std::string, NodeId>> add_update_roots(Graph& g) {
  std::vector<std::pair<std::string, NodeId>> out;
  for (const Update& u : std::vector<Update>(g.updates)) {
    if (g[u.target].op != Op::param) continue;
    const Node& v = g[u.value];
    NodeId step = v.op == Op::sub && v.in.size() == 2 && v.in[0] == u.target ? v.in[1] : g.make(Op::sub, {u.target, u.value});
    std::string name = "__update__." + g[u.target].name;
    g.outputs.push_back({name, step});
    out.push_back({g[u.target].name, step});
  }
  return out;
}

// A step's results in one engine's terms.
struct StepResult {
  double loss = 0;
  std::map<std::string, Tensor> grads, updates;
  ValueMap after;  // params and states after the step
};

void put(std::vector<NamedTensor>& out, const std::string& name, const Tensor& t, DType as) {
  out.push_back({name, as, t.shape, t.data});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no model given");
  std::string model = argv[1], load, out;
  std::vector<std::string> data, engines = {"jit"};
  int threads = 1, lanes = 0;
  std::optional<int64_t> batch;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage("'" + a + "' needs a value");
    std::string v = argv[++i];
    if (a == "--load") load = v;
    else if (a == "--data") data.push_back(v);
    else if (a == "--out") out = v;
    else if (a == "--engines") engines = split(v, ',');
    else if (a == "--threads" || a == "--batch" || a == "--lanes") {
      try {
        if (a == "--threads") threads = std::stoi(v);
        else if (a == "--lanes") lanes = std::stoi(v);
        else batch = std::stoll(v);
      } catch (const std::exception&) {
        return usage(a + " needs a number, not '" + v + "'");
      }
    } else return usage("unknown option '" + a + "'");
  }
  if (load.empty() || out.empty() || data.empty()) return usage("--load, --data and --out are required");
  for (auto& e : engines)
    if (e != "jit" && e != "interp" && e != "interp64") return usage("unknown engine '" + e + "'");

  std::ifstream f(model);
  if (!f) return fail("cannot read " + model, 2);
  std::stringstream ss;
  ss << f.rdbuf();
  SourceFile src(model, ss.str());
  Diagnostics d(&src);
  // The training graph exactly as `kiln train --no-monitor` compiles it (static checks, which
  // only report, and the stabilising rewrites).
  CompileOptions co;
  co.batch = batch;  // --batch: as `kiln train --batch`
  co.monitors = false;
  auto step = compile(src, co, Stage::opt, d);
  if (!step) return fail("cannot build the training graph:\n" + d.render_all());
  Graph plain = step->graph;
  Graph g = plain;
  auto update_roots = add_update_roots(g);

  // State: initial values (zeros for the optimizer states), then the checkpoint.
  std::string err;
  ValueMap values = initial_values(g, g.train.seed);
  auto ck = read_checkpoint(load, g, err);
  if (!ck || !restore_values(*ck, load, g, values, err)) return fail(err, 2);
  // The batch: one NPY file per input, exactly one batch of rows.
  for (const std::string& spec : data) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) return usage("--data needs NAME=FILE.npy, got '" + spec + "'");
    std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
    NodeId leaf = -1;
    for (NodeId id : g.inputs)
      if (g[id].name == name) leaf = id;
    if (leaf < 0) return fail("the model has no input '" + name + "'", 2);
    if (g[leaf].attrs.normalize) return fail("input '" + name + "' is normalize'd: not supported here", 2);
    auto arr = read_npy(path, err);
    if (!arr) return fail(err, 2);
    if (num_elements(arr->shape) != num_elements(g[leaf].shape))
      return fail(fmt::format("{}: {} values, the input '{}' takes {} (one batch)", path, num_elements(arr->shape), name,
                              num_elements(g[leaf].shape)),
                  2);
    Tensor t(g[leaf].dtype, g[leaf].shape);
    for (size_t k = 0; k < t.data.size(); ++k)
      t.data[k] = g[leaf].dtype == DType::f32 ? double(float(arr->values[k])) : arr->values[k];
    values[name] = std::move(t);
  }
  for (NodeId id : g.inputs)
    if (!values.count(g[id].name)) return fail("no --data for input '" + g[id].name + "'", 2);

  std::vector<NamedTensor> tensors;
  std::map<std::string, std::string> meta = {{"kiln_model", g.model_name}};
  for (const std::string& engine : engines) {
    StepResult r;
    if (engine == "jit") {
      std::shared_ptr<ThreadPool> pool;
      if (ThreadPool::resolve(threads) > 1) pool = ThreadPool::shared(threads);
      ThreadPool::Scope scope(pool.get());
      backend::CompileOptions co;
      co.lanes = lanes;
      auto cg = backend::compile_graph(g, co, err);
      auto cg0 = backend::compile_graph(plain, co, err);
      if (!cg || !cg0) return fail("the JIT cannot compile the model: " + err);
      backend::HostBuffers hb(*cg), hb0(*cg0);
      if (!hb.set_leaves(values, err) || !hb0.set_leaves(values, err)) return fail(err);
      hb.run(backend::Entry::step);
      hb0.run(backend::Entry::step);
      r.loss = hb.get(size_t(cg->find(backend::BufferKind::loss, "loss"))).data[0];
      for (auto& [p, gr] : g.grads) r.grads[g[p].name] = hb.get(size_t(cg->find(backend::BufferKind::grad, g[p].name)));
      for (auto& [p, id] : update_roots)
        r.updates[p] = hb.get(size_t(cg->find(backend::BufferKind::output, "__update__." + p)));
      r.after = values;
      hb.get_state(r.after);
      ValueMap after0 = values;
      hb0.get_state(after0);
      bool same = true;
      for (auto& [name, t] : after0) same = same && r.after.at(name).data == t.data;
      meta["jit_plain_identical"] = same ? "yes" : "no";
    } else {
      // (interp64 keeps the literals as written; the f32 engines round them to float)
      auto vals = evaluate(g, values, engine == "interp64" ? Precision::f64 : Precision::f32, err);
      if (!vals) return fail(err);
      for (double v : (*vals)[*g.train.minimize].data) r.loss += v;
      for (auto& [p, gr] : g.grads) r.grads[g[p].name] = (*vals)[gr];
      for (auto& [p, id] : update_roots) r.updates[p] = (*vals)[id];
      r.after = values;
      for (const Update& u : g.updates) r.after[g[u.target].name] = (*vals)[u.value];
    }
    const DType as = engine == "interp64" ? DType::f64 : DType::f32;
    put(tensors, engine + ".loss", Tensor(as, {}, r.loss), as);
    for (auto& [name, t] : r.grads) put(tensors, engine + ".grad." + name, t, as);
    for (auto& [name, t] : r.updates) put(tensors, engine + ".update." + name, t, as);
    for (NodeId id : g.params) put(tensors, engine + ".param." + g[id].name, r.after.at(g[id].name), as);
    for (NodeId id : plain.states) put(tensors, engine + ".state." + plain[id].name, r.after.at(plain[id].name), as);
  }
  if (!write_safetensors(out, tensors, meta, err)) return fail(err, 2);
  return 0;
}
