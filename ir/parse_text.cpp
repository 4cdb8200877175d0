// Reader of the canonical IR text form (docs/ir.md): a hand-written line-by-line parser.
// Each node's printed type is checked against its op's shape rule; errors are "line N: ...".
#include "ir/printer.hpp"
#include "ir/text_format.hpp"
#include <charconv>
#include <cstdint>
#include <fmt/format.h>

namespace kiln {

namespace {

struct ParseError {
  std::string msg;
};

[[noreturn]] void fail(std::string msg) { throw ParseError{std::move(msg)}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

// A cursor over one line. A '#' outside a string starts the line's comment.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\r')) ++p_;
  }
  bool at_end() {
    ws();
    return p_ >= s_.size() || s_[p_] == '#';
  }
  char peek() {
    ws();
    return p_ < s_.size() ? s_[p_] : '\0';
  }
  bool accept(char c) {
    if (peek() != c || c == '\0') return false;
    ++p_;
    return true;
  }
  void expect(char c, std::string_view what) {
    if (!accept(c)) fail(fmt::format("expected '{}' {}, found {}", c, what, found()));
  }
  // What is at the cursor, for messages.
  std::string found() {
    if (at_end()) return "the end of the line";
    std::string_view t = s_.substr(p_, 24);
    size_t stop = t.find_first_of(" \t,)]}", 1);
    return fmt::format("'{}'", t.substr(0, stop));
  }
  // The text after '#' (empty when there is no comment); call when at_end().
  std::string_view comment() const { return p_ < s_.size() ? s_.substr(p_ + 1) : std::string_view{}; }

  std::string ident(std::string_view what) {
    ws();
    if (p_ >= s_.size() || !is_alpha(s_[p_])) fail(fmt::format("expected {}, found {}", what, found()));
    size_t b = p_;
    while (p_ < s_.size() && (is_alpha(s_[p_]) || is_digit(s_[p_]) || s_[p_] == '.')) ++p_;
    return std::string(s_.substr(b, p_ - b));
  }
  bool accept_word(std::string_view w) {
    ws();
    if (s_.substr(p_, w.size()) != w) return false;
    size_t e = p_ + w.size();
    if (e < s_.size() && (is_alpha(s_[e]) || is_digit(s_[e]) || s_[e] == '.')) return false;
    p_ = e;
    return true;
  }
  std::string string_lit(std::string_view what) {
    if (!accept('"')) fail(fmt::format("expected {} (a quoted string), found {}", what, found()));
    std::string out;
    while (true) {
      if (p_ >= s_.size()) fail("unterminated string");
      char c = s_[p_++];
      if (c == '"') return out;
      if (c != '\\') { out += c; continue; }
      if (p_ >= s_.size()) fail("unterminated string");
      char e = s_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'x': {
          unsigned v = 0;
          auto r = p_ + 2 <= s_.size() ? std::from_chars(s_.data() + p_, s_.data() + p_ + 2, v, 16)
                                       : std::from_chars_result{nullptr, std::errc::invalid_argument};
          if (r.ec != std::errc{} || r.ptr != s_.data() + p_ + 2) fail("bad \\x escape in string");
          p_ += 2;
          out += static_cast<char>(v);
          break;
        }
        default: fail(fmt::format("unknown escape '\\{}' in string", e));
      }
    }
  }
  std::string name(std::string_view what) { return peek() == '"' ? string_lit(what) : ident(what); }

  // A number token: [0-9A-Za-z+-.]+ ("1e-08", "-inf", "nan").
  std::string_view token() {
    ws();
    size_t b = p_;
    while (p_ < s_.size() && (is_alpha(s_[p_]) || is_digit(s_[p_]) || s_[p_] == '+' || s_[p_] == '-' || s_[p_] == '.'))
      ++p_;
    return s_.substr(b, p_ - b);
  }
  template <class T>
  T integer(std::string_view what) {
    size_t b = (ws(), p_);
    std::string_view t = token();
    T v{};
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc{} || r.ptr != t.data() + t.size()) {
      p_ = b;
      fail(fmt::format("expected {} (an integer), found {}", what, found()));
    }
    return v;
  }
  double number(std::string_view what) {
    size_t b = (ws(), p_);
    std::string_view t = token();
    double v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc{} || r.ptr != t.data() + t.size()) {
      p_ = b;
      fail(fmt::format("expected {} (a number), found {}", what, found()));
    }
    return v;
  }
  NodeId id_ref(std::string_view what) {
    if (!accept('%')) fail(fmt::format("expected {} (%N), found {}", what, found()));
    if (p_ >= s_.size() || !is_digit(s_[p_])) fail(fmt::format("expected a node number after '%', found {}", found()));
    return integer<NodeId>("a node number");
  }

 private:
  std::string_view s_;
  size_t p_ = 0;
};

