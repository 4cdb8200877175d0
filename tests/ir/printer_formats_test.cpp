// Tests of the verifier (one defect class at a time), the Graphviz printer (rendered by
// `dot` when installed) and the JSON printer (checked for well-formedness).
#include "ir/printer.hpp"
#include "printer_test_util.hpp"
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

using namespace kiln;

namespace {

bool mentions(const std::vector<std::string>& msgs, const std::string& what) {
  for (auto& m : msgs)
    if (m.find(what) != std::string::npos) return true;
  return false;
}

// A well-formed test graph broken by `defect`; the verifier must report `expected`.
void expect_defect(const char* expected, void (*defect)(Graph&)) {
  Graph g = test::tiny_graph();
  REQUIRE(verify_graph(g).empty());
  defect(g);
  auto msgs = verify_graph(g);
  INFO(fmt::format("expected: {}\ngot: {}", expected, fmt::join(msgs, " | ")));
  CHECK(mentions(msgs, expected));
}

bool have_tool(const char* name) { return std::system(fmt::format("command -v {} >/dev/null 2>&1", name).c_str()) == 0; }

std::string temp_path(const char* ext) { return fmt::format("/tmp/kiln_printer_test_{}.{}", getpid(), ext); }

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A minimal JSON well-formedness checker (RFC 8259 grammar, no semantic checks).
struct JsonCheck {
  std::string_view s;
  size_t p = 0;
  void ws() {
    while (p < s.size() && (s[p] == ' ' || s[p] == '\n' || s[p] == '\t' || s[p] == '\r')) ++p;
  }
  bool lit(std::string_view w) {
    if (s.substr(p, w.size()) != w) return false;
    p += w.size();
    return true;
  }
  bool str() {
    if (!lit("\"")) return false;
    while (p < s.size() && s[p] != '"') {
      if (static_cast<unsigned char>(s[p]) < 0x20) return false;
      if (s[p++] != '\\') continue;
      if (p >= s.size()) return false;
      char e = s[p++];
      if (e == 'u') {
        for (int i = 0; i < 4; ++i, ++p)
          if (p >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[p]))) return false;
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    return lit("\"");
  }
  bool digits() {
    size_t b = p;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
    return p > b;
  }
  bool num() {
    lit("-");
    if (!lit("0") && !digits()) return false;
    if (lit(".") && !digits()) return false;
    if (lit("e") || lit("E")) {
      if (!lit("+")) lit("-");
      if (!digits()) return false;
    }
    return true;
  }
  bool value() {
    ws();
    if (p >= s.size()) return false;
    bool ok;
    if (s[p] == '{') {
      ++p, ws();
      ok = lit("}");
      while (!ok) {
        ws();
        if (!str()) return false;
        ws();
        if (!lit(":") || !value()) return false;
        ws();
        if (lit("}")) break;
        if (!lit(",")) return false;
      }
      ok = true;
    } else if (s[p] == '[') {
      ++p, ws();
      ok = lit("]");
      while (!ok) {
        if (!value()) return false;
        ws();
        if (lit("]")) break;
        if (!lit(",")) return false;
      }
      ok = true;
    } else if (s[p] == '"') {
      ok = str();
    } else {
      ok = lit("true") || lit("false") || lit("null") || num();
    }
    ws();
    return ok;
  }
  bool document() { return value() && p == s.size(); }
};

bool well_formed_json(std::string_view s) { return JsonCheck{s}.document(); }

}  // namespace

TEST_CASE("verifier accepts well-formed graphs", "[printer]") {
  CHECK(verify_graph(test::tiny_graph()).empty());
  CHECK(verify_graph(test::all_ops_graph()).empty());
  CHECK(verify_graph(Graph{}).empty());
}

