// HostBuffers: aligned host memory for a compiled graph's buffer table and arena, with
// conversions from and to the interpreter's tensors.
#include "backend/codegen.hpp"
#include "passes/monitor_ir.hpp"
#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <fmt/format.h>
#include <new>

namespace kiln::backend {

static size_t rounded(int64_t bytes) { return size_t(std::max<int64_t>((bytes + 63) / 64 * 64, 64)); }

// One zeroed block: first the run-time monitors' quantities (scalar f32 metrics named
// kMonitorPrefix...), 4 bytes apart in metric order, one row that the monitor copies
// in 16-byte pieces after each step (Engine::metric_row; what follows the row is still
// in the block); then the other small buffers (the loss, metrics, tiny params) packed
// at 16-byte steps, so that a step touches a few cache lines for all of them rather
// than one each; then every other buffer and the arena at 64-byte aligned offsets. The
// block is page-aligned: the placement, down to each buffer's offset in its page (hence
// the step's speed: a small model's step varied by 7% with it), depends on the graph
// alone, not on what the allocator did before.
HostBuffers::HostBuffers(const CompiledGraph& cg) : cg_(cg) {
  const auto& specs = cg.buffers();
  auto in_row = [](const BufferSpec& s) {
    return s.kind == BufferKind::metric && s.dtype == DType::f32 && s.shape.empty() &&
           std::string_view(s.name).starts_with(kMonitorPrefix);
  };
  auto small = [](const BufferSpec& s) { return s.bytes() <= kSmall; };
  size_t row = 0, packed = 0;
  for (const BufferSpec& s : specs)
    if (in_row(s)) row += sizeof(float);
    else if (small(s)) packed += size_t(kSmall);
  row = (row + size_t(kSmall) - 1) / size_t(kSmall) * size_t(kSmall);
  size_t total = rounded(int64_t(row + packed)) + rounded(cg.arena_bytes());
  for (const BufferSpec& s : specs)
    if (!in_row(s) && !small(s)) total += rounded(s.bytes());
  block_ = std::aligned_alloc(4096, (total + 4095) / 4096 * 4096);
  if (!block_) throw std::bad_alloc();  // more than the system grants (the memory limit let it through)
  std::memset(block_, 0, total);
  char* r = static_cast<char*>(block_);
  char* p = r + row;
  char* big = r + rounded(int64_t(row + packed));
  for (const BufferSpec& s : specs) {
    if (in_row(s)) {
      ptrs_.push_back(r), r += sizeof(float);
    } else if (small(s)) {
      ptrs_.push_back(p), p += kSmall;
    } else {
      ptrs_.push_back(big), big += rounded(s.bytes());
    }
  }
  ptrs_.push_back(big);
}

HostBuffers::~HostBuffers() { std::free(block_); }

void HostBuffers::set(size_t i, const Tensor& t) {
  const BufferSpec& s = cg_.buffers()[i];
  assert(int64_t(t.data.size()) == num_elements(s.shape) && "HostBuffers::set: wrong number of elements");
  size_t n = std::min<size_t>(t.data.size(), size_t(num_elements(s.shape)));
  for (size_t j = 0; j < n; ++j) switch (s.dtype) {
      case DType::f32: static_cast<float*>(ptrs_[i])[j] = float(t.data[j]); break;
      case DType::f64: static_cast<double*>(ptrs_[i])[j] = t.data[j]; break;
      case DType::i32: static_cast<int32_t*>(ptrs_[i])[j] = int32_t(t.data[j]); break;
    }
}

Tensor HostBuffers::get(size_t i) const {
  const BufferSpec& s = cg_.buffers()[i];
  Tensor t(s.dtype, s.shape);
  for (size_t j = 0; j < t.data.size(); ++j) switch (s.dtype) {
      case DType::f32: t.data[j] = static_cast<const float*>(ptrs_[i])[j]; break;
      case DType::f64: t.data[j] = static_cast<const double*>(ptrs_[i])[j]; break;
      case DType::i32: t.data[j] = static_cast<const int32_t*>(ptrs_[i])[j]; break;
    }
  return t;
}

bool HostBuffers::set_leaves(const ValueMap& leaves, std::string& err, bool inputs_optional) {
  for (size_t i = 0; i < cg_.buffers().size(); ++i) {
    const BufferSpec& s = cg_.buffers()[i];
    if (s.kind > BufferKind::state) continue;
    auto it = leaves.find(s.name);
    if (it == leaves.end()) {
      if (s.kind == BufferKind::input && inputs_optional) continue;
      err = fmt::format("no value for {} '{}'", buffer_kind_name(s.kind), s.name);
      return false;
    }
    if (it->second.shape != s.shape) {
      err = fmt::format("{} '{}' is {}, expected {}", buffer_kind_name(s.kind), s.name,
                        type_str(it->second.dtype, it->second.shape), type_str(s.dtype, s.shape));
      return false;
    }
    set(i, it->second);
  }
  return true;
}

void HostBuffers::get_state(ValueMap& leaves) const {
  for (size_t i = 0; i < cg_.buffers().size(); ++i) {
    const BufferSpec& s = cg_.buffers()[i];
    if (s.kind == BufferKind::param || s.kind == BufferKind::state) leaves[s.name] = get(i);
  }
}

}  // namespace kiln::backend