// "12:10-12:25" at the end of a comment, after the start, a space or a ':'.
bool parse_range_suffix(std::string_view c, SourceRange& r) {
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t' || c.back() == '\r')) c.remove_suffix(1);
  uint32_t v[4];
  const char seps[3] = {':', '-', ':'};
  for (int k = 3; k >= 0; --k) {
    size_t e = c.size();
    while (!c.empty() && is_digit(c.back())) c.remove_suffix(1);
    if (c.size() == e) return false;
    auto res = std::from_chars(c.data() + c.size(), c.data() + e, v[k]);
    if (res.ec != std::errc{}) return false;
    if (k > 0) {
      if (c.empty() || c.back() != seps[k - 1]) return false;
      c.remove_suffix(1);
    }
  }
  if (!c.empty() && c.back() != ' ' && c.back() != ':') return false;
  r = {v[0], v[1], v[2], v[3]};
  return true;
}

SourceRange line_loc(Cursor& c) {
  SourceRange r;
  parse_range_suffix(c.comment(), r);
  return r;
}

void end_of_line(Cursor& c) {
  if (!c.at_end()) fail(fmt::format("unexpected {}", c.found()));
}

std::vector<int64_t> int_list(Cursor& c, std::string_view what) {
  c.expect('[', what);
  std::vector<int64_t> v;
  if (c.accept(']')) return v;
  do v.push_back(c.integer<int64_t>(what));
  while (c.accept(','));
  c.expect(']', fmt::format("to close {}", what));
  return v;
}

std::vector<double> number_list(Cursor& c) {
  c.expect('[', "before the values");
  std::vector<double> v;
  if (c.accept(']')) return v;
  do v.push_back(c.number("a value"));
  while (c.accept(','));
  c.expect(']', "after the values");
  return v;
}

Init parse_init(Cursor& c) {
  Init in;
  if (c.peek() == '[') {
    in.kind = InitKind::literal;
    in.data = number_list(c);
    return in;
  }
  std::string k = c.ident("an initialiser");
  bool found = false;
  for (int i = 0; i <= static_cast<int>(InitKind::literal); ++i)
    if (init_name(static_cast<InitKind>(i)) == k && static_cast<InitKind>(i) != InitKind::literal) {
      in.kind = static_cast<InitKind>(i);
      found = true;
    }
  if (!found) fail(fmt::format("unknown initialiser '{}'", k));
  if (in.kind == InitKind::constant) {
    c.expect('(', "after constant");
    in.a = c.number("the constant");
    c.expect(')', "after the constant");
  } else if (in.kind == InitKind::normal || in.kind == InitKind::uniform) {
    c.expect('(', fmt::format("after {}", k));
    in.a = c.number(in.kind == InitKind::normal ? "the mean" : "the lower bound");
    c.expect(',', "between the two arguments");
    in.b = c.number(in.kind == InitKind::normal ? "the standard deviation" : "the upper bound");
    c.expect(')', "after the arguments");
  }
  return in;
}

// Element count of a shape, or -1 when it is negative or absurdly large.
int64_t checked_elements(const Shape& s) {
  auto n = checked_num_elements(s);
  return n && *n <= kMaxElements ? *n : -1;
}

