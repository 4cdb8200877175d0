// A small strict JSON reader (RFC 8259, bounded nesting, located errors): safetensors
// headers, and the tests that read kiln's JSON, SARIF and JSONL output.
#include "runtime/json.hpp"
#include <cstdlib>
#include <fmt/format.h>
#include <set>

namespace kiln {

Json::~Json() = default;

const Json* Json::get(std::string_view key) const {
  for (auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  static const Json missing;
  const Json* v = get(key);
  return v ? *v : missing;
}

double Json::num() const { return kind == number ? std::strtod(text.c_str(), nullptr) : 0.0; }

namespace {

class JsonParser {
 public:
  JsonParser(std::string_view s, size_t base, int max_depth) : s_(s), base_(base), max_depth_(max_depth) {}
  bool parse(Json& out) {
    ws();
    if (!value(out, 0)) return false;
    ws();
    if (i_ != s_.size()) return error("unexpected text after the JSON object");
    return true;
  }
  const std::string& error_message() const { return err_; }

 private:
  std::string_view s_;
  size_t base_, i_ = 0;
  int max_depth_;
  std::string err_;

  bool error(std::string_view what) {
    if (err_.empty()) err_ = fmt::format("at byte {}: {}", base_ + i_, what);
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return error("invalid literal");
    i_ += w.size();
    return true;
  }
  bool value(Json& v, int depth) {
    if (depth > max_depth_) return error("nesting too deep");
    if (i_ >= s_.size()) return error("unexpected end of the text");
    char c = s_[i_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v.kind = Json::string;
      return str(v.text);
    }
    if (c == 't' || c == 'f') {
      v.kind = Json::boolean;
      v.text = c == 't' ? "true" : "false";
      return lit(v.text);
    }
    if (c == 'n') {
      v.kind = Json::null;
      return lit("null");
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    return error(fmt::format("unexpected character '{}'", c));
  }
  bool number(Json& v) {
    size_t start = i_;
    auto digits = [&] {
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > d;
    };
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
      if (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') return error("leading zero in a number");
    } else if (!digits()) {
      return error("expected digits");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return error("expected digits after '.'");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return error("expected digits in the exponent");
    }
    v.kind = Json::number;
    v.text = std::string(s_.substr(start, i_ - start));
    return true;
  }
  bool hex4(uint32_t& cp) {
    if (i_ + 4 > s_.size()) return error("truncated \\u escape");
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= uint32_t(h - 'A' + 10);
      else return error("bad hex digit in a \\u escape");
    }
    return true;
  }
  // The length of the well-formed UTF-8 sequence that starts `s` (a non-ASCII lead byte),
  // or 0: no overlong forms, surrogates or code points past U+10FFFF.
  static size_t utf8_length(std::string_view s) {
    auto b = [&](size_t k) { return k < s.size() ? uint8_t(s[k]) : 0; };
    uint8_t c = b(0);
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0) return 0;
    for (size_t k = 1; k < len; ++k)
      if ((b(k) & 0xC0) != 0x80) return 0;
    uint8_t c1 = b(1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
      return 0;
    return len;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  bool str(std::string& out) {
    ++i_;  // opening quote
    out.clear();
    for (;;) {
      if (i_ >= s_.size()) return error("unterminated string");
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (uint8_t(c) < 0x20) return error("control character in a string");
      if (uint8_t(c) >= 0x80) {  // RFC 8259 8.1: the text is UTF-8
        size_t n = utf8_length(s_.substr(i_));
        if (n == 0) return error("invalid UTF-8 in a string");
        out.append(s_.substr(i_, n));
        i_ += n;
        continue;
      }
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      if (++i_ >= s_.size()) return error("unterminated string");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            uint32_t lo;
            if (s_.substr(i_, 2) != "\\u") return error("unpaired surrogate in a \\u escape");
            i_ += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo >= 0xE000) return error("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return error("unpaired surrogate in a \\u escape");
          }
          utf8(out, cp);
          break;
        }
        default: --i_; return error("invalid escape in a string");
      }
    }
  }
  bool array(Json& v, int depth) {
    v.kind = Json::array;
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      ws();
      v.items.emplace_back();
      if (!value(v.items.back(), depth + 1)) return false;
      ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      return error("expected ',' or ']'");
    }
  }
  bool object(Json& v, int depth) {
    v.kind = Json::object;
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    std::set<std::string> seen;
    for (;;) {
      ws();
      if (i_ >= s_.size() || s_[i_] != '"') return error("expected a string key");
      std::string key;
      size_t key_at = i_;
      if (!str(key)) return false;
      if (!seen.insert(key).second) {
        i_ = key_at;
        return error(fmt::format("duplicate key '{}'", key));
      }
      ws();
      if (i_ >= s_.size() || s_[i_] != ':') return error("expected ':'");
      ++i_;
      ws();
      v.members.emplace_back(std::move(key), Json{});
      if (!value(v.members.back().second, depth + 1)) return false;
      ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      return error("expected ',' or '}'");
    }
  }
};


}  // namespace

bool parse_json(std::string_view s, Json& out, std::string& err, size_t base, int max_depth) {
  JsonParser p(s, base, max_depth);
  if (p.parse(out)) return true;
  err = p.error_message();
  return false;
}

}  // namespace kiln
