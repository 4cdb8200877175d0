// HostBuffers: aligned host memory for a compiled graph's buffer table and arena, with
// conversions from and to the interpreter's tensors.
#include "backend/codegen.hpp"
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace kiln::backend {

static void* alloc_zeroed(int64_t bytes) {
  size_t n = size_t(std::max<int64_t>((bytes + 63) / 64 * 64, 64));
  void* p = std::aligned_alloc(64, n);
  std::memset(p, 0, n);
  return p;
}

HostBuffers::HostBuffers(const CompiledGraph& cg) : cg_(cg) {
  for (const BufferSpec& s : cg.buffers()) ptrs_.push_back(alloc_zeroed(s.bytes()));
  ptrs_.push_back(alloc_zeroed(cg.arena_bytes()));
}

HostBuffers::~HostBuffers() {
  for (void* p : ptrs_) std::free(p);
}

void HostBuffers::set(size_t i, const Tensor& t) {
  const BufferSpec& s = cg_.buffers()[i];
  for (size_t j = 0; j < t.data.size(); ++j) switch (s.dtype) {
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