void parse_attrs(Cursor& c, const OpRow& row, Attrs& a, bool have_literal) {
  if (c.accept('}')) return;
  uint32_t seen = have_literal ? uint32_t{kInit} : 0u;
  do {
    std::string key = c.ident("an attribute name");
    static const std::pair<std::string_view, uint32_t> bits[] = {{"axes", kAxes},   {"keepdims", kKeepdims},
                                                                 {"shape", kShape}, {"alpha", kAlpha},
                                                                 {"n", kN},         {"normalize", kNormalize},
                                                                 {"init", kInit}};
    uint32_t bit = 0;
    for (auto& [k, b] : bits)
      if (k == key) bit = b;
    if (!bit) fail(fmt::format("unknown attribute '{}'", key));
    if (!(row.attrs & bit)) fail(fmt::format("{} takes no attribute '{}'", row.name, key));
    if (seen & bit) fail(fmt::format("attribute '{}' is given twice", key));
    seen |= bit;
    if (bit == kKeepdims) { a.keepdims = true; continue; }
    if (bit == kNormalize) { a.normalize = true; continue; }
    c.expect('=', fmt::format("after '{}'", key));
    switch (bit) {
      case kAxes: a.axes = int_list(c, "the axes"); break;
      case kShape: {
        a.shape = int_list(c, "the shape");
        Shape magnitude;  // the rules multiply the dims: keep the product in range
        for (auto d : a.shape) magnitude.push_back(d < 0 ? (d == INT64_MIN ? INT64_MAX : -d) : d);
        if (checked_elements(magnitude) < 0) fail("the shape attribute is too large");
        break;
      }
      case kAlpha: a.alpha = c.number("alpha"); break;
      case kN: a.n = c.integer<int64_t>("n"); break;
      case kInit: a.init = parse_init(c); break;
    }
  } while (c.accept(','));
  c.expect('}', "to close the attributes");
}

bool is_named_leaf(Op op) { return op == Op::input || op == Op::param || op == Op::const_ || op == Op::state; }

class Reader {
 public:
  Graph g;

  void line(Cursor& c) {
    if (!have_header_) return header(c);
    if (c.peek() == '%') return node(c);
    std::string kw = c.ident("a node (%N = ...) or a keyword");
    if (kw == "output") {
      std::string name = c.name("the output's name");
      c.expect('=', "after the output's name");
      g.outputs.emplace_back(std::move(name), ref(c, "the output's node"));
    } else if (kw == "metric") {
      std::string name = c.name("the metric's name");
      c.expect('=', "after the metric's name");
      g.train.metrics.emplace_back(std::move(name), ref(c, "the metric's node"));
    } else if (kw == "train") {
      train(c);
    } else if (kw == "minimize") {
      if (g.train.minimize) fail("a second 'minimize' line");
      g.train.minimize = ref(c, "the loss");
      end_of_line(c);
      g.train.minimize_loc = line_loc(c);
    } else if (kw == "optimizer") {
      optimizer(c);
    } else if (kw == "schedule") {
      schedule(c);
    } else if (kw == "grad") {
      NodeId p = ref(c, "the param");
      c.expect('=', "after the param");
      g.grads.emplace_back(p, ref(c, "the gradient"));
    } else if (kw == "update") {
      NodeId t = ref(c, "the updated leaf");
      c.expect('=', "after the updated leaf");
      g.updates.push_back({t, ref(c, "the new value")});
    } else if (kw == "inputs" || kw == "params" || kw == "consts" || kw == "states") {
      int k = kw == "inputs" ? 0 : kw == "params" ? 1 : kw == "consts" ? 2 : 3;
      if (explicit_[k]) fail(fmt::format("a second '{}' line", kw));
      explicit_[k] = true;
      std::vector<NodeId>& v = *lists()[k];
      if (!c.at_end()) do v.push_back(ref(c, "a leaf"));
        while (c.accept(','));
    } else {
      fail(fmt::format("unknown keyword '{}'", kw));
    }
    end_of_line(c);
  }

  void finish(uint32_t last_line) {
    if (!have_header_) throw ParseError{fmt::format("line {}: missing the 'model NAME' header", last_line)};
    Op ops[4] = {Op::input, Op::param, Op::const_, Op::state};
    for (int k = 0; k < 4; ++k)
      if (!explicit_[k])
        for (size_t i = 0; i < g.nodes.size(); ++i)
          if (g.nodes[i].op == ops[k]) lists()[k]->push_back(static_cast<NodeId>(i));
  }

 private:
  bool have_header_ = false, explicit_[4] = {};

  std::vector<NodeId>* const* lists() {
    lists_[0] = &g.inputs, lists_[1] = &g.params, lists_[2] = &g.consts, lists_[3] = &g.states;
    return lists_;
  }
  std::vector<NodeId>* lists_[4];