TEST_CASE("verifier reports each class of defect", "[printer]") {
  expect_defect("%5: operand %99 is out of range", [](Graph& g) { g[5].in[1] = 99; });
  expect_defect("%5: operand %-1 is out of range", [](Graph& g) { g[5].in[0] = -1; });
  expect_defect("%5: operand %8 is not defined before its use", [](Graph& g) { g[5].in[1] = 8; });
  expect_defect("%5: operand %5 is not defined before its use", [](Graph& g) { g[5].in[1] = 5; });
  expect_defect("%5: add takes 2 operands, has 1", [](Graph& g) { g[5].in.pop_back(); });
  expect_defect("%6: relu takes 1 operands, has 2", [](Graph& g) { g[6].in.push_back(0); });
  expect_defect("%5: add has attribute 'axes' but does not use it", [](Graph& g) { g[5].attrs.axes = {0}; });
  expect_defect("%6: relu has attribute 'alpha' but does not use it", [](Graph& g) { g[6].attrs.alpha = 0.1; });
  expect_defect("%0: input has attribute 'init' but does not use it",
                [](Graph& g) { g[0].attrs.init.kind = InitKind::zeros; });
  expect_defect("%2: param has attribute 'normalize' but does not use it", [](Graph& g) { g[2].attrs.normalize = true; });
  expect_defect("%0: leaf input has 1 operands", [](Graph& g) { g[0].in = {1}; });
  expect_defect("%5: has type f32[4,3] but add gives f32[4,2]", [](Graph& g) { g[5].shape = {4, 3}; });
  expect_defect("%5: has type f64[4,2] but add gives f32[4,2]", [](Graph& g) { g[5].dtype = DType::f64; });
  expect_defect("%4: matmul: cannot multiply f32[4,3] by f32[5,2]", [](Graph& g) { g[2].shape = {5, 2}; });
  expect_defect("%11: softmax: axis 3 out of range", [](Graph& g) { g[11].attrs.axes = {3}; });
  expect_defect("%7: literal has 2 values but its type f32 holds 1",
                [](Graph& g) { g[7].attrs.init.data.push_back(1); });
  expect_defect("op number 200 is not in the op table", [](Graph& g) { g[7].op = static_cast<Op>(200); });
  expect_defect("minimize: %40 is out of range", [](Graph& g) { g.train.minimize = 40; });
  expect_defect("output: %-3 is out of range", [](Graph& g) { g.outputs.push_back({"o", -3}); });
  expect_defect("metric: %14 is out of range", [](Graph& g) { g.train.metrics.push_back({"m", 14}); });
  expect_defect("grad: %0 is not a param", [](Graph& g) { g.grads.push_back({0, 4}); });
  expect_defect("grad: %77 is out of range", [](Graph& g) { g.grads.push_back({2, 77}); });
  expect_defect("update: %4 is not a param or state", [](Graph& g) { g.updates.push_back({4, 5}); });
  expect_defect("update: %30 is out of range", [](Graph& g) { g.updates.push_back({2, 30}); });
  expect_defect("params: %3 is missing from the list", [](Graph& g) { g.params.pop_back(); });
  expect_defect("params: %0 is not a param leaf", [](Graph& g) { g.params.push_back(0); });
  expect_defect("inputs: %1 is listed twice", [](Graph& g) { g.inputs.push_back(1); });
  expect_defect("states: %99 is not a state leaf", [](Graph& g) { g.states.push_back(99); });
}

TEST_CASE("dot output is valid Graphviz", "[printer]") {
  Graph g = test::all_ops_graph();
  std::string dot = print_ir_dot(g);
  CHECK(dot.rfind("digraph \"all ops\" {", 0) == 0);
  CHECK(dot.find(R"(n0 [label="%0 input\nf32[4,3]\nx\n[output weird \"out\"]", shape=invhouse)") != std::string::npos);
  CHECK(dot.find("\\\"quoted\\\" \\\\ and\\nnewline") != std::string::npos);  // quotes, backslash, newline escaped
  CHECK(dot.find("n0 -> n18;") != std::string::npos);
  CHECK(dot.find("[loss, metric loss]\", shape=box, color=red") != std::string::npos);
  CHECK(dot.find("[output prob]\", shape=box, color=blue") != std::string::npos);
  if (!have_tool("dot")) {
    WARN("graphviz `dot` not found: rendering not checked");
    return;
  }
  for (const Graph& h : {g, test::tiny_graph(), Graph{}}) {
    std::string in = temp_path("dot"), out = temp_path("svg");
    write_file(in, print_ir_dot(h));
    int rc = std::system(fmt::format("dot -Tsvg '{}' -o '{}' 2>/dev/null", in, out).c_str());
    std::string svg = read_file(out);
    std::remove(in.c_str());
    std::remove(out.c_str());
    CHECK(rc == 0);
    CHECK(svg.find("<svg") != std::string::npos);
    size_t boxes = 0;
    for (size_t p = 0; (p = svg.find("class=\"node\"", p)) != std::string::npos; ++p) ++boxes;
    CHECK(boxes == h.size());
  }
}

TEST_CASE("json output is well formed and complete", "[printer]") {
  CHECK(well_formed_json(R"({"a":[1,-2.5e-3,true,null,"x\"y\u0001"],"b":{}})"));
  CHECK_FALSE(well_formed_json(R"({"a":[1,]})"));
  CHECK_FALSE(well_formed_json(R"({"a":inf})"));
  CHECK_FALSE(well_formed_json("{\"a\":\"new\nline\"}"));

  Graph g = test::all_ops_graph();
  std::string json = print_ir_json(g);
  CHECK(well_formed_json(json));
  CHECK(well_formed_json(print_ir_json(test::tiny_graph())));
  CHECK(well_formed_json(print_ir_json(Graph{})));
  CHECK(json.find(R"("name":"w \"quoted\" \\ and\nnewline")") != std::string::npos);
  CHECK(json.find(R"({"kind":"literal","data":["inf","-inf","nan"]})") != std::string::npos);
  CHECK(json.find(R"({"id":0,"op":"input","dtype":"f32","shape":[4,3],"inputs":[],"attrs":{"normalize":true},"name":"x","loc":{"line":2,"col":3,"end_line":3,"end_col":17}})") != std::string::npos);
  CHECK(json.find(R"("seed":18446744073709551615)") != std::string::npos);
  if (!have_tool("python3")) {
    WARN("python3 not found: JSON not checked by a second parser");
    return;
  }
  std::string path = temp_path("json");
  write_file(path, json);
  // Python's parser also checks the counts of nodes and roots.
  int rc = std::system(fmt::format("python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
                                   "sys.exit(0 if len(d['nodes'])=={} and len(d['outputs'])=={} and "
                                   "d['train']['minimize']=={} else 1)\" '{}'",
                                   g.size(), g.outputs.size(), *g.train.minimize, path)
                           .c_str());
  std::remove(path.c_str());
  CHECK(rc == 0);
}
