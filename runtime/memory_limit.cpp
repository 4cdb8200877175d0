// The memory limit (runtime/memory_limit.hpp): the process's limit and size parsing, which
// the data readers use (the check of a graph against it, which needs the backend's buffer
// table and plans, is runtime/memory_check.cpp).
#include "runtime/memory_limit.hpp"
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace kiln {

namespace {
std::atomic<uint64_t> g_limit{0};
std::atomic<bool> g_limit_set{false};
}  // namespace

uint64_t physical_memory_bytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return uint64_t(pages) * uint64_t(page);
}

uint64_t memory_limit() { return g_limit_set.load() ? g_limit.load() : physical_memory_bytes(); }

void set_memory_limit(uint64_t bytes) {
  g_limit.store(bytes);
  g_limit_set.store(true);
}

std::optional<uint64_t> parse_memory_size(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.')) ++i;
  std::string number(t.substr(0, i));
  std::string unit(t.substr(i));
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (number.empty() || number.find_first_of("0123456789") == std::string::npos ||
      number.find('.') != number.rfind('.'))
    return std::nullopt;
  static const std::pair<const char*, int> units[] = {{"", 0}, {"B", 0}, {"K", 10}, {"KB", 10}, {"KIB", 10},
                                                      {"M", 20}, {"MB", 20}, {"MIB", 20}, {"G", 30}, {"GB", 30},
                                                      {"GIB", 30}, {"T", 40}, {"TB", 40}, {"TIB", 40}};
  for (auto& [name, shift] : units) {
    if (unit != name) continue;
    double v = std::strtod(number.c_str(), nullptr) * std::ldexp(1.0, shift);
    if (!(v >= 1) || v > std::ldexp(1.0, 62)) return std::nullopt;
    return uint64_t(v);
  }
  return std::nullopt;
}

}  // namespace kiln