  NodeId ref(Cursor& c, std::string_view what) {
    NodeId id = c.id_ref(what);
    if (id < 0 || static_cast<size_t>(id) >= g.nodes.size()) fail(fmt::format("%{} is not a node defined above", id));
    return id;
  }

  void header(Cursor& c) {
    if (!c.accept_word("model")) fail(fmt::format("expected the header 'model NAME ...', found {}", c.found()));
    g.model_name = c.name("the model's name");
    bool file = false, batch = false;
    while (!c.at_end()) {
      std::string key = c.ident("'file=' or 'batch='");
      c.expect('=', fmt::format("after '{}'", key));
      if (key == "file" && !file) {
        g.file = c.string_lit("the file's path");
        file = true;
      } else if (key == "batch" && !batch) {
        g.batch = c.integer<int64_t>("the batch size");
        batch = true;
      } else {
        fail(fmt::format("unexpected header field '{}'", key));
      }
    }
    have_header_ = true;
  }

  void node(Cursor& c) {
    NodeId id = c.id_ref("a node");
    if (static_cast<size_t>(id) != g.nodes.size())
      fail(fmt::format("expected node %{} (nodes are numbered in order), found %{}", g.nodes.size(), id));
    c.expect(':', "after the node number");
    ValueType ty;
    std::string dt = c.ident("an element type");
    if (dt == "f32") ty.dtype = DType::f32;
    else if (dt == "f64") ty.dtype = DType::f64;
    else if (dt == "i32") ty.dtype = DType::i32;
    else fail(fmt::format("unknown element type '{}'", dt));
    if (c.peek() == '[') ty.shape = int_list(c, "the shape");
    if (checked_elements(ty.shape) < 0) fail("the shape has a negative or too large dimension");
    c.expect('=', "after the type");
    std::string opname = c.ident("an op");
    const OpRow* row = find_op(opname);
    if (!row) fail(fmt::format("unknown op '{}'", opname));

    Node n{row->op, ty.dtype, ty.shape, {}, {}, {}, {}};
    bool have_literal = false;
    if (is_named_leaf(n.op)) {
      n.name = c.string_lit(fmt::format("the {}'s name", opname));
    } else if (n.op == Op::literal) {
      char p = c.peek();
      if (p == '[' || (!c.at_end() && p != '{' && p != ';')) {
        n.attrs.init.kind = InitKind::literal;
        if (p == '[') n.attrs.init.data = number_list(c);
        else n.attrs.init.data = {c.number("the literal's value")};
        have_literal = true;
      }
    } else if (c.peek() == '%') {
      do n.in.push_back(c.id_ref("an operand"));
      while (c.accept(','));
    }
    if (c.accept('{')) parse_attrs(c, *row, n.attrs, have_literal);
    if (c.accept(';')) {
      if (is_named_leaf(n.op)) fail(fmt::format("'{}' is named by its quoted name, not by '; name'", opname));
      n.name = c.name("the node's name");
    }
    end_of_line(c);
    n.loc = line_loc(c);

    if (row->cls == OpClass::leaf) {
      const Init& in = n.attrs.init;
      if (in.kind == InitKind::literal && static_cast<int64_t>(in.data.size()) != checked_elements(n.shape))
        fail(fmt::format("the {} has {} values but its type {} holds {}", opname, in.data.size(),
                         type_str(n.dtype, n.shape), checked_elements(n.shape)));
      g.append(std::move(n));
      return;
    }
    size_t k = n.in.size();
    if (row->arity >= 0 ? k != static_cast<size_t>(row->arity) : k == 0)
      fail(row->arity >= 0 ? fmt::format("{} takes {} operand{}, got {}", opname, row->arity, row->arity == 1 ? "" : "s", k)
                           : fmt::format("{} takes at least one operand", opname));
    for (NodeId i : n.in)
      if (i < 0 || i >= id) fail(fmt::format("operand %{} is not defined before %{}", i, id));
    std::string err;
    auto got = g.add(n.op, n.in, n.attrs, n.loc, err);
    if (!got) fail(fmt::format("{}: {}", opname, err));
    Node& made = g.nodes.back();
    if (made.type() != ty) {
      std::string inferred = type_str(made.dtype, made.shape);
      fail(fmt::format("%{} is written as {} but {} gives {}", id, type_str(ty.dtype, ty.shape), opname, inferred));
    }
    made.name = std::move(n.name);
  }

  void train(Cursor& c) {
    TrainConfig& t = g.train;
    if (t.present) fail("a second 'train' line");
    t.present = true;
    bool seen[3] = {};
    while (!c.at_end()) {
      std::string key = c.ident("'epochs=', 'seed=' or 'clip_norm='");
      c.expect('=', fmt::format("after '{}'", key));
      int k = key == "epochs" ? 0 : key == "seed" ? 1 : key == "clip_norm" ? 2 : -1;
      if (k < 0 || seen[k]) fail(fmt::format("unexpected train field '{}'", key));
      seen[k] = true;
      if (k == 0) t.epochs = c.integer<int64_t>("the number of epochs");
      else if (k == 1) t.seed = c.integer<uint64_t>("the seed");
      else t.clip_norm = c.number("clip_norm");
    }
    t.loc = line_loc(c);
  }

  // KIND or KIND(key=value, ...); calls set(key) to read each value.
  template <class Kind, class Set>
  void spec(Cursor& c, Kind& kind, std::string_view what, const std::vector<KindRow>& rows, Set set) {
    const std::string name = c.name(what);
    bool known = false;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].name == name) kind = Kind(i), known = true;
    if (!known) fail(fmt::format("unknown {} '{}'", what.substr(what.find(' ') + 1), name));
    if (!c.accept('(')) return;
    if (c.accept(')')) return;
    std::vector<std::string> seen;
    do {
      std::string key = c.ident("a setting");
      for (auto& s : seen)
        if (s == key) fail(fmt::format("setting '{}' is given twice", key));
      seen.push_back(key);
      c.expect('=', fmt::format("after '{}'", key));
      if (!set(key)) fail(fmt::format("unknown setting '{}'", key));
    } while (c.accept(','));
    c.expect(')', "to close the settings");
  }

  void optimizer(Cursor& c) {
    if (have_optimizer_) fail("a second 'optimizer' line");
    have_optimizer_ = true;
    OptimizerSpec& o = g.train.optimizer;
    spec(c, o.kind, "the optimizer", optimizer_rows(), [&](const std::string& k) {
      double* f = k == "lr" ? &o.lr : k == "momentum" ? &o.momentum : k == "beta1" ? &o.beta1
                : k == "beta2" ? &o.beta2 : k == "eps" ? &o.eps : k == "weight_decay" ? &o.weight_decay
                : k == "rho" ? &o.rho : nullptr;
      if (f) { *f = c.number(k); return true; }
      if (k != "nesterov") return false;
      if (c.accept_word("true")) o.nesterov = true;
      else if (c.accept_word("false")) o.nesterov = false;
      else fail(fmt::format("expected true or false, found {}", c.found()));
      return true;
    });
    end_of_line(c);
    o.loc = line_loc(c);
  }

  void schedule(Cursor& c) {
    if (have_schedule_) fail("a second 'schedule' line");
    have_schedule_ = true;
    ScheduleSpec& s = g.train.schedule;
    spec(c, s.kind, "the schedule", schedule_rows(), [&](const std::string& k) {
      if (k == "rate") s.rate = c.number("the rate");
      else if (k == "every") s.every = c.integer<int64_t>("every");
      else if (k == "total") s.total = c.integer<int64_t>("total");
      else return false;
      return true;
    });
    end_of_line(c);
    s.loc = line_loc(c);
  }

  bool have_optimizer_ = false, have_schedule_ = false;
};

}  // namespace

std::optional<Graph> parse_ir_text(std::string_view text, std::string& err) {
  Reader r;
  uint32_t line_no = 0;
  try {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t e = text.find('\n', pos);
      if (e == std::string_view::npos) e = text.size();
      ++line_no;
      Cursor c(text.substr(pos, e - pos));
      pos = e + 1;
      if (c.at_end()) continue;
      r.line(c);
    }
    r.finish(line_no == 0 ? 1 : line_no);
  } catch (const ParseError& e) {
    err = e.msg.rfind("line ", 0) == 0 ? e.msg : fmt::format("line {}: {}", line_no, e.msg);
    return std::nullopt;
  }
  return std::move(r.g);
}

}  // namespace kiln
